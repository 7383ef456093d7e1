// `strata mount` / `strata umount`, and the mount.fuse form (`strata SOURCE MOUNTPOINT -o OPTS`).
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { preflight, MountError, type MountSpec } from '../fuse/preflight.js';
import { fatal } from './fatal.js';
import { unmount, UnmountError } from '../fuse/mounts.js';
import { progressLine } from './progress.js';
import { startDaemon } from '../fuse/start-daemon.js';
import type { Transport } from '../fuse/daemon.js';

interface MountFlags {
  lower?: string;
  upper?: string;
  work?: string;
  foreground?: boolean;
  o?: string[];
  log?: string;
  debug?: boolean;
  entryTimeout?: string;
  attrTimeout?: string;
  index?: boolean;
  transport?: string;
  readdirplus?: boolean;
  readdirplusAuto?: boolean;
  keepCache?: boolean;
  writebackCache?: boolean;
  passthrough?: boolean;
  trace?: string;
  volatile?: boolean;
  busyPoll?: string;
}

/** lowerdir=A:B,upperdir=U,workdir=W (overlayfs's option names) into a spec. */
export function parseMountOptions(opts: string[]): Partial<MountSpec> & { ro?: boolean; volatile?: boolean } {
  const out: Partial<MountSpec> & { ro?: boolean; volatile?: boolean } = {};
  for (const o of opts.flatMap((s) => s.split(','))) {
    const [k, v] = o.split(/=(.*)/s, 2);
    if (k === 'lowerdir') out.lowers = v.split(':').filter(Boolean);
    else if (k === 'upperdir') out.upper = v;
    else if (k === 'workdir') out.work = v;
    else if (k === 'ro') out.ro = true;
    else if (k === 'volatile') out.volatile = true;
  }
  return out;
}

export function mountCommand(): Command {
  return new Command('mount')
    .description('mount a merged view of lower dirs (top first) and an optional upper dir')
    .argument('<mountpoint>', 'where to mount (or, without --lower, a container whose merged view to mount)')
    .option('--lower <dirs>', 'lower dirs, top first, separated by ":" (as overlayfs lowerdir)')
    .option('--upper <dir>', 'the writable upper dir (without it the mount is read-only)')
    .option('--work <dir>', 'the work dir, on the same filesystem as the upper dir')
    .option('-o <options>', 'mount options: lowerdir=,upperdir=,workdir=,ro,volatile', (v: string, prev: string[] = []) => [...prev, v])
    .option('-f, --foreground', 'serve in the foreground instead of returning once mounted')
    .option('--log <file>', 'daemon log (background mode)')
    .option('--trace <file>', 'write one JSON line per copy-up and whiteout to FILE (see strata stats for the totals)')
    .option('--transport <name>', 'kernel (our own FUSE protocol code, the default) or fuse-native (libfuse 2)', 'kernel')
    .option('--entry-timeout <s>', 'kernel entry cache timeout in seconds (default: 1e6 with the kernel transport, 1 with fuse-native)')
    .option('--attr-timeout <s>', 'kernel attribute cache timeout in seconds (default as --entry-timeout)')
    .option('--no-readdirplus', 'kernel transport: list dirs without READDIRPLUS (a LOOKUP per entry)')
    .option('--readdirplus-auto', 'kernel transport: let the kernel choose READDIRPLUS or READDIR per listing chunk (default: always READDIRPLUS)')
    .option('--no-keep-cache', 'kernel transport: drop file pages and dir listings at every open')
    .option('--writeback-cache', 'kernel transport: let the kernel cache writes (FUSE writeback cache; turns passthrough off)')
    .option('--no-passthrough', 'kernel transport: serve file data through the daemon instead of handing it to the kernel (FUSE passthrough)')
    .option(
      '--volatile',
      "make nothing durable, as overlayfs's volatile: copy-ups skip their write-out, fsync does nothing; after a crash the upper dir is refused",
    )
    .option(
      '--busy-poll <us>',
      'kernel transport: after a reply, keep reading requests for up to US microseconds before sleeping, while the client comes back that fast (default 50; 0 turns it off)',
    )
    .option('--no-index', 'probe every lower layer on disk instead of answering from the LMDB path index')
    .option('-d, --debug', 'print every FUSE request')
    .action(async (mountpoint: string, flags: MountFlags) => runMount(mountpoint, flags));
}

