// Stat records with nanosecond times, read through the addon into one reused Float64Array.
import fs from 'node:fs';
import { native } from './native.js';
import { FsError } from './errors.js';

export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
}

const buf = new Float64Array(16);

function fromBuf(): Stat {
  return {
    dev: buf[0],
    ino: buf[1],
    mode: buf[2],
    nlink: buf[3],
    uid: buf[4],
    gid: buf[5],
    rdev: buf[6],
    size: buf[7],
    blksize: buf[8],
    blocks: buf[9],
    atimeSec: buf[10],
    atimeNsec: buf[11],
    mtimeSec: buf[12],
    mtimeNsec: buf[13],
    ctimeSec: buf[14],
    ctimeNsec: buf[15],
  };
}

/** lstat, or null when the path does not exist (ENOENT/ENOTDIR); throws on other errors. */
export const lstatOrNull = (p: string): Stat | null => orNull(native.lstat(p, buf));

/** lstatOrNull of `rel` relative to the dir fd `dir` ('' is the dir itself): a shorter walk for the kernel. */
export const lstatAtOrNull = (dir: number, rel: string): Stat | null => orNull(native.lstatAt(dir, rel, buf));

/** A stat call's result in `buf`: the Stat, null for ENOENT/ENOTDIR, thrown otherwise. */
function orNull(r: number): Stat | null {
  if (r === 0) return fromBuf();
  if (r === -2 || r === -20) return null;
  throw new FsError(-r);
}

export function lstat(p: string): Stat {
  const r = native.lstat(p, buf);
  if (r !== 0) throw new FsError(-r);
  return fromBuf();
}

export function fstat(fd: number): Stat {
  const r = native.fstat(fd, buf);
  if (r !== 0) throw new FsError(-r);
  return fromBuf();
}

/** The stat a native call writes into its `out` argument (0 on success, else -errno, thrown). */
export function statVia(call: (out: Float64Array) => number): Stat {
  const r = call(buf);
  if (r !== 0) throw new FsError(-r);
  return fromBuf();
}

const S = fs.constants;
export const isDir = (m: number) => (m & S.S_IFMT) === S.S_IFDIR;
export const isReg = (m: number) => (m & S.S_IFMT) === S.S_IFREG;
export const isLnk = (m: number) => (m & S.S_IFMT) === S.S_IFLNK;
export const isChr = (m: number) => (m & S.S_IFMT) === S.S_IFCHR;
