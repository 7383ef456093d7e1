// The merged view of a layer stack with overlayfs semantics, on plain paths: no FUSE in sight.
// Every operation is synchronous (the backing dirs are local, and a FUSE round trip costs far more
// than these syscalls) and either returns its result or throws an FsError carrying the errno.
import fs from 'node:fs';
import { native, RENAME_EXCHANGE, RENAME_WHITEOUT, UTIME_OMIT } from '../sys/native.js';
import { check, fail, E, FsError, toErrno } from '../sys/errors.js';
import { LayerStack, splitPath, type LayerOptions } from './layers.js';
import { mergedCount, Resolver } from './resolve.js';
import type { Entry, LowerView, Node } from './lower-view.js';
import { ProbeLowers } from './probe-lowers.js';
import { IndexLowers } from './index-lowers.js';
import { FallbackLowers } from './fallback-lowers.js';
import type { ChainReader } from '../index/chain-reader.js';
import { InodeTable } from './inodes.js';
import { CopyUp } from './copy-up.js';
import { HandleTable } from './handles.js';
import { KnownUpper } from './known-upper.js';
import { MountStats, type CopyUpCause } from './stats.js';
import { isPrivateXattr, isWhiteout, makeWhiteout, setOpaque, setRedirect, getRedirect } from '../sys/overlay-format.js';
import { fstat, isDir, isLnk, isReg, lstat, lstatOrNull, type Stat } from '../sys/stat.js';

const O = fs.constants;
const O_ACCMODE = 3;
const S_ISGID = 0o2000;

/** Who asked: new objects belong to the caller, as on any local filesystem. */
export interface Caller {
  uid: number;
  gid: number;
}
export const ROOT: Caller = { uid: 0, gid: 0 };

/** Attributes as the merged view reports them: a Stat with our inode number and dev 0. */
export type Attr = Stat;

/** Attribute changes of a setattr: each field only when asked for; times as utimensat takes them. */
export interface AttrChange {
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  times?: [number, number, number, number];
  /** Drop setuid/setgid afterwards (a chown, or a truncate by a caller without CAP_FSETID). */
  killSetid?: true;
}

export interface DirEntry {
  name: string;
  ino: number;
  mode: number;
  /** The layer entry that answers the name (lets a READDIRPLUS skip resolving a lower name again). */
  entry?: Entry;
}

export class Union {
  readonly stack: LayerStack;
  readonly resolver: Resolver;
  readonly inodes: InodeTable;
  readonly handles = new HandleTable();
  /** The mount's counters (`strata stats`), and its trace when one is written. */
  readonly stats = new MountStats();
  /** Fast paths for paths the transport knows to be upper non-directories (see known-upper.ts). */
  readonly known: KnownUpper;
  private copyUp: CopyUp;
  /** Told of every object copied up (its merged path and its upper file's stat), so a transport can drop what the kernel cached of it. */
  onCopyUp: ((path: string, isDir: boolean, upper: Stat) => void) | null = null;

  /**
   * With a chain index, the lower layers are answered from it; should it fail mid-mount, the
   * mount carries on probing the layer dirs (`onChainError` hears of it once).
   */
  constructor(opts: LayerOptions, chain: ChainReader | null = null, onChainError?: (err: Error) => void) {
    this.stack = new LayerStack(opts);
    this.inodes = new InodeTable(
      opts.maxIno,
      this.stack.roots.map((r) => lstatOrNull(r)?.dev ?? -1),
    );
    this.known = new KnownUpper(this.stack, this.inodes, toAttr);
    const probe = new ProbeLowers(this.stack);
    const lower: LowerView = chain
      ? new FallbackLowers(
          new IndexLowers(chain),
          probe,
          (err) => {
            this.resolver.invalidate(); // its stacks came from the index
            onChainError?.(err);
          },
          this.stats,
        )
      : probe;
    this.resolver = new Resolver(this.stack, lower);
    this.copyUp = new CopyUp(
      this.stack,
      this.resolver,
      this.inodes,
      (node, upper) => {
        this.handles.retarget(this.inoOf(node), this.stack.upperPath(upper.rel));
        this.onCopyUp?.(node.path, node.dirs !== null, upper.st);
      },
      this.stats,
    );
  }

