// Volatile mounts, as kernel overlayfs's `volatile` option: copy-ups make nothing durable and fsync
// is a no-op, so small-file copy-ups cost what fuse-overlayfs's do (it never makes them durable).
// After a crash the upper dir's contents are undefined, so, as the kernel does, a volatile mount
// leaves WORK/incompat/volatile behind and any later mount of that work dir is refused while it is
// there. Unlike the kernel, a clean unmount first syncs the upper filesystem and then removes the
// mark, so an upper dir that was unmounted cleanly can be mounted again.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../sys/native.js';

/** The mark a volatile mount leaves in its work dir until it is unmounted cleanly. */
export const volatileMark = (work: string) => path.join(work, 'incompat', 'volatile');

/** Whether a volatile mount of this work dir ended without a clean unmount (or is still mounted). */
export const markedVolatile = (work: string) => fs.existsSync(volatileMark(work));

/** Leave the mark, durably (the mark is what tells a mount after a crash not to trust the upper dir). */
export function markVolatile(work: string): void {
  const mark = volatileMark(work);
  fs.mkdirSync(mark, { recursive: true, mode: 0o700 });
  for (const d of [path.dirname(mark), work]) {
    const fd = fs.openSync(d, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** At a clean unmount: the upper filesystem synced, then the mark removed. A failed sync keeps the mark. */
export function clearVolatile(work: string, upper: string): boolean {
  const fd = fs.openSync(upper, 'r');
  try {
    if (native.syncfs(fd) < 0) return false;
  } finally {
    fs.closeSync(fd);
  }
  fs.rmSync(volatileMark(work), { recursive: true, force: true });
  try {
    fs.rmdirSync(path.dirname(volatileMark(work))); // incompat/, if nothing else is in it
  } catch {
    /* not empty, or gone */
  }
  return true;
}
