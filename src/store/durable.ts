// Making a new layer dir durable before it is recorded: a crash after the record is written must
// not leave a record whose dir lost files. One syncfs of the store's filesystem (coreutils'
// `sync -f`: Node has no syncfs, and the addon has none yet) writes every file and dir of the
// layer with one journal commit, where an fsync per file would cost a commit each.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { walkOverlay } from '../sys/overlay-walk.js';

/** Flush everything written under `dir` (and the rest of its filesystem) to the disk. */
export function syncTree(dir: string): void {
  const r = spawnSync('sync', ['-f', dir], { stdio: 'ignore' });
  if (r.status === 0) return;
  // No `sync -f` here: fsync each file and dir, which is slower but as safe.
  fsyncPath(dir);
  for (const e of walkOverlay(dir, { overlay: false })) if (e.dir || (e.st.mode & fs.constants.S_IFMT) === fs.constants.S_IFREG) fsyncPath(e.real);
}

export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