  /** Prepare the work dir: anything a killed daemon left half-done there is discarded. */
  prepareWork(): void {
    if (!this.stack.work) return;
    this.stack.closeFds(); // the tmp dir's fd would name the old one
    fs.rmSync(this.stack.tmpDir, { recursive: true, force: true });
    fs.mkdirSync(this.stack.tmpDir, { recursive: true, mode: 0o700 });
  }

  // ---- reading ------------------------------------------------------------------------------

  inoOf(node: Node): number {
    return this.inodes.of(node.top, node.path === '/');
  }

  attrOf(node: Node): Attr {
    const st = node.top.st;
    // overlayfs reports nlink 1 for a directory merged from several layers ("pacifies find").
    const nlink = mergedCount(node) > 1 ? 1 : st.nlink;
    return toAttr(st, this.inoOf(node), nlink);
  }

  getattr(path: string): Attr {
    return this.attrOf(this.resolver.get(path));
  }

  /** Attributes through an open fd (a file with no name left). */
  fstatAttr(fd: number, ino: number): Attr {
    const st = fstat(fd);
    return toAttr(st, ino, st.nlink);
  }

  fgetattr(fh: number): Attr {
    const h = this.handle(fh);
    return this.fstatAttr(h.fd, h.ino);
  }

  readlink(path: string): string {
    const node = this.resolver.get(path);
    if (!isLnk(node.top.st.mode)) fail(E.EINVAL);
    if (node.top.target) return node.top.target.toString();
    return fs.readlinkSync(this.real(node.top));
  }

  /** The merged listing: every visible name once, whiteouts and hidden lower names left out. */
  readdir(path: string): DirEntry[] {
    const node = this.resolver.get(path);
    if (!node.dirs) fail(E.ENOTDIR);
    return this.list(node);
  }

  /** The visible names of a resolved merged dir. */
  list(node: Node): DirEntry[] {
    return this.resolver.list(node).map(({ name, e }) => ({ name, ino: this.inodes.of(e), mode: e.st.mode, entry: e }));
  }

  getxattr(path: string, name: string): Buffer | null {
    if (isPrivateXattr(name)) fail(E.EOPNOTSUPP);
    const node = this.resolver.get(path);
    const v = native.lgetxattr(this.real(node.top), name);
    if (typeof v === 'number') {
      if (v === -E.ENODATA) return null;
      throw new FsError(-v);
    }
    return v;
  }

  listxattr(path: string): string[] {
    const node = this.resolver.get(path);
    const names = native.llistxattr(this.real(node.top));
    if (typeof names === 'number') {
      if (names === -E.EOPNOTSUPP) return [];
      throw new FsError(-names);
    }
    return names.filter((n) => !isPrivateXattr(n));
  }

  statfs(): Float64Array {
    const out = new Float64Array(11);
    check(native.statvfs(this.stack.roots[0], out));
    return out;
  }

  /**
   * Start the slow part of a copy-up of `path` (a big lower file's data) in the background; the
   * operation that needs it runs once the promise resolves. Null when nothing slow is needed.
   */
  prepareCopyUp(path: string): Promise<void> | null {
    const node = this.resolver.lookup(path);
    return node && !node.dirs ? this.copyUp.prepare(node) : null;
  }

  /** At unmount: data copied ahead that no operation took is removed. */
  close(): void {
    this.copyUp.close();
    this.handles.closeAll();
    this.stack.closeFds();
  }

  // ---- open files ---------------------------------------------------------------------------

