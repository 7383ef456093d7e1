// Removing a tree of any depth. fs.rmSync recurses (its stack overflows a few thousand levels
// down) and hands the kernel whole paths (ENAMETOOLONG past PATH_MAX); for such a tree we fall
// back to rm(1), which walks with directory fds. Not for the FUSE daemon: the fallback blocks.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

export function removeTree(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch (err) {
    if (!(err instanceof RangeError) && (err as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') throw err;
    const r = spawnSync('rm', ['-rf', '--one-file-system', '--', p], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`cannot remove ${p}: ${r.stderr.toString().trim() || `rm exited ${r.status}`}`);
  }
}
