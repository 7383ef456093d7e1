// Making a new layer dir durable before it is recorded: a crash after the record is written must
// not leave a record whose dir lost files. One syncfs(2) of the store's filesystem writes every
// file and dir of the layer with one journal commit, where an fsync per file would cost a commit each.
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { walkOverlay } from '../sys/overlay-walk.js';
import { isReg } from '../sys/stat.js';

/** Flush everything written under `dir` (and the rest of its filesystem) to the disk. */
export function syncTree(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    if (native.syncfs(fd) === 0) return;
  } finally {
    fs.closeSync(fd);
  }
  // syncfs failed (it reports writeback errors): fsync each file and dir, which names the one that fails.
  fsyncPath(dir);
  for (const e of walkOverlay(dir, { overlay: false })) if (e.dir || isReg(e.st.mode)) fsyncPath(e.real);
}

export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