  open(path: string, flags: number): number {
    const node = this.resolver.get(path);
    if (node.dirs) fail(E.EISDIR);
    const writes = (flags & O_ACCMODE) !== O.O_RDONLY || (flags & O.O_TRUNC) !== 0;
    let e = node.top;
    if (writes) {
      if (!this.stack.hasUpper) fail(E.EROFS);
      const trunc = (flags & O.O_TRUNC) !== 0;
      e = this.copyUp.ensure(node, trunc ? 'truncate' : 'write', { noData: trunc });
    }
    let bflags = flags & ~(O.O_CREAT | O.O_EXCL | O.O_NOCTTY | O.O_DIRECT);
    if (e.layer !== 0 || !this.stack.hasUpper) bflags |= O.O_NOATIME; // lower layers are never written, not even atime
    const fd = check(native.openAt(this.stack.rootFd(e.layer), e.rel.slice(1), bflags, 0));
    return this.handles.add({ fd, ino: this.inoOf(node), final: !this.stack.hasUpper || e.layer === 0 });
  }

  create(path: string, mode: number, flags: number, caller: Caller): number {
    return this.createNode(path, mode, flags, caller).fh;
  }

  /** create, also answering the new file's node (for a transport's entry reply, with no resolve). */
  createNode(path: string, mode: number, flags: number, caller: Caller): { fh: number; node: Node } {
    let fd = -1;
    const keep = flags & (O.O_APPEND | O.O_SYNC | O.O_DSYNC);
    this.place(path, caller, (real) => {
      fd = check(native.open(real, O.O_RDWR | O.O_CREAT | O.O_EXCL | keep, mode & 0o7777));
    });
    // the new file is the top of its name: its node comes from its fd, with no resolve
    const node: Node = { path, top: { layer: 0, rel: path, st: fstat(fd) }, dirs: null };
    return { fh: this.handles.add({ fd, ino: this.inoOf(node), final: true }), node };
  }

  read(fh: number, buf: Buffer, len: number, pos: number): number {
    return fs.readSync(this.handle(fh).fd, buf, 0, len, pos);
  }

  write(fh: number, buf: Buffer, len: number, pos: number): number {
    return fs.writeSync(this.handle(fh).fd, buf, 0, len, pos);
  }

  ftruncate(fh: number, size: number): void {
    fs.ftruncateSync(this.handle(fh).fd, size);
  }

  fallocate(fh: number, mode: number, offset: number, length: number): void {
    check(native.fallocate(this.handle(fh).fd, mode, offset, length));
  }

  /** lseek on an open file: SEEK_DATA and SEEK_HOLE reach the backing file. */
  lseek(fh: number, offset: number, whence: number): number {
    return check(native.lseek(this.handle(fh).fd, offset, whence));
  }

  copyFileRange(fhIn: number, offIn: number, fhOut: number, offOut: number, len: number): number {
    return check(native.copyFileRange(this.handle(fhIn).fd, offIn, this.handle(fhOut).fd, offOut, len));
  }

  fsync(fh: number, datasync: boolean): void {
    const fd = this.handle(fh).fd;
    if (this.stack.volatile) return; // a volatile mount makes nothing durable (volatile.ts)
    if (datasync) fs.fdatasyncSync(fd);
    else fs.fsyncSync(fd);
  }

  release(fh: number): void {
    const h = this.handles.remove(fh);
    if (h) native.close(h.fd);
  }

  private handle(fh: number) {
    return this.handles.get(fh) ?? fail(E.EBADF);
  }

  // ---- changing names -----------------------------------------------------------------------

  mkdir(path: string, mode: number, caller: Caller): void {
    this.place(path, caller, (real) => fs.mkdirSync(real, { mode: mode & 0o7777 }), true);
  }

  mknod(path: string, mode: number, rdev: number, caller: Caller): void {
    if ((mode & O.S_IFMT) === O.S_IFREG || (mode & O.S_IFMT) === 0) {
      this.place(path, caller, (real) => fs.closeSync(fs.openSync(real, O.O_WRONLY | O.O_CREAT | O.O_EXCL, mode & 0o7777)));
      return;
    }
    this.place(path, caller, (real) => check(native.mknod(real, mode, rdev)));
  }

  symlink(target: string, path: string, caller: Caller): void {
    this.place(path, caller, (real) => fs.symlinkSync(target, real));
  }

  link(existing: string, path: string): void {
    const src = this.resolver.get(existing);
    if (src.dirs) fail(E.EPERM);
    this.writable();
    const up = this.copyUp.ensure(src, 'link');
    this.place(path, null, (real) => check(native.link(this.real(up), real)), false, 'link');
  }

