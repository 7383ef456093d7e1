// The mount daemon: serves one merged view over FUSE until it is unmounted. It never touches its
// own mountpoint with a blocking call (that would deadlock it); it learns of an unmount from the
// mount table. SIGTERM/SIGINT unmount cleanly (lazily if busy, serving open files until closed).
import fs from 'node:fs';
import os from 'node:os';
import { Union } from '../union/union.js';
import { serveKernel } from './kernel/serve.js';
import { connectionDir, findMount, unmount, UnmountError } from './mounts.js';
import type { MountSpec } from './preflight.js';
import { openIndex, chainReader, prepareChain } from '../index/mount-index.js';
import type { Progress } from '../index/layer-index.js';
import type { ChainReader } from '../index/chain-reader.js';
import { INIT } from './kernel/protocol.js';
import { listenControl, realMountpoint, type ControlServer } from './control.js';
import { TraceFile } from './trace-file.js';
import { clearVolatile, markVolatile } from '../union/volatile.js';

export interface DaemonOptions {
  /** Where to report "ready" or the error that stopped the mount (the parent's pipe). */
  readyFd?: number;
  debug?: boolean;
  /** Kernel cache timeouts in seconds (entry and attribute); see README "Caching". */
  entryTimeout?: number;
  attrTimeout?: number;
  /** Answer lower-layer lookups from the LMDB path index (default); false probes every layer. */
  index?: boolean;
  /** 'kernel' (default): our own FUSE protocol code on /dev/fuse; 'fuse-native': libfuse 2's path API. */
  transport?: Transport;
  /** Speed features of the kernel transport, each on by default but writeback (off switches for the bench). */
  readdirplus?: boolean;
  /** READDIRPLUS_AUTO: the kernel picks plus or plain per listing chunk (default: always plus). */
  readdirplusAuto?: boolean;
  keepCache?: boolean;
  writebackCache?: boolean;
  passthrough?: boolean;
  /** Write one JSON line per copy-up and whiteout to this file (see trace-file.ts). */
  trace?: string;
  /** Make nothing durable, as overlayfs's `volatile` (see union/volatile.ts). */
  volatile?: boolean;
  /** Kernel transport: keep reading /dev/fuse this many µs after a reply before sleeping (see Session.drain). */
  busyPollUs?: number;
}

/** The default busy poll: long enough to catch a serial client's next request, short enough to cost little when it does not come. */
export const BUSY_POLL_US = 50;

/** The busy poll in force: none on a single CPU, where spinning would keep the client from running. */
export function busyPollOf(asked: number | undefined): number {
  return os.availableParallelism() < 2 ? 0 : Math.max(0, asked ?? BUSY_POLL_US);
}

/** The transport's part of what `strata stats` reports: the cache settings in force, and its tables. */
type Facts = () => Record<string, unknown>;

export type Transport = 'kernel' | 'fuse-native';

/** Cache lifetimes of the kernel transport: lowers never change and every change comes through the mount. */
export const LONG_TIMEOUT = 1e6;

/**
 * The chain index of the lower dirs, built or checked now. A mount without one still works, by
 * probing every layer, so any failure here is a warning, never a failed mount.
 */
function openChain(spec: MountSpec, warn: (msg: string) => void, progress: Progress): ChainReader | null {
  try {
    const db = openIndex(undefined, warn);
    const chain = prepareChain(db, spec.lowers, progress);
    return chainReader(db, chain.chainId, spec.upper ? 1 : 0);
  } catch (err) {
    warn(`mounting without the path index: ${(err as Error).message}`);
    return null;
  }
}

export function fuseOptions(spec: MountSpec, opts: DaemonOptions) {
  const entry = opts.entryTimeout ?? 1;
  const attr = opts.attrTimeout ?? 1;
  const extra = [
    'use_ino', // our own stable inode numbers reach stat(2)
    'big_writes', // 128 KiB write requests instead of 4 KiB
    'max_write=131072',
    // Keep file pages across opens unless the file changed (libfuse compares mtime and size on
    // open). Not kernel_cache: libfuse 2's path API gives each name of a hard link its own kernel
    // inode, so a write through one name must invalidate the pages cached under another.
    'auto_cache',
    `entry_timeout=${entry}`,
    `negative_timeout=${entry}`,
    `attr_timeout=${attr}`,
  ];
  if (!spec.upper) extra.push('ro');
  return {
    fsname: 'strata',
    subtype: 'strata',
    allowOther: true, // every user of the host can use the mount ...
    defaultPermissions: true, // ... and the kernel checks their access from our modes and owners
    debug: !!opts.debug,
    timeout: false,
    extraOptions: extra,
  };
}

