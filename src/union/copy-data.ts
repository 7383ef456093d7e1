// File data copy for copy-up: a reflink where the filesystem shares extents (FICLONE), else
// copy_file_range (in-kernel, no bytes through user space), else a plain read/write loop. Only
// the source's data ranges are copied (SEEK_DATA / SEEK_HOLE), so a sparse file stays sparse, as
// kernel overlayfs keeps it.
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { E, FsError } from '../sys/errors.js';

const CHUNK = 1 << 30;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
let scratch: Buffer | null = null;

type Method = 'copy_file_range' | 'read_write';

/** Below this size a file is copied with one read and one write: a reflink or range copy saves nothing. */
export const SMALL = 64 << 10;

/** A file small enough for one read and one write, and not sparse (a sparse one keeps its holes through the range copy). */
export const isSmallFile = (size: number, blocks: number) => size <= SMALL && blocks * 512 >= size;

export function copyData(srcFd: number, dstFd: number, size: number, blocks = Infinity): 'clone' | Method {
  if (isSmallFile(size, blocks)) return copySmall(srcFd, dstFd, size);
  if (size > 0 && native.ficlone(dstFd, srcFd) === 0) return 'clone';
  let method: Method = 'copy_file_range';
  for (const [start, end] of dataRanges(srcFd, size)) method = copyRange(srcFd, dstFd, start, end, method);
  fs.ftruncateSync(dstFd, size); // the size itself, and a hole at the end stays a hole
  return method;
}

/** A small file that is not sparse: one read, one write (the loop only if the source changed meanwhile). */
function copySmall(srcFd: number, dstFd: number, size: number): 'read_write' {
  scratch ??= Buffer.allocUnsafe(1 << 20);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(srcFd, scratch, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  let w = 0;
  while (w < off) w += fs.writeSync(dstFd, scratch, w, off - w, w);
  return 'read_write';
}

/** [start, end) of each range of `fd` that holds data; the whole file where the filesystem cannot tell. */
function* dataRanges(fd: number, size: number): Generator<[number, number]> {
  let off = 0;
  while (off < size) {
    const data = native.lseek(fd, off, SEEK_DATA);
    if (data === -E.ENXIO) return; // only a hole from here on
    if (data < 0) return yield [off, size]; // no SEEK_DATA here: copy it all
    const hole = native.lseek(fd, data, SEEK_HOLE);
    const end = hole < 0 ? size : Math.min(hole, size);
    if (end > data) yield [data, end];
    off = end;
  }
}

function copyRange(srcFd: number, dstFd: number, start: number, end: number, method: Method): Method {
  let off = start;
  while (method === 'copy_file_range' && off < end) {
    const n = native.copyFileRange(srcFd, off, dstFd, off, Math.min(CHUNK, end - off));
    if (n > 0) {
      off += n;
      continue;
    }
    if (n === 0) return method; // source shrank under us: copy what exists
    if (n === -28 || n === -5 || n === -122) throw new FsError(-n); // ENOSPC, EIO, EDQUOT
    method = 'read_write'; // EXDEV, EINVAL, ENOSYS, EOPNOTSUPP: filesystem can't do it
  }
  scratch ??= Buffer.allocUnsafe(1 << 20);
  while (off < end) {
    const n = fs.readSync(srcFd, scratch, 0, Math.min(scratch.length, end - off), off);
    if (n === 0) break;
    let w = 0;
    while (w < n) w += fs.writeSync(dstFd, scratch, w, n - w, off + w);
    off += n;
  }
  return method;
}
