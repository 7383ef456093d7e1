// The TypeScript face of native-bindings/: syscalls Node's fs lacks. Each returns a value or a
// negative errno; `check` turns a negative errno into a thrown FsError where callers want that.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

interface Addon {
  lgetxattr(p: string, name: string): Buffer | number;
  lsetxattr(p: string, name: string, value: Buffer, flags: number): number;
  llistxattr(p: string): string[] | number;
  lremovexattr(p: string, name: string): number;
  mknod(p: string, mode: number, dev: number): number;
  makedev(major: number, minor: number): number;
  major(dev: number): number;
  minor(dev: number): number;
  renameat2(from: string, to: string, flags: number): number;
  ficlone(dstFd: number, srcFd: number): number;
  copyFileRange(srcFd: number, srcOff: number, dstFd: number, dstOff: number, len: number): number;
  lutimens(p: string, aSec: number, aNsec: number, mSec: number, mNsec: number): number;
  futimens(fd: number, aSec: number, aNsec: number, mSec: number, mNsec: number): number;
  lstat(p: string, out: Float64Array): number;
  fstat(fd: number, out: Float64Array): number;
  statvfs(p: string, out: Float64Array): number;
  umount2(p: string, flags: number): number;
  link(from: string, to: string): number;
  syncFileRange(fd: number, off: number, len: number, flags: number): number;
  openpty(): [number, number] | number;
  flock(fd: number, op: number): number;
  pipe(): [number, number] | number;
  setWinsize(fd: number, rows: number, cols: number): number;
  fuseOpen(): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string): number;
  /** One request; with ns > 0, trying for up to `ns` nanoseconds while none is waiting (the busy poll). */
  fuseRead(fd: number, buf: Buffer, ns: number): number;
  fuseWrite(fd: number, buf: Buffer, len: number): number;
  fuseWritev(fd: number, header: Buffer, data: Buffer, len: number): number;
  fuseWatch(fd: number, cb: (status: number) => void): object | number;
  fuseUnwatch(handle: object): number;
  backingOpen(fuseFd: number, fileFd: number): number;
  backingClose(fuseFd: number, id: number): number;
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  syncfs(fd: number): number;
  /** The whole copy-up of a small regular file (see native-bindings/copy_up.c); 0 and its new stat in `out`, or -errno. */
  copyUpFile(
    srcDir: number,
    src: string,
    workDir: number,
    tmp: string,
    upperDir: number,
    dst: string,
    parent: string,
    size: number,
    mode: number,
    uid: number,
    gid: number,
    aSec: number,
    aNsec: number,
    mSec: number,
    mNsec: number,
    sync: number,
    out: Float64Array,
  ): number;
  /**
   * chown and chmod and utimensat of `p` (relative to `dirfd`, or absolute with AT_FDCWD), without following, each only
   * when asked (-1: leave; UTIME_OMIT nsec: leave), then its lstat in `out`; 0 or -errno.
   */
  setattrAt(
    dirfd: number,
    p: string,
    uid: number,
    gid: number,
    mode: number,
    aSec: number,
    aNsec: number,
    mSec: number,
    mNsec: number,
    out: Float64Array,
  ): number;
  /** The same through an open fd (fchown, fchmod, futimens, fstat). */
  setattrFd(fd: number, uid: number, gid: number, mode: number, aSec: number, aNsec: number, mSec: number, mNsec: number, out: Float64Array): number;
  /** open(2), always close-on-exec: an fd or -errno. */
  open(p: string, flags: number, mode: number): number;
  close(fd: number): number;
  /** openat(2) relative to `dir` ('' is the dir itself), close-on-exec: an fd or -errno. */
  openAt(dir: number, rel: string, flags: number, mode: number): number;
  /** fstatat(2) relative to `dir` without following ('' is the dir itself): 0 and the stat in `out`, or -errno. */
  lstatAt(dir: number, rel: string, out: Float64Array): number;
  /** One gzip member of `data`, deflated by libdeflate on the thread pool. */
  gzipCompress(data: Buffer, level: number): Promise<Buffer>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const native: Addon = require(path.join(here, '../../native-bindings/build/Release/strata_native.node'));

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const SYNC_FILE_RANGE_WRITE = 2;
export const LOCK_EX = 2;
export const LOCK_UN = 8;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_RDONLY = 1;