export function serve(spec: MountSpec, opts: DaemonOptions = {}): void {
  // The parent's pipe carries "progress …" and "warn …" lines, then "ready" or "error: …".
  const say = (line: string) => {
    if (opts.readyFd === undefined) return process.stderr.write(line.startsWith('warn ') ? `strata: ${line.slice(5)}\n` : '');
    try {
      fs.writeSync(opts.readyFd, line + '\n');
    } catch {
      /* parent gone */
    }
  };
  const ready = (msg: string) => {
    if (opts.readyFd === undefined) {
      if (msg.startsWith('error: ')) process.stderr.write(`strata: ${msg.slice(7)}\n`);
      return;
    }
    say(msg);
    try {
      fs.closeSync(opts.readyFd);
    } catch {
      /* already closed */
    }
    opts.readyFd = undefined;
  };
  const warn = (msg: string) => say('warn ' + msg);
  process.umask(0);
  let union: Union;
  let trace: TraceFile | null = null;
  try {
    const chain = opts.index === false ? null : openChain(spec, warn, (what, n) => say(`progress ${what}\t${n}`));
    const maxIno = opts.transport === 'fuse-native' ? 0xffffffff : Number.MAX_SAFE_INTEGER;
    const volatile = !!opts.volatile && !!spec.upper;
    union = new Union({ lowers: spec.lowers, upper: spec.upper, work: spec.work, maxIno, volatile }, chain, (err) =>
      warn(`the path index failed (${err.message}): probing the layers on disk from now on`),
    );
    union.prepareWork();
    if (volatile) markVolatile(spec.work!);
    union.resolver.get('/');
    if (opts.trace) trace = new TraceFile(opts.trace, union.stats);
  } catch (err) {
    ready('error: ' + ((err as Error).message || String(err)));
    process.exitCode = 1;
    return;
  }
  let facts: Facts = () => ({});
  const control = controlFor(spec, union, trace, () => facts(), warn);
  process.on('exit', () => {
    trace?.closeSync(); // the last lines, at unmount
    control?.close();
    // A volatile mount that ends here (not killed): its upper dir synced, then its mark removed.
    if (union.stack.volatile && !clearVolatile(spec.work!, spec.upper!))
      process.stderr.write(`strata: syncing ${spec.upper} failed: its --volatile mark stays\n`);
  });
  const setFacts = (f: Facts) => (facts = f);
  if (opts.transport === 'fuse-native') void serveFuseNative(spec, opts, union, ready, setFacts);
  else serveOwn(spec, opts, union, ready, setFacts);
  const stop = () => {
    if (!findMount(spec.mountpoint)) process.exit(0); // already unmounted (or aborted): nothing to serve
    try {
      unmount(spec.mountpoint);
    } catch (e) {
      if (e instanceof UnmountError && e.code === 'in-use') {
        process.stderr.write(`strata: ${spec.mountpoint} is busy; detaching it and serving open files until they close\n`);
        unmount(spec.mountpoint, { lazy: true });
      }
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The control socket (`strata stats`): the union's counters with the daemon's facts; a mount without one still serves. */
function controlFor(spec: MountSpec, union: Union, trace: TraceFile | null, facts: Facts, warn: (msg: string) => void): ControlServer | null {
  const mountpoint = realMountpoint(spec.mountpoint);
  const describe = () => ({
    mountpoint,
    pid: process.pid,
    ...facts(),
    ...union.stats.snapshot(),
    openHandles: union.handles.size,
    trace: trace?.status() ?? null,
    rssBytes: process.memoryUsage.rss(),
  });
  try {
    return listenControl(mountpoint, describe, warn);
  } catch (err) {
    warn(`no control socket, so strata stats cannot read this mount: ${(err as Error).message}`);
    return null;
  }
}

function serveOwn(spec: MountSpec, opts: DaemonOptions, union: Union, ready: (msg: string) => void, setFacts: (f: Facts) => void): void {
  const entry = opts.entryTimeout ?? LONG_TIMEOUT;
  const busyPollUs = busyPollOf(opts.busyPollUs);
  try {
    const { ops, session } = serveKernel(
      union,
      spec.mountpoint,
      {
        entry,
        attr: opts.attrTimeout ?? entry,
        negative: entry,
        keepCache: opts.keepCache !== false,
        readdirplus: opts.readdirplus !== false,
        readdirplusAuto: !!opts.readdirplusAuto,
        writebackCache: !!opts.writebackCache,
        passthrough: opts.passthrough !== false,
        readOnly: !spec.upper,
        busyPollUs,
        maxWrite: 1 << 20,
        debug: opts.debug,
        log: (line) => process.stderr.write(`strata: ${line}\n`),
      },
      () => {
        union.close();
        process.exit(0);
      },
    );
    // What the kernel agreed to at INIT is what is in force (before INIT: what is asked for).
    const has = (flag: bigint, asked: boolean) => (session.negotiated ? (session.negotiated.flags & flag) !== 0n : asked);
    setFacts(() => ({
      settings: {
        transport: 'kernel',
        index: union.resolver.indexed,
        entryTimeout: entry,
        attrTimeout: opts.attrTimeout ?? entry,
        negativeTimeout: entry,
        readdirplus: has(INIT.DO_READDIRPLUS, opts.readdirplus !== false),
        readdirplusAuto: has(INIT.READDIRPLUS_AUTO, opts.readdirplus !== false && !!opts.readdirplusAuto),
        keepCache: opts.keepCache !== false,
        writebackCache: has(INIT.WRITEBACK_CACHE, !!opts.writebackCache),
        passthrough: has(INIT.PASSTHROUGH, opts.passthrough !== false && !opts.writebackCache),
        readOnly: !spec.upper,
        volatile: union.stack.volatile,
        busyPollUs,
        busyPoll: { ...session.busyPoll },
        fuseProtocol: session.negotiated ? `7.${session.negotiated.minor}` : null,
      },
      nodes: ops.nodes.size,
    }));
    // SIGUSR2: the daemon's table sizes on its log (tests watch FORGET keep the node table bounded).
    process.on('SIGUSR2', () =>
      process.stderr.write(
        `strata: nodes ${ops.nodes.size}, open files ${union.handles.size}, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB, heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB\n`,
      ),
    );
  } catch (err) {
    ready(`error: cannot mount on ${spec.mountpoint}: ${(err as Error).message}`);
    process.exit(1);
  }
  ready('ready');
}

/** libfuse 2 through fuse-native, loaded only when asked for. */
async function serveFuseNative(spec: MountSpec, opts: DaemonOptions, union: Union, ready: (msg: string) => void, setFacts: (f: Facts) => void): Promise<void> {
  const { default: Fuse } = await import('fuse-native');
  const { fuseOps } = await import('./ops.js');
  const entry = opts.entryTimeout ?? 1;
  const settings = {
    transport: 'fuse-native',
    entryTimeout: entry,
    attrTimeout: opts.attrTimeout ?? 1,
    negativeTimeout: entry,
    readdirplus: false,
    keepCache: 'auto_cache',
    writebackCache: false,
    passthrough: false,
    readOnly: !spec.upper,
    volatile: union.stack.volatile,
  };
  setFacts(() => ({ settings: { ...settings, index: union.resolver.indexed } }));
  const fuse = new Fuse(spec.mountpoint, fuseOps(union), fuseOptions(spec, opts));
  fuse.mount((err: Error | null) => {
    if (err) {
      ready(`error: cannot mount on ${spec.mountpoint}: ${err.message}`);
      process.exit(1);
    }
    ready('ready');
    watch(spec.mountpoint, union);
  });
}

/**
 * Exit once the mount is gone from the table and either no file is open any more (a lazy detach
 * still serves open files) or the FUSE connection itself is gone (aborted: no release will come).
 */
function watch(mountpoint: string, union: Union): void {
  const m = findMount(mountpoint);
  const conn = m ? connectionDir(m) : null;
  const timer = setInterval(() => {
    if (findMount(mountpoint)) return;
    if (union.handles.size > 0 && conn && fs.existsSync(conn)) return;
    clearInterval(timer);
    union.handles.closeAll();
    process.exit(0);
  }, 200);
}
