// The host's mount table, and unmounting: plain umount2, lazy, or --force, which first aborts the
// FUSE connection (freeing processes stuck in state D on a dead daemon), then detaches.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { native, MNT_DETACH } from '../sys/native.js';
import { errnoName, StrataError } from '../sys/errors.js';

export interface MountInfo {
  id: number;
  dev: string; // major:minor
  mountpoint: string;
  fstype: string;
  source: string;
  options: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));

export function mounts(): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    const r = right.split(' ');
    out.push({ id: +f[0], dev: f[2], mountpoint: unescape(f[4]), fstype: r[0], source: unescape(r[1]), options: r[2] ?? '' });
  }
  return out;
}

export function findMount(mountpoint: string): MountInfo | undefined {
  return mounts().findLast((m) => m.mountpoint === mountpoint);
}

export class UnmountError extends StrataError {}

/** The fusectl dir of a mount's FUSE connection (its device minor), mounting fusectl if needed. */
export function connectionDir(m: MountInfo): string | null {
  const conns = '/sys/fs/fuse/connections';
  const dir = `${conns}/${m.dev.split(':')[1]}`;
  if (!fs.existsSync(dir)) {
    try {
      execFileSync('mount', ['-t', 'fusectl', 'none', conns], { stdio: 'ignore' });
    } catch {
      /* already mounted, or not available */
    }
  }
  return fs.existsSync(dir) ? dir : null;
}

/** Abort the FUSE connection behind a mount (frees processes stuck on a dead daemon). */
export function abortConnection(m: MountInfo): void {
  const dir = connectionDir(m);
  if (!dir) return;
  try {
    fs.writeFileSync(`${dir}/abort`, '1');
  } catch {
    /* the connection went away meanwhile */
  }
}

export function unmount(mountpoint: string, opts: { lazy?: boolean; force?: boolean } = {}): void {
  const m = findMount(mountpoint);
  if (!m) throw new UnmountError('not-found', `${mountpoint} is not mounted`);
  if (opts.force && m.fstype.startsWith('fuse')) abortConnection(m);
  let r = native.umount2(mountpoint, opts.lazy || opts.force ? MNT_DETACH : 0);
  if (r === -16) {
    throw new UnmountError(
      'in-use',
      `${mountpoint} is busy: a process has a file open or its working directory there (see \`fuser -vm ${mountpoint}\`); use --lazy to detach it now, or --force to abort it`,
    );
  }
  if (r === -107 || r === -103) r = native.umount2(mountpoint, MNT_DETACH); // dead daemon: detach
  if (r < 0) throw new UnmountError('failed', `cannot unmount ${mountpoint}: ${errnoName(-r)}`);
}

/**
 * Whether a mount's FUSE daemon is gone: the kernel then answers every request on it with
 * ENOTCONN (or ECONNABORTED once aborted) at once, so asking cannot hang. statfs, because it
 * always reaches the daemon (a stat of the root may be answered from the kernel's cache).
 */
export function mountDead(mountpoint: string): boolean {
  try {
    fs.statfsSync(mountpoint);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTCONN' || code === 'ECONNABORTED';
  }
}
