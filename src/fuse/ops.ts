// The FUSE adapter: fuse-native callbacks mapped onto Union operations, nothing more. Handlers
// answer synchronously (Union does local syscalls only), so no request waits on the thread pool.
import Fuse from 'fuse-native';
import { toErrno } from '../sys/errors.js';
import type { Union, Caller } from '../union/union.js';
import { HiddenNames } from './fuse-hidden.js';
import { now, type MountStats } from '../union/stats.js';

type Cb = (...args: any[]) => void;

const caller = (): Caller => ({ uid: Fuse.context[0], gid: Fuse.context[1] });

/** Run `fn`; answer cb(0, result) or cb(-errno). */
function reply(cb: Cb, fn: () => unknown): void {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return cb(-toErrno(err));
  }
  cb(0, result);
}

/** For read/write, fuse-native takes the byte count (or -errno) as the first argument. */
function replyCount(cb: Cb, fn: () => number): void {
  let n: number;
  try {
    n = fn();
  } catch (err) {
    return cb(-toErrno(err));
  }
  cb(n);
}

export function fuseOps(u: Union): Record<string, Cb> {
  return timed(u.stats, pathOps(u));
}

/** Each op counted in the union's stats when it answers (its callback is the last argument), and its caller's pid noted. */
function timed(stats: MountStats, ops: Record<string, Cb>): Record<string, Cb> {
  const out: Record<string, Cb> = {};
  for (const [name, fn] of Object.entries(ops)) {
    const op = name.toUpperCase();
    out[name] = (...args: unknown[]) => {
      const t0 = now();
      stats.pid = Fuse.context[2];
      const cb = args[args.length - 1] as Cb;
      args[args.length - 1] = (...r: unknown[]) => {
        stats.request(op, t0);
        cb(...r);
      };
      fn(...args);
    };
  }
  return out;
}

function pathOps(u: Union): Record<string, Cb> {
  const hidden = new HiddenNames(u);
  /** A path op, or the same op on the open file behind a .fuse_hidden name. */
  const on = <T>(path: string, byPath: () => T, byIno: (ino: number) => T): T => {
    const ino = hidden.ino(path);
    return ino === undefined ? byPath() : byIno(ino);
  };
  return {
    init: (cb: Cb) => cb(0),
    getattr: (path: string, cb: Cb) =>
      reply(cb, () =>
        on(
          path,
          () => u.getattr(path),
          (ino) => u.attrOfOpen(ino),
        ),
      ),
    fgetattr: (path: string, fh: number, cb: Cb) =>
      reply(cb, () =>
        fh
          ? u.fgetattr(fh)
          : on(
              path,
              () => u.getattr(path),
              (ino) => u.attrOfOpen(ino),
            ),
      ),
    access: (path: string, _mode: number, cb: Cb) => reply(cb, () => void u.resolver.get(path)),
    statfs: (_path: string, cb: Cb) =>
      reply(cb, () => {
        const s = u.statfs();
        return {
          bsize: s[0],
          frsize: s[1],
          blocks: s[2],
          bfree: s[3],
          bavail: s[4],
          files: s[5],
          ffree: s[6],
          favail: s[7],
          fsid: 0,
          flag: 0,
          namemax: s[10],
        };
      }),
    readdir: (path: string, cb: Cb) => {
      let entries;
      try {
        entries = u.readdir(path);
      } catch (err) {
        return cb(-toErrno(err));
      }
      const names = ['.', '..'];
      const stats: object[] = [
        { mode: 0o040000, ino: 1 },
        { mode: 0o040000, ino: 1 },
      ];
      for (const e of entries) {
        names.push(e.name);
        stats.push(e);
      }
      cb(0, names, stats);
    },
    opendir: (_path: string, _flags: number, cb: Cb) => cb(0, 0),
    releasedir: (_path: string, _fh: number, cb: Cb) => cb(0),
    fsyncdir: (_path: string, _datasync: number, _fh: number, cb: Cb) => cb(0),
    readlink: (path: string, cb: Cb) => reply(cb, () => u.readlink(path)),
    open: (path: string, flags: number, cb: Cb) =>
      reply(cb, () =>
        on(
          path,
          () => u.open(path, flags),
          (ino) => u.reopen(ino, flags),
        ),
      ),
    create: (path: string, mode: number, flags: number, cb: Cb) => reply(cb, () => u.create(path, mode, flags, caller())),
    read: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) => replyCount(cb, () => u.read(fh, buf, len, pos)),
    write: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) => replyCount(cb, () => u.write(fh, buf, len, pos)),
    flush: (_path: string, _fh: number, cb: Cb) => cb(0),
    fsync: (_path: string, datasync: number, fh: number, cb: Cb) => reply(cb, () => u.fsync(fh, datasync !== 0)),
    release: (_path: string, fh: number, cb: Cb) => reply(cb, () => u.release(fh)),
    truncate: (path: string, size: number, cb: Cb) =>
      reply(cb, () =>
        on(
          path,
          () => u.truncate(path, size),
          (ino) => u.changeOpen(ino, { size }),
        ),
      ),
    ftruncate: (_path: string, fh: number, size: number, cb: Cb) => reply(cb, () => u.ftruncate(fh, size)),
    mkdir: (path: string, mode: number, cb: Cb) => reply(cb, () => u.mkdir(path, mode, caller())),
    mknod: (path: string, mode: number, dev: number, cb: Cb) => reply(cb, () => u.mknod(path, mode, dev, caller())),
    symlink: (target: string, path: string, cb: Cb) => reply(cb, () => u.symlink(target, path, caller())),
    link: (existing: string, path: string, cb: Cb) => reply(cb, () => u.link(existing, path)),
    unlink: (path: string, cb: Cb) => reply(cb, () => (hidden.unlinked(path) ? undefined : u.unlink(path))),
    rmdir: (path: string, cb: Cb) => reply(cb, () => u.rmdir(path)),
    rename: (from: string, to: string, cb: Cb) => reply(cb, () => (hidden.renamedAway(from, to) ? undefined : u.rename(from, to))),
    chmod: (path: string, mode: number, cb: Cb) =>
      reply(cb, () =>
        on(
          path,
          () => u.chmod(path, mode),
          (ino) => u.changeOpen(ino, { mode }),
        ),
      ),
    chown: (path: string, uid: number, gid: number, cb: Cb) =>
      reply(cb, () =>
        on(
          path,
          () => u.chown(path, uid, gid),
          (ino) => u.changeOpen(ino, { uid: uid === 0xffffffff ? -1 : uid, gid: gid === 0xffffffff ? -1 : gid }),
        ),
      ),
    utimens: (path: string, aSec: number, aNsec: number, mSec: number, mNsec: number, cb: Cb) =>
      reply(cb, () =>
        on(
          path,
          () => u.utimens(path, aSec, aNsec, mSec, mNsec),
          (ino) => u.changeOpen(ino, { times: [aSec, aNsec, mSec, mNsec] }),
        ),
      ),
    getxattr: (path: string, name: string, _pos: number, cb: Cb) => reply(cb, () => u.getxattr(path, name)),
    listxattr: (path: string, cb: Cb) => reply(cb, () => u.listxattr(path)),
    setxattr: (path: string, name: string, value: Buffer, _pos: number, flags: number, cb: Cb) =>
      reply(cb, () => u.setxattr(path, name, Buffer.from(value), flags)),
    removexattr: (path: string, name: string, cb: Cb) => reply(cb, () => u.removexattr(path, name)),
  };
}
