// A snapshot's merged view as a FUSE mount: our daemon, started as its own process, serving the
// lowers and upper dir at a mountpoint. A mount whose daemon was killed answers nothing; it is
// detached and mounted afresh (the upper dir holds all the state).
import { refuse } from '../sys/errors.js';
import { findMount, mountDead, unmount } from '../fuse/mounts.js';
import { startDaemon } from '../fuse/start-daemon.js';
import { preflight } from '../fuse/preflight.js';
import type { Mount } from './snapshot.js';

export interface MountOptions {
  /** What is mounted, for sentences: "container web". */
  what: string;
  /** A line for the person when something had to be repaired on the way. */
  warn?: (line: string) => void;
  /** The daemon's copy-up trace file; a view mounted already (without it) is said to be so. */
  trace?: string;
}

export const isMounted = (mountpoint: string) => !!findMount(mountpoint);

/** Whether the mount is there but its daemon is gone. */
export const isDead = (mountpoint: string) => isMounted(mountpoint) && mountDead(mountpoint);

/** Mount `m` at `mountpoint` unless it is mounted there (and alive) already; returns the mountpoint. */
export function mountAt(m: Mount, mountpoint: string, o: MountOptions): string {
  if (isMounted(mountpoint)) {
    if (!mountDead(mountpoint)) {
      if (o.trace)
        o.warn?.(`the merged view of ${o.what} was mounted already: its copy-ups go to the trace file it was mounted with, if any, not to ${o.trace}`);
      return mountpoint;
    }
    o.warn?.(`the filesystem daemon of ${o.what} had died; mounting its merged view again`);
    unmount(mountpoint, { force: true });
  }
  try {
    startDaemon(preflight({ lowers: m.lowers, upper: m.upper, work: m.work, mountpoint }), { index: true, ...(o.trace ? { trace: o.trace } : {}) });
  } catch (err) {
    refuse('failed', `cannot mount ${o.what}: ${(err as Error).message}`, err);
  }
  return mountpoint;
}

/** Unmount if mounted: lazily (open files are served until they close), or, forced, at once. */
export function unmountAt(mountpoint: string, force = false): void {
  if (!isMounted(mountpoint)) return;
  try {
    unmount(mountpoint, force ? { force: true } : { lazy: true });
  } catch (err) {
    if (isMounted(mountpoint)) throw err; // else: a container's supervisor unmounted it meanwhile
  }
}

/**
 * Run `fn` with the view at hand: `mounted()` mounts it on first use. A view mounted for `fn` is
 * unmounted after it (also when fn's promise settles); one that was mounted before stays.
 */
export function withMountedAt<T>(m: () => Mount, mountpoint: string, o: MountOptions, fn: (mounted: () => string) => T): T {
  const was = isMounted(mountpoint);
  const after = () => {
    if (!was) unmountAt(mountpoint);
  };
  let r: T;
  try {
    r = fn(() => mountAt(m(), mountpoint, o));
  } catch (err) {
    after();
    throw err;
  }
  if (r instanceof Promise) return r.finally(after) as T;
  after();
  return r;
}
