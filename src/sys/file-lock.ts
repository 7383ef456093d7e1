// An exclusive flock on a lock file, held for the length of a call and re-entrant within this
// process: flock belongs to an open file, so a nested hold (or a second object guarding the same
// file) must reuse the fd, or it would wait for itself. Closing the fd releases the lock.
import fs from 'node:fs';
import { native, LOCK_EX } from './native.js';
import { check } from './errors.js';

const held = new Map<string, { fd: number; depth: number }>();

/** Run `fn` holding the lock on `file`; `onAcquire` runs when this call took it (not when nested). */
export function withFileLock<T>(file: string, fn: () => T, onAcquire?: () => void): T {
  let h = held.get(file);
  if (!h) {
    const fd = fs.openSync(file, 'a', 0o600);
    try {
      check(native.flock(fd, LOCK_EX));
      onAcquire?.();
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    held.set(file, (h = { fd, depth: 0 }));
  }
  h.depth++;
  try {
    return fn();
  } finally {
    if (--h.depth === 0) {
      held.delete(file);
      fs.closeSync(h.fd);
    }
  }
}
