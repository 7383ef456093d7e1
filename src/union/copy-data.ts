// File data copy for copy-up: a reflink where the filesystem shares extents (FICLONE), else
// copy_file_range (in-kernel, no bytes through user space), else a plain read/write loop.
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { FsError } from '../sys/errors.js';

const CHUNK = 1 << 30;
let scratch: Buffer | null = null;

export function copyData(srcFd: number, dstFd: number, size: number): 'clone' | 'copy_file_range' | 'read_write' {
  if (size > 0 && native.ficlone(dstFd, srcFd) === 0) return 'clone';
  let off = 0;
  let method: 'copy_file_range' | 'read_write' = 'copy_file_range';
  while (off < size) {
    const n = native.copyFileRange(srcFd, off, dstFd, off, Math.min(CHUNK, size - off));
    if (n > 0) {
      off += n;
      continue;
    }
    if (n === 0) break; // source shrank under us: copy what exists
    if (n === -28 || n === -5 || n === -122) throw new FsError(-n); // ENOSPC, EIO, EDQUOT
    method = 'read_write'; // EXDEV, EINVAL, ENOSYS, EOPNOTSUPP: filesystem can't do it
    break;
  }
  if (method === 'read_write') {
    scratch ??= Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(srcFd, scratch, 0, scratch.length, off);
      if (n === 0) break;
      let w = 0;
      while (w < n) w += fs.writeSync(dstFd, scratch, w, n - w, off + w);
      off += n;
    }
  }
  return method;
}
