// A path inside a container's root, resolved as the container would see it: symlinks are followed
// within the root (an absolute link starts again at the root, `..` stops there), so a mount
// target never lands outside the container's tree, whatever links the image holds.
import fs from 'node:fs';
import path from 'node:path';
import { refuse } from './errors.js';

const MAX_LINKS = 40; // as the kernel's ELOOP limit

/** `p` (absolute, in the container) as a host path under `root`; parts that do not exist yet are kept as named. */
export function resolveInRoot(root: string, p: string): string {
  const todo = p.split('/').filter(Boolean).reverse();
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.pop()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) refuse('invalid', `${p} has too many levels of symbolic links in the container`);
      const to = fs.readlinkSync(host);
      if (to.startsWith('/')) done.length = 0;
      todo.push(...to.split('/').filter(Boolean).reverse());
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}
