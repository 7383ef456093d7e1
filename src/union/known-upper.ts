// Fast paths for a merged path the transport already knows to name an upper non-directory (the
// kernel transport keys such nodes by their upper file). A name present in the upper dir is always
// the top of its stack, and lowers never matter to a non-directory, so these go straight to the
// upper file: no resolve, no copy-up check, one syscall fewer per request. Each answers
// `undefined` (or false) when the upper file is not there after all, and the caller then takes the
// general path through Union, which gives the same answer the slow way.
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { check, fail, E, FsError } from '../sys/errors.js';
import { isPrivateXattr, isWhiteout } from '../sys/overlay-format.js';
import { isDir, statVia, type Stat } from '../sys/stat.js';
import { UTIME_OMIT } from '../sys/native.js';
import type { LayerStack } from './layers.js';
import type { InodeTable } from './inodes.js';

/** Attributes as the merged view reports them (see Union.attrOf). */
export type AttrOf = (st: Stat, ino: number, nlink: number) => Stat;

const gone = (r: number) => r === -E.ENOENT || r === -E.ENOTDIR;

/** Runs `op` (a Node fs call on the upper file): false when the file is gone, else true; other errors throw. */
function tryFs(op: () => void): boolean {
  try {
    op();
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
}

export class KnownUpper {
  constructor(
    private stack: LayerStack,
    private inodes: InodeTable,
    private attrOf: AttrOf,
  ) {}

  private real(path: string): string {
    return this.stack.upperPath(path);
  }

  attr(path: string): Stat | undefined {
    const st = this.stack.lstatRel(0, path);
    if (!st || isDir(st.mode) || isWhiteout(st)) return undefined;
    return this.attrOf(st, this.inodes.of({ layer: 0, rel: path, st }), st.nlink);
  }

  /** The value, null when the file has no such attribute, undefined when the upper file is gone. */
  getxattr(path: string, name: string): Buffer | null | undefined {
    if (isPrivateXattr(name)) fail(E.EOPNOTSUPP);
    const v = native.lgetxattr(this.real(path), name);
    if (typeof v !== 'number') return v;
    if (v === -E.ENODATA) return null;
    if (gone(v)) return undefined;
    throw new FsError(-v);
  }

  /**
   * Owner, mode and times of the upper file in one native call (through `fd`, an open fd of it,
   * when there is one), and its attributes after: undefined when the file is gone. `mode` only
   * for a regular file; -1 (or 0xffffffff for ids) leaves a field as it is.
   */
  setattr(path: string, fd: number, uid: number, gid: number, mode: number, times: [number, number, number, number] | undefined): Stat | undefined {
    const [aSec, aNsec, mSec, mNsec] = times ?? [0, UTIME_OMIT, 0, UTIME_OMIT];
    const u = uid === 0xffffffff ? -1 : uid;
    const g = gid === 0xffffffff ? -1 : gid;
    let st: Stat;
    try {
      st = statVia((out) =>
        fd >= 0
          ? native.setattrFd(fd, u, g, mode, aSec, aNsec, mSec, mNsec, out)
          : native.setattrAt(this.stack.rootFd(0), path.slice(1), u, g, mode, aSec, aNsec, mSec, mNsec, out),
      );
    } catch (err) {
      if (err instanceof FsError && (err.errno === E.ENOENT || err.errno === E.ENOTDIR)) return undefined;
      throw err;
    }
    if (isDir(st.mode) || isWhiteout(st)) return undefined;
    return this.attrOf(st, this.inodes.of({ layer: 0, rel: path, st }), st.nlink);
  }

  truncate(path: string, size: number): boolean {
    return tryFs(() => fs.truncateSync(this.real(path), size));
  }

  chown(path: string, uid: number, gid: number): boolean {
    return tryFs(() => fs.lchownSync(this.real(path), uid === 0xffffffff ? -1 : uid, gid === 0xffffffff ? -1 : gid));
  }

  /** chmod of a regular file (a symlink's mode is not changed: the caller leaves those to Union). */
  chmod(path: string, mode: number): boolean {
    return tryFs(() => fs.chmodSync(this.real(path), mode & 0o7777));
  }

  utimens(path: string, aSec: number, aNsec: number, mSec: number, mNsec: number): boolean {
    const r = native.lutimens(this.real(path), aSec, aNsec, mSec, mNsec);
    if (gone(r)) return false;
    check(r);
    return true;
  }
}