function parseBusyPoll(value: string): number {
  const us = Number(value);
  if (!/^\d+$/.test(value) || us > 10_000) fatal(`--busy-poll takes a whole number of microseconds from 0 to 10000, not "${value}"`);
  return us;
}

function transportOf(name = 'kernel'): Transport {
  if (name !== 'kernel' && name !== 'fuse-native') fatal(`--transport takes kernel or fuse-native, not "${name}"`);
  return name;
}

async function runMount(mountpoint: string, flags: MountFlags): Promise<void> {
  const fromO = parseMountOptions(flags.o ?? []);
  const busyPollUs = flags.busyPoll === undefined ? undefined : parseBusyPoll(flags.busyPoll);
  // `strata mount CONTAINER`: mount a container's merged view and print where it is.
  if (!flags.lower && !fromO.lowers) return (await import('./container-actions.js')).mountContainer(mountpoint);
  let spec: MountSpec;
  try {
    spec = preflight({
      lowers: flags.lower ? flags.lower.split(':').filter(Boolean) : (fromO.lowers ?? []),
      upper: fromO.ro ? undefined : (flags.upper ?? fromO.upper),
      work: fromO.ro ? undefined : (flags.work ?? fromO.work),
      mountpoint,
    });
  } catch (err) {
    if (err instanceof MountError) fatal(err.message);
    throw err;
  }
  const trace = flags.trace === undefined ? undefined : path.resolve(flags.trace);
  if (trace && (trace + '/').startsWith(spec.mountpoint + '/')) fatal(`the trace file ${trace} must not be inside the mount it traces`);
  const daemonOpts = {
    debug: flags.debug,
    ...(trace ? { trace } : {}),
    ...(flags.entryTimeout !== undefined ? { entryTimeout: Number(flags.entryTimeout) } : {}),
    ...(flags.attrTimeout !== undefined ? { attrTimeout: Number(flags.attrTimeout) } : {}),
    index: flags.index !== false,
    transport: transportOf(flags.transport),
    readdirplus: flags.readdirplus !== false,
    readdirplusAuto: !!flags.readdirplusAuto,
    keepCache: flags.keepCache !== false,
    writebackCache: !!flags.writebackCache,
    passthrough: flags.passthrough !== false,
    ...(flags.volatile || fromO.volatile ? { volatile: true } : {}),
    ...(busyPollUs !== undefined ? { busyPollUs } : {}),
  };
  if (flags.foreground) {
    // Only the daemon loads fuse-native.
    const { serve } = await import('../fuse/daemon.js');
    serve(spec, daemonOpts);
    return;
  }
  // Background: a detached daemon reports progress, warnings and "ready" (or its error) on a pipe.
  const progress = process.stderr.isTTY ? progressLine() : undefined;
  try {
    startDaemon(spec, daemonOpts, {
      log: flags.log ? fs.openSync(flags.log, 'a') : undefined,
      progress,
      warn: (line) => process.stderr.write(`${progress ? '\r\x1b[K' : ''}strata: ${line}\n`),
    });
  } catch (err) {
    if (err instanceof MountError) fatal(err.message);
    throw err;
  } finally {
    if (progress) process.stderr.write('\r\x1b[K');
  }
}

export function umountCommand(): Command {
  return new Command('umount')
    .description('unmount a strata mount (refuses while busy unless --lazy or --force)')
    .argument('<mountpoint>')
    .option('-l, --lazy', 'detach now; the daemon serves open files until they close')
    .option('--force', 'abort the FUSE connection (frees processes stuck on a dead daemon), then detach')
    .action(async (mountpoint: string, o: { lazy?: boolean; force?: boolean }) => {
      // `strata umount CONTAINER`: a name that is not a path.
      if (!mountpoint.includes('/') && !fs.existsSync(mountpoint)) return (await import('./container-actions.js')).umountContainer(mountpoint);
      try {
        unmount(resolveNoFollow(mountpoint), o);
      } catch (err) {
        if (err instanceof UnmountError) fatal(err.message);
        throw err;
      }
    });
}

/** Absolute path without stat-ing it (a dead FUSE mount would hang or fail a realpath). */
function resolveNoFollow(p: string): string {
  return p.startsWith('/') ? p.replace(/\/+$/, '') || '/' : process.cwd() + '/' + p.replace(/\/+$/, '');
}