  unlink(path: string): void {
    this.writable();
    const node = this.resolver.get(path);
    if (node.dirs) fail(E.EISDIR);
    this.remove(node);
  }

  rmdir(path: string): void {
    this.writable();
    if (path === '/') fail(E.EBUSY);
    const node = this.resolver.get(path);
    if (!node.dirs) fail(E.ENOTDIR);
    if (this.list(node).length > 0) fail(E.ENOTEMPTY);
    this.remove(node);
    this.resolver.invalidate();
  }

  /** Remove a name: drop the upper copy, and leave a whiteout where a lower layer still has it. */
  private remove(node: Node): void {
    const [dir, name] = splitPath(node.path);
    const parent = this.resolver.get(dir);
    const whiteout = this.resolver.lowerHas(parent, name);
    const upperReal = this.stack.upperPath(node.path);
    if (node.top.layer !== 0) {
      this.copyUp.ensureParent(parent, 'remove');
      makeWhiteout(upperReal);
      this.stats.whiteout(node.path);
      return;
    }
    if (node.dirs) {
      // Swap the dir out in one step (it may still hold whiteouts), then clean it up in work/.
      const tmp = this.copyUp.tmpPath();
      if (whiteout) {
        makeWhiteout(tmp);
        check(native.renameat2(tmp, upperReal, RENAME_EXCHANGE));
      } else {
        fs.renameSync(upperReal, tmp);
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    } else if (whiteout) {
      const tmp = this.copyUp.tmpPath();
      makeWhiteout(tmp);
      fs.renameSync(tmp, upperReal);
    } else {
      fs.unlinkSync(upperReal);
    }
    if (whiteout) this.stats.whiteout(node.path);
    if (node.top.st.nlink <= 1 || node.dirs) this.inodes.forget(0, node.top.st.dev, node.top.st.ino);
  }

  rename(from: string, to: string): void {
    this.writable();
    if (from === to) return;
    if (to.startsWith(from + '/')) fail(E.EINVAL);
    const src = this.resolver.get(from);
    const [fdir, fname] = splitPath(from);
    const [tdir, tname] = splitPath(to);
    const srcParent = this.resolver.get(fdir);
    const dstParent = this.resolver.get(tdir);
    if (!dstParent.dirs) fail(E.ENOTDIR);
    const dst = this.resolver.child(dstParent, tname);
    if (dst) {
      if (src.dirs && !dst.dirs) fail(E.ENOTDIR);
      if (!src.dirs && dst.dirs) fail(E.EISDIR);
      // As the kernel: a target dir with lower layers is checked for emptiness before anything
      // is copied up; a pure upper one only by the rename itself, after the source's copy-up.
      if (dst.dirs && !pureUpper(dst) && this.list(dst).length > 0) fail(E.ENOTEMPTY);
      // Two names of one upper file: rename(2) does nothing. (Two names of a lower hard link are
      // distinct files to overlayfs without index=on, and the kernel renames them for real.)
      if (dst.top.layer === 0 && src.top.layer === 0 && dst.top.st.ino === src.top.st.ino && dst.top.st.dev === src.top.st.dev) return;
    }
    const leaveWhiteout = src.top.layer !== 0 || this.resolver.lowerHas(srcParent, fname);
    const lowerDirs = src.dirs?.filter((d) => d.layer !== 0) ?? [];
    const kind = renameReason(src);
    const up = this.copyUp.ensure(src, kind);
    this.copyUp.ensureParent(this.resolver.get(tdir), kind);
    const srcReal = this.real(up);
    const dstReal = this.stack.upperPath(to);
    this.markMoved(srcReal, !!src.dirs, lowerDirs, dstParent, tname, to);
    if (dst?.dirs && pureUpper(dst) && this.list(dst).length > 0) fail(E.ENOTEMPTY);
    const dstSt = lstatOrNull(dstReal);
    if (dstSt?.mode !== undefined && isDir(dstSt.mode)) {
      // The merged target dir is empty, but its upper copy may hold whiteouts: clear them first.
      for (const n of fs.readdirSync(dstReal)) fs.unlinkSync(dstReal + '/' + n);
    }
    if (src.dirs && dstSt && !isDir(dstSt.mode)) {
      // A dir can't replace a whiteout with rename(2): exchange the two, then settle the old name.
      check(native.renameat2(srcReal, dstReal, RENAME_EXCHANGE));
      if (!leaveWhiteout) fs.unlinkSync(srcReal);
    } else {
      this.renameLeaving(srcReal, dstReal, leaveWhiteout);
    }
    if (leaveWhiteout) this.stats.whiteout(from);
    if (dstSt && dst && (dstSt.nlink <= 1 || isDir(dstSt.mode))) this.inodes.forget(0, dstSt.dev, dstSt.ino);
    if (src.dirs || dst?.dirs) this.resolver.invalidate();
  }

  /**
   * renameat2(RENAME_EXCHANGE): both names copied up, marked as a rename marks a moved dir (a
   * redirect to its lower origin, or opaque where the other name has a lower dir), then swapped.
   */
  exchange(a: string, b: string): void {
    this.writable();
    if (a === b) return;
    if (a.startsWith(b + '/') || b.startsWith(a + '/')) fail(E.EINVAL);
    const na = this.resolver.get(a);
    const nb = this.resolver.get(b);
    const [adir, aname] = splitPath(a);
    const [bdir, bname] = splitPath(b);
    const lowerA = na.dirs?.filter((d) => d.layer !== 0) ?? [];
    const lowerB = nb.dirs?.filter((d) => d.layer !== 0) ?? [];
    const ua = this.copyUp.ensure(na, renameReason(na));
    const nb2 = this.resolver.get(b);
    const ub = this.copyUp.ensure(nb2, renameReason(nb2));
    const realA = this.real(ua);
    const realB = this.real(ub);
    this.markMoved(realA, !!na.dirs, lowerA, this.resolver.get(bdir), bname, b);
    this.markMoved(realB, !!nb.dirs, lowerB, this.resolver.get(adir), aname, a);
    check(native.renameat2(realA, realB, RENAME_EXCHANGE));
    this.resolver.invalidate();
  }

  /** A dir moving to `name` in `dstParent` (merged path `to`): it keeps merging with its lower origin, or hides what lies below its new name. */
  private markMoved(real: string, isDir: boolean, lowerDirs: Entry[], dstParent: Node, name: string, to: string): void {
    if (!isDir) return;
    if (lowerDirs.length > 0) {
      if (getRedirect(real) !== null) return;
      setRedirect(real, lowerDirs[0].rel);
      this.stats.redirect(to, lowerDirs[0].rel);
    } else if (this.resolver.lowerHas(dstParent, name)) {
      setOpaque(real);
      this.stats.opaque(to);
    }
  }

  private renameLeaving(srcReal: string, dstReal: string, whiteout: boolean): void {
    if (!whiteout) return fs.renameSync(srcReal, dstReal);
    const r = native.renameat2(srcReal, dstReal, RENAME_WHITEOUT);
    if (r === -E.EINVAL) {
      // Filesystem without RENAME_WHITEOUT: two steps.
      fs.renameSync(srcReal, dstReal);
      makeWhiteout(srcReal);
      return;
    }
    check(r);
  }

  /**
   * Create a new name in the upper dir with `make`. Over a whiteout, the object is built in the
   * work dir and swapped in atomically; a directory made there is opaque (it must not show what
   * the deleted directory held).
   */
  private place(path: string, caller: Caller | null, make: (real: string) => void, isNewDir = false, cause: CopyUpCause = 'create'): void {
    this.writable();
    const [dir, name] = splitPath(path);
    if (name.length > 255) fail(E.ENAMETOOLONG);
    const parent = this.resolver.get(dir);
    if (!parent.dirs) fail(E.ENOTDIR);
    const dst = this.stack.upperPath(path);
    let existing: Stat | null = null;
    let pUp: Entry;
    if (this.resolver.lowerChild(parent, name)) {
      // A lower name: only a whiteout over it in the upper dir lets a new one be made there.
      existing = lstatOrNull(dst);
      if (!existing || !isWhiteout(existing)) fail(E.EEXIST);
      pUp = this.copyUp.ensureParent(parent, cause);
    } else {
      // No lower name: make it in place; EEXIST says the upper name is taken, by a file or a whiteout.
      pUp = this.copyUp.ensureParent(parent, cause);
      try {
        make(dst);
      } catch (err) {
        if (toErrno(err) !== E.EEXIST) throw err;
        existing = lstatOrNull(dst);
        if (!existing || !isWhiteout(existing)) throw err;
      }
    }
    const target = existing ? this.copyUp.tmpPath() : dst;
    if (existing) make(target);
    try {
      if (caller) this.own(target, caller, pUp.st);
      // As the kernel does: a new dir in a merged dir is opaque, so its lookups skip the lowers.
      if (isNewDir && !existing && parent.dirs.some((d) => d.layer !== 0)) {
        setOpaque(target);
        this.stats.opaque(path);
      }
      if (!existing) return;
      if (isNewDir) {
        setOpaque(target); // over a whiteout: must not show what the deleted dir held
        this.stats.opaque(path);
        check(native.renameat2(target, dst, RENAME_EXCHANGE));
        fs.rmSync(target, { recursive: true, force: true });
      } else {
        fs.renameSync(target, dst);
      }
    } catch (err) {
      if (existing) fs.rmSync(target, { recursive: true, force: true });
      else fs.rmSync(dst, { recursive: true, force: true });
      throw err;
    } finally {
      if (isNewDir) this.resolver.invalidate();
    }
  }

  /** New objects belong to the caller; a setgid parent passes on its group (and, to dirs, the bit). */
  private own(real: string, caller: Caller, parentSt: Stat): void {
    const setgid = (parentSt.mode & S_ISGID) !== 0;
    const gid = setgid ? parentSt.gid : caller.gid;
    if (caller.uid !== 0 || gid !== 0) fs.lchownSync(real, caller.uid, gid);
    if (setgid) {
      const st = lstat(real);
      if (isDir(st.mode)) fs.chmodSync(real, (st.mode & 0o7777) | S_ISGID);
    }
  }

  // ---- changing attributes (each copies up first) ---------------------------------------------

  chmod(path: string, mode: number): void {
    const e = this.upper(path);
    if (isLnk(e.st.mode)) fail(E.EOPNOTSUPP);
    fs.chmodSync(this.real(e), mode & 0o7777);
  }

  chown(path: string, uid: number, gid: number): void {
    const e = this.upper(path);
    fs.lchownSync(this.real(e), uid === 0xffffffff ? -1 : uid, gid === 0xffffffff ? -1 : gid);
  }

  utimens(path: string, aSec: number, aNsec: number, mSec: number, mNsec: number): void {
    if (aNsec === UTIME_OMIT && mNsec === UTIME_OMIT) return void this.resolver.get(path);
    const e = this.upper(path);
    check(native.lutimens(this.real(e), aSec, aNsec, mSec, mNsec));
  }

  truncate(path: string, size: number): void {
    const node = this.resolver.get(path);
    if (node.dirs) fail(E.EISDIR);
    this.writable();
    const e = this.copyUp.ensure(node, 'truncate', { noData: size === 0 });
    fs.truncateSync(this.real(e), size);
  }

  setxattr(path: string, name: string, value: Buffer, flags: number): void {
    if (isPrivateXattr(name)) fail(E.EOPNOTSUPP);
    const e = this.upper(path);
    check(native.lsetxattr(this.real(e), name, value, flags));
  }

  removexattr(path: string, name: string): void {
    if (isPrivateXattr(name)) fail(E.EOPNOTSUPP);
    const e = this.upper(path);
    check(native.lremovexattr(this.real(e), name));
  }

  /**
   * Drop setuid, and setgid where group execute is set, as a write, truncate or chown by a caller
   * without CAP_FSETID must (FUSE_HANDLE_KILLPRIV_V2 leaves it to the daemon, which is root: its
   * own writes keep the bits). Through the handle when there is one, else the path's upper file.
   * `mode` is the file's mode when the caller has just read it. True when bits were dropped.
   */
  killSetid(path: string | null, fh: number, mode?: number): boolean {
    if (mode !== undefined && !setidToKill(mode)) return false;
    if (fh) return dropSetid(this.handle(fh).fd);
    if (path === null) return false;
    const e = this.upper(path);
    const kill = isReg(e.st.mode) ? setidToKill(e.st.mode) : 0;
    if (kill) fs.chmodSync(this.real(e), e.st.mode & 0o7777 & ~kill);
    return kill !== 0;
  }

  /** The upper entry of a path, copied up if needed (for a change of its metadata). */
  private upper(path: string): Entry {
    this.writable();
    return this.copyUp.ensure(this.resolver.get(path), 'metadata');
  }

  // ---- a file with no name left, reached through one of its open handles ------------------------
  // (unlinked while open: both transports keep serving it, as any local filesystem does)

  /** The attributes of an open file by its inode number, or ENOENT when no handle holds it open. */
  attrOfOpen(ino: number): Attr {
    return this.fstatAttr(this.openFd(ino), ino);
  }

  /** Another open of a file that has no name left (through /proc/self/fd of a handle). */
  reopen(ino: number, flags: number): number {
    const fd = fs.openSync(`/proc/self/fd/${this.openFd(ino)}`, flags & ~(O.O_CREAT | O.O_EXCL | O.O_TRUNC));
    return this.handles.add({ fd, ino, final: true });
  }

  /** setattr of an open file with no name left; it lives in the upper dir already (it was opened for writing or copied up). */
  changeOpen(ino: number, c: AttrChange): void {
    this.writable();
    const fd = this.openFd(ino);
    if (c.size !== undefined) fs.ftruncateSync(fd, c.size);
    if (c.uid !== undefined || c.gid !== undefined) fs.fchownSync(fd, c.uid ?? -1, c.gid ?? -1);
    if (c.mode !== undefined) fs.fchmodSync(fd, c.mode & 0o7777);
    if (c.times) check(native.futimens(fd, ...c.times));
    if (c.killSetid) dropSetid(fd);
  }

  private openFd(ino: number): number {
    return this.handles.fdOf(ino) ?? fail(E.ENOENT);
  }

  private writable(): void {
    if (!this.stack.hasUpper) fail(E.EROFS);
  }

  private real(e: Entry): string {
    return this.stack.real(e.layer, e.rel);
  }
}

/** A directory that lives in the upper dir alone (overlayfs's ovl_pure_upper). */
const pureUpper = (n: Node) => n.dirs !== null && n.dirs.every((d) => d.layer === 0);

function toAttr(st: Stat, ino: number, nlink: number): Attr {
  return {
    ino,
    mode: st.mode,
    nlink,
    uid: st.uid,
    gid: st.gid,
    rdev: st.rdev,
    size: st.size,
    blksize: st.blksize,
    blocks: st.blocks,
    dev: 0,
    atimeSec: st.atimeSec,
    atimeNsec: st.atimeNsec,
    mtimeSec: st.mtimeSec,
    mtimeNsec: st.mtimeNsec,
    ctimeSec: st.ctimeSec,
    ctimeNsec: st.ctimeNsec,
  };
}

const S_ISUID = 0o4000;
const S_IXGRP = 0o010;

/** The set-id bits a write or chown by an unprivileged caller drops from `mode` (setgid only with group execute). */
const setidToKill = (mode: number) => mode & (S_ISUID | (mode & S_IXGRP ? S_ISGID : 0));

function dropSetid(fd: number): boolean {
  const mode = fs.fstatSync(fd).mode;
  const kill = setidToKill(mode);
  if (kill) fs.fchmodSync(fd, mode & 0o7777 & ~kill);
  return kill !== 0;
}

/** What a rename copies its object up for: a dir gets a redirect, a file does not. */
const renameReason = (n: Node): 'rename-dir' | 'rename-file' => (n.dirs ? 'rename-dir' : 'rename-file');
