// Mount helpers for tests. strata is always a separate daemon process started through the CLI,
// as users start it; every mount is registered for teardown and force-unmounted if still there.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { abortConnection, findMount, mounts } from '../../src/fuse/mounts.js';
import { startDaemon, type DaemonOptions } from '../../src/fuse/start-daemon.js';
import { preflight } from '../../src/fuse/preflight.js';
import { native } from '../../src/sys/native.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/bin/main.js'); // the bundle the installed `strata` runs

// Each test process keeps its path indexes in its own STRATA_ROOT, removed when it exits.
if (!process.env.STRATA_ROOT) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-root-'));
  process.env.STRATA_ROOT = root;
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
}
// tap puts its process-info hook in NODE_OPTIONS so that it can follow child processes for coverage;
// every CLI and daemon process a test starts would load it (tens of ms each, hundreds of times).
// Coverage of those processes is not measured anyway (.taprc), so they start without it.
delete process.env.NODE_OPTIONS;
// Node start-up reads NODE_EXTRA_CA_CERTS when set (~70 ms here); the CLI makes no TLS connection.
const cliEnv = (() => {
  const { NODE_EXTRA_CA_CERTS: _c, ...env } = process.env;
  return env;
})();

interface T {
  teardown(fn: () => unknown): void;
}

export function tmpdir(t: T, prefix = 'strata-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => {
    forceUnmountUnder(d);
    fs.rmSync(d, { recursive: true, force: true });
  });
  return d;
}

export function isMounted(mnt: string): boolean {
  return findMount(mnt) !== undefined;
}

/** Unmount whatever is still mounted below `dir`: abort FUSE connections first, then detach. */
export function forceUnmountUnder(dir: string): void {
  const under = mounts().filter((m) => m.mountpoint === dir || m.mountpoint.startsWith(dir + '/'));
  for (const m of under.reverse()) {
    if (m.fstype.startsWith('fuse')) abortConnection(m);
    spawnSync('umount', ['-l', m.mountpoint], { stdio: 'ignore' });
  }
}

export interface StrataMount {
  mnt: string;
  /** What `strata mount` said on stderr (warnings). */
  stderr?: string;
  umount(): void;
}

/** Mount with `strata mount` (returns when the daemon says it is ready). */
export function mountStrata(
  t: T,
  o: { lowers: string[]; upper?: string; work?: string; mnt: string; args?: string[]; allowWarnings?: boolean; env?: Record<string, string> },
): StrataMount {
  const args = [CLI, 'mount', '--lower', o.lowers.join(':')];
  if (o.upper) args.push('--upper', o.upper, '--work', o.work!);
  args.push(...(o.args ?? []), o.mnt);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 20000, env: { ...cliEnv, ...o.env } });
  if (r.status !== 0) throw new Error(`strata mount failed (${r.status}): ${r.stderr}`);
  t.teardown(() => forceUnmountUnder(o.mnt));
  // A mount that quietly fell back to probing would make an index test pass for the wrong reason.
  if (r.stderr.trim() && !o.allowWarnings) {
    forceUnmountUnder(o.mnt);
    throw new Error(`strata mount warned: ${r.stderr}`);
  }
  return {
    mnt: o.mnt,
    stderr: r.stderr,
    umount() {
      const u = spawnSync(process.execPath, [CLI, 'umount', o.mnt], { encoding: 'utf8', timeout: 20000, env: cliEnv });
      if (u.status !== 0) throw new Error(`strata umount failed: ${u.stderr}`);
      waitUntil(() => !isMounted(o.mnt));
    },
  };
}

/**
 * The same mount without the CLI around it: the daemon is started from this process (it is still a
 * process of its own) and unmounted with umount2. Saves two node start-ups per mount, which the
 * differential and random suites, mounting hundreds of times, feel. `args` takes the mount
 * flags those suites use: --no-index, --transport NAME, --attr-timeout S.
 */
export function mountStrataDirect(t: T, o: { lowers: string[]; upper?: string; work?: string; mnt: string; args?: string[] }): StrataMount {
  const args = o.args ?? [];
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const opts: DaemonOptions = { index: !args.includes('--no-index') };
  const transport = flag('--transport');
  if (transport) opts.transport = transport as DaemonOptions['transport'];
  if (flag('--attr-timeout') !== undefined) opts.attrTimeout = Number(flag('--attr-timeout'));
  process.env.STRATA_DAEMON_MAIN ??= path.join(ROOT, 'dist/bin/daemon-main.js');
  const warnings: string[] = [];
  startDaemon(preflight({ lowers: o.lowers, upper: o.upper, work: o.work, mountpoint: o.mnt }), opts, { warn: (l) => warnings.push(l) });
  t.teardown(() => forceUnmountUnder(o.mnt));
  if (warnings.length) {
    forceUnmountUnder(o.mnt);
    throw new Error(`strata mount warned: ${warnings.join('; ')}`);
  }
  return {
    mnt: o.mnt,
    umount() {
      const r = native.umount2(o.mnt, 0);
      if (r < 0) throw new Error(`umount ${o.mnt}: errno ${-r}`);
      waitUntil(() => !isMounted(o.mnt));
    },
  };
}

export function mountKernel(t: T, o: { lowers: string[]; upper?: string; work?: string; mnt: string }): StrataMount {
  const opts = [`lowerdir=${o.lowers.join(':')}`];
  if (o.upper) opts.push(`upperdir=${o.upper}`, `workdir=${o.work}`);
  opts.push('redirect_dir=on', 'index=off', 'metacopy=off', 'xino=off');
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts.join(','), o.mnt]);
  t.teardown(() => forceUnmountUnder(o.mnt));
  return { mnt: o.mnt, umount: () => execFileSync('umount', [o.mnt]) };
}

export function mountFuseOverlayfs(t: T, o: { lowers: string[]; upper: string; work: string; mnt: string }): StrataMount {
  execFileSync('fuse-overlayfs', ['-o', `lowerdir=${o.lowers.join(':')},upperdir=${o.upper},workdir=${o.work}`, o.mnt]);
  t.teardown(() => forceUnmountUnder(o.mnt));
  return { mnt: o.mnt, umount: () => execFileSync('fusermount3', ['-u', o.mnt]) };
}

export function waitUntil(cond: () => boolean, ms = 10000): void {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** Copy a tree exactly (xattrs including trusted.*, devices, whiteouts, hard links, times). */
export function copyTree(from: string, to: string): void {
  execFileSync('cp', ['-a', '--preserve=all', from + '/.', to]);
}
