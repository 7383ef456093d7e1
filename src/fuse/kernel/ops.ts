// The kernel transport's requests, one handler each, mapped onto the union core: a node id becomes
// a merged path through the node table, the union does the overlay work, and the reply carries
// long cache lifetimes (lowers never change and every change comes through this mount).
import fs from 'node:fs';
import { RENAME_EXCHANGE, RENAME_NOREPLACE } from '../../sys/native.js';
import { E, fail } from '../../sys/errors.js';
import type { Union, Attr, AttrChange } from '../../union/union.js';
import type { Stat } from '../../sys/stat.js';
import type { Entry, Node } from '../../union/lower-view.js';
import { NodeTable, ROOT_NODE, type FsNode } from '../../union/node-table.js';
import { BACKGROUND_COPY_MIN } from '../../union/copy-up.js';
import { FATTR, FOPEN, GETATTR_FH, FSYNC_FDATASYNC, INIT, OP, OPEN_KILL_SUIDGID, SIZE, WRITE_KILL_SUIDGID } from './protocol.js';
import { PassthroughTable } from './passthrough.js';
import { cstr, direntSize, direntType, u64, writeAttrOut, writeEntry, writeU64, type Header } from './wire.js';

export interface CacheTimes {
  entry: number;
  attr: number;
  negative: number;
}

export interface KernelOptions extends CacheTimes {
  /** FOPEN_CACHE_DIR for listings and FOPEN_KEEP_CACHE for files (off: every open re-reads). */
  keepCache: boolean;
}

/** Where a handler puts its reply: `out` after the 16-byte header; it returns the payload length. */
export interface ReplyBuffer {
  out: Buffer;
}

const O = fs.constants;
const O_ACCMODE = 3;
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const H: number = SIZE.OUT_HEADER;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** A listing taken at the first READDIR of an open dir, served by offset to later ones. */
interface Listing {
  path: string;
  names: { name: string; ino: number; mode: number; entry?: Entry }[] | null;
  /** The index's id of the lower stack listed (undefined: none, or no index). */
  lowerStack?: number;
}

/** What a SETATTR asks for, read once from fuse_setattr_in (times as utimensat takes them, with UTIME_OMIT/UTIME_NOW). */
function setattrChange(valid: number, body: Buffer): AttrChange {
  const time = (set: number, now: number, secOff: number, nsecOff: number): [number, number] =>
    !(valid & set) ? [0, UTIME_OMIT] : valid & now ? [0, UTIME_NOW] : [u64(body, secOff), body.readUInt32LE(nsecOff)];
  return {
    ...(valid & FATTR.SIZE ? { size: u64(body, 16) } : {}),
    ...(valid & FATTR.KILL_SUIDGID ? { killSetid: true } : {}),
    ...(valid & FATTR.MODE ? { mode: body.readUInt32LE(68) } : {}),
    ...(valid & FATTR.UID ? { uid: body.readUInt32LE(76) } : {}),
    ...(valid & FATTR.GID ? { gid: body.readUInt32LE(80) } : {}),
    ...(valid & (FATTR.ATIME | FATTR.MTIME)
      ? { times: [...time(FATTR.ATIME, FATTR.ATIME_NOW, 32, 56), ...time(FATTR.MTIME, FATTR.MTIME_NOW, 40, 60)] as AttrChange['times'] }
      : {}),
  };
}

export class KernelOps {
  readonly nodes = new NodeTable();
  private dirs = new Map<number, Listing>();
  readonly passthrough: PassthroughTable;
  private nextDirFh = 1;

  constructor(
    private u: Union,
    private o: KernelOptions,
    private buf: ReplyBuffer & { fd: number; negotiated: { flags: bigint } | null },
    log: (line: string) => void,
  ) {
    this.passthrough = new PassthroughTable(buf.fd, () => ((buf.negotiated?.flags ?? 0n) & INIT.PASSTHROUGH) !== 0n, o.keepCache, log);
  }

  private pathOf(id: number): string {
    return this.nodes.pathOf(id) ?? fail(E.ENOENT);
  }

  private childPath(parent: number, name: string): string {
    if (name.length > 255 || Buffer.byteLength(name) > 255) fail(E.ENAMETOOLONG);
    const p = this.pathOf(parent);
    return p === '/' ? '/' + name : p + '/' + name;
  }

  /** The node an entry reply hands out for a resolved name, counted as one more lookup. */
  private entryFor(parent: number, name: string, n: Node): { node: FsNode; attr: Attr } {
    const attr = this.u.attrOf(n);
    const upperFile = !n.dirs && n.top.layer === 0 && this.u.stack.hasUpper;
    const key = upperFile ? `${n.top.st.dev}:${n.top.st.ino}` : null;
    const node = this.nodes.lookedUp(parent, name, { key, dir: !!n.dirs, ino: attr.ino, fmt: attr.mode & S_IFMT, size: attr.size });
    return { node, attr };
  }

  /** Write the fuse_entry_out of resolved name `n` at `off` (its node counted as looked up); returns its attributes. */
  private writeEntryOf(parent: number, name: string, n: Node, off: number): Attr {
    const { node, attr } = this.entryFor(parent, name, n);
    writeEntry(this.buf.out, off, node.id, 0, this.o.entry, this.o.attr, attr);
    return attr;
  }

  /** Write a fuse_entry_out for `name` (now in the union) at `off`; returns 128. */
  private entry(parent: number, name: string, off = H): number {
    this.writeEntryOf(parent, name, this.u.resolver.get(this.childPath(parent, name)), off);
    return SIZE.ENTRY_OUT;
  }

  /** A file handle the kernel names, if we still hold it (0: none, answer by node). */
  private liveFh(fh: number): number {
    return fh && this.u.handles.get(fh) ? fh : 0;
  }

  private attrOut(a: Attr): number {
    writeAttrOut(this.buf.out, H, this.o.attr, a);
    return SIZE.ATTR_OUT;
  }

  /** The attributes of a node: by its path, or through an open handle once it has no name left. */
  private attrOfNode(id: number, fh?: number): Attr {
    if (fh) return this.u.fgetattr(fh);
    const p = this.nodes.pathOf(id);
    if (p !== null) return (this.nodes.get(id)!.key !== null && this.u.known.attr(p)) || this.u.getattr(p);
    return this.u.attrOfOpen(this.nodes.get(id)?.ino ?? fail(E.ENOENT));
  }

  // ---- handlers: each returns the reply payload length, or throws an FsError ------------------

  lookup(h: Header, body: Buffer): number {
    const [name] = cstr(body, 0, body.length);
    const n = this.u.resolver.lookup(this.childPath(h.nodeid, name));
    if (!n) {
      // A negative entry: the kernel remembers the name is missing (a create through us replaces it).
      writeEntry(this.buf.out, H, 0, 0, this.o.negative, 0, null);
      return SIZE.ENTRY_OUT;
    }
    this.writeEntryOf(h.nodeid, name, n, H);
    return SIZE.ENTRY_OUT;
  }

  forget(h: Header, body: Buffer): void {
    this.nodes.forget(h.nodeid, u64(body, 0));
  }

  batchForget(_h: Header, body: Buffer): void {
    const count = body.readUInt32LE(0);
    for (let i = 0, o = 8; i < count && o + 16 <= body.length; i++, o += 16) this.nodes.forget(u64(body, o), u64(body, o + 8));
  }

  getattr(h: Header, body: Buffer): number {
    const flags = body.length >= 16 ? body.readUInt32LE(0) : 0;
    const fh = flags & GETATTR_FH ? u64(body, 8) : 0;
    return this.attrOut(this.attrOfNode(h.nodeid, this.liveFh(fh)));
  }

  setattr(h: Header, body: Buffer): number {
    const valid = body.readUInt32LE(0);
    const fh = this.liveFh(valid & FATTR.FH ? u64(body, 8) : 0);
    const c = setattrChange(valid, body);
    const p = this.nodes.pathOf(h.nodeid);
    if (p === null) {
      // A file with no name left (unlinked while open): changed through its open handles.
      this.u.changeOpen(this.nodes.get(h.nodeid)?.ino ?? fail(E.ENOENT), c);
    } else {
      // An upper non-dir is changed in place (known-upper.ts); anything else, or a miss, through the union.
      const node = this.nodes.get(h.nodeid)!;
      if (node.key !== null && c.size === undefined && (c.mode === undefined || node.fmt === S_IFREG)) {
        // owner, mode and times at once, through the open fd where the caller named one (tar's fchown, fchmod, futimens)
        const h2 = fh ? this.u.handles.get(fh) : undefined;
        const mode = c.mode === undefined ? -1 : c.mode & 0o7777;
        const attr = this.u.known.setattr(p, h2?.final ? h2.fd : -1, c.uid ?? 0xffffffff, c.gid ?? 0xffffffff, mode, c.times);
        if (attr) {
          if (c.killSetid && this.u.killSetid(p, fh, attr.mode)) return this.attrOut(this.attrOfNode(h.nodeid, fh));
          return this.attrOut(attr);
        }
      }
      const known = node.key !== null ? this.u.known : null;
      if (c.size !== undefined) {
        if (fh) this.u.ftruncate(fh, c.size);
        else if (!known?.truncate(p, c.size)) this.u.truncate(p, c.size);
      }
      if (c.uid !== undefined || c.gid !== undefined)
        if (!known?.chown(p, c.uid ?? 0xffffffff, c.gid ?? 0xffffffff)) this.u.chown(p, c.uid ?? 0xffffffff, c.gid ?? 0xffffffff);
      if (c.mode !== undefined) if (!(known && node.fmt === S_IFREG && known.chmod(p, c.mode))) this.u.chmod(p, c.mode);
      if (c.times) if (!known?.utimens(p, ...c.times)) this.u.utimens(p, ...c.times);
    }
    const attr = this.attrOfNode(h.nodeid, fh);
    if (c.killSetid && p !== null && this.u.killSetid(p, fh, attr.mode)) return this.attrOut(this.attrOfNode(h.nodeid, fh));
    return this.attrOut(attr);
  }

  readlink(h: Header): number {
    const target = Buffer.from(this.u.readlink(this.pathOf(h.nodeid)));
    target.copy(this.buf.out, H);
    return target.length;
  }

  private caller = (h: Header) => ({ uid: h.uid, gid: h.gid });

  mknod(h: Header, body: Buffer): number {
    const mode = body.readUInt32LE(0);
    const rdev = body.readUInt32LE(4);
    const [name] = cstr(body, 16, body.length);
    this.u.mknod(this.childPath(h.nodeid, name), mode, rdev, this.caller(h));
    return this.entry(h.nodeid, name);
  }

  mkdir(h: Header, body: Buffer): number {
    const mode = body.readUInt32LE(0);
    const [name] = cstr(body, 8, body.length);
    this.u.mkdir(this.childPath(h.nodeid, name), mode, this.caller(h));
    return this.entry(h.nodeid, name);
  }

  symlink(h: Header, body: Buffer): number {
    const [name, next] = cstr(body, 0, body.length);
    const [target] = cstr(body, next, body.length);
    this.u.symlink(target, this.childPath(h.nodeid, name), this.caller(h));
    return this.entry(h.nodeid, name);
  }

  link(h: Header, body: Buffer): number {
    const old = u64(body, 0);
    const [name] = cstr(body, 8, body.length);
    const path = this.childPath(h.nodeid, name);
    this.u.link(this.pathOf(old), path);
    // The new name is the same upper file as the old node: one node, so one kernel inode for both.
    const n = this.u.resolver.get(path);
    const node = this.nodes.get(old);
    if (node) this.nodes.setKey(node, `${n.top.st.dev}:${n.top.st.ino}`);
    return this.entry(h.nodeid, name);
  }

  unlink(h: Header, body: Buffer): number {
    const [name] = cstr(body, 0, body.length);
    this.u.unlink(this.childPath(h.nodeid, name));
    this.nodes.unlinked(h.nodeid, name);
    return 0;
  }

  rmdir(h: Header, body: Buffer): number {
    const [name] = cstr(body, 0, body.length);
    this.u.rmdir(this.childPath(h.nodeid, name));
    this.nodes.unlinked(h.nodeid, name);
    return 0;
  }

  rename(h: Header, body: Buffer): number {
    return this.renameWith(h, u64(body, 0), 0, body, 8);
  }

  rename2(h: Header, body: Buffer): number {
    return this.renameWith(h, u64(body, 0), body.readUInt32LE(8), body, 16);
  }

  private renameWith(h: Header, newDir: number, flags: number, body: Buffer, at: number): number {
    const [from, next] = cstr(body, at, body.length);
    const [to] = cstr(body, next, body.length);
    const src = this.childPath(h.nodeid, from);
    const dst = this.childPath(newDir, to);
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) fail(E.EINVAL);
    if (flags & RENAME_EXCHANGE) {
      this.u.exchange(src, dst);
      this.nodes.exchanged(h.nodeid, from, newDir, to);
      return 0;
    }
    if (flags & RENAME_NOREPLACE && this.u.resolver.lookup(dst)) fail(E.EEXIST);
    this.u.rename(src, dst);
    this.nodes.renamed(h.nodeid, from, newDir, to);
    return 0;
  }

  private openOut(fh: number, flags: number, backingId = 0, at = H): number {
    writeU64(this.buf.out, at, fh);
    this.buf.out.writeUInt32LE(flags, at + 8);
    this.buf.out.writeInt32LE(backingId, at + 12);
    return SIZE.OPEN_OUT;
  }

  /** A file handle's open flags: passthrough where the kernel takes it, else cached (see passthrough.ts). */
  private fileOpenOut(nodeId: number, fh: number, flags: number, at = H): number {
    const r = this.passthrough.opened(nodeId, fh, this.u.handles.get(fh)!.fd, (flags & O_ACCMODE) !== O.O_RDONLY);
    return this.openOut(fh, r.flags, r.backingId, at);
  }

  open(h: Header, body: Buffer): number {
    const flags = body.readUInt32LE(0);
    const p = this.nodes.pathOf(h.nodeid);
    const fh = p !== null ? this.u.open(p, flags) : this.u.reopen(this.nodes.get(h.nodeid)?.ino ?? fail(E.ENOENT), flags);
    if (body.readUInt32LE(4) & OPEN_KILL_SUIDGID) this.u.killSetid(p, fh); // O_TRUNC by a caller without CAP_FSETID
    return this.fileOpenOut(h.nodeid, fh, flags);
  }

  create(h: Header, body: Buffer): number {
    const flags = body.readUInt32LE(0);
    const mode = body.readUInt32LE(4);
    const [name] = cstr(body, 16, body.length);
    const path = this.childPath(h.nodeid, name);
    const { fh, node } = this.u.createNode(path, mode, flags, this.caller(h));
    if (body.readUInt32LE(12) & OPEN_KILL_SUIDGID) this.u.killSetid(null, fh);
    try {
      this.writeEntryOf(h.nodeid, name, node, H);
    } catch (err) {
      this.u.release(fh);
      throw err;
    }
    const made = this.nodes.child(h.nodeid, name)!;
    if (made.nlookup === 1) made.noCaps = true; // a new node for the new file (not one of another name's)
    const nodeId = made.id;
    this.fileOpenOut(nodeId, fh, flags, H + SIZE.ENTRY_OUT);
    return SIZE.ENTRY_OUT + SIZE.OPEN_OUT;
  }

  read(_h: Header, body: Buffer): number {
    const fh = u64(body, 0);
    const off = u64(body, 8);
    const size = Math.min(body.readUInt32LE(16), this.buf.out.length - H);
    return this.u.read(fh, this.buf.out.subarray(H), size, off);
  }

  write(_h: Header, body: Buffer): number {
    const fh = u64(body, 0);
    const off = u64(body, 8);
    const size = body.readUInt32LE(16);
    if (body.readUInt32LE(20) & WRITE_KILL_SUIDGID) this.u.killSetid(null, fh);
    const n = this.u.write(fh, body.subarray(40, 40 + size), size, off);
    this.buf.out.writeUInt32LE(n, H);
    this.buf.out.writeUInt32LE(0, H + 4);
    return SIZE.WRITE_OUT;
  }

  statfs(): number {
    const s = this.u.statfs(); // bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax
    const b = this.buf.out;
    writeU64(b, H, s[2]);
    writeU64(b, H + 8, s[3]);
    writeU64(b, H + 16, s[4]);
    writeU64(b, H + 24, s[5]);
    writeU64(b, H + 32, s[6]);
    b.writeUInt32LE(s[0], H + 40);
    b.writeUInt32LE(s[10], H + 44);
    b.writeUInt32LE(s[1], H + 48);
    b.fill(0, H + 52, H + SIZE.STATFS_OUT);
    return SIZE.STATFS_OUT;
  }

  release(_h: Header, body: Buffer): number {
    const fh = u64(body, 0);
    this.passthrough.released(fh);
    this.u.release(fh);
    return 0;
  }

  fsync(_h: Header, body: Buffer): number {
    this.u.fsync(u64(body, 0), (body.readUInt32LE(8) & FSYNC_FDATASYNC) !== 0);
    return 0;
  }

  setxattr(h: Header, body: Buffer): number {
    const size = body.readUInt32LE(0);
    const flags = body.readUInt32LE(4);
    const [name, next] = cstr(body, 8, body.length);
    const node = this.nodes.get(h.nodeid);
    if (node) node.noCaps = false;
    this.u.setxattr(this.pathOf(h.nodeid), name, Buffer.from(body.subarray(next, next + size)), flags);
    return 0;
  }

  getxattr(h: Header, body: Buffer): number {
    const size = body.readUInt32LE(0);
    const [name] = cstr(body, 8, body.length);
    if (name === 'security.capability' && this.nodes.get(h.nodeid)?.noCaps) return -E.ENODATA;
    const p = this.pathOf(h.nodeid);
    let v = this.nodes.get(h.nodeid)!.key !== null ? this.u.known.getxattr(p, name) : undefined;
    if (v === undefined) v = this.u.getxattr(p, name);
    if (v === null) return -E.ENODATA; // the usual answer (security.capability before writes): not worth a throw
    return this.sized(v, size);
  }

  listxattr(h: Header, body: Buffer): number {
    const size = body.readUInt32LE(0);
    const names = this.u.listxattr(this.pathOf(h.nodeid));
    return this.sized(Buffer.from(names.map((n) => n + '\0').join('')), size);
  }

  /** A variable-length xattr answer: its size when asked with 0, ERANGE when it does not fit. */
  private sized(v: Buffer, size: number): number {
    if (size === 0) {
      this.buf.out.writeUInt32LE(v.length, H);
      this.buf.out.writeUInt32LE(0, H + 4);
      return SIZE.GETXATTR_OUT;
    }
    if (v.length > size) fail(E.ERANGE);
    v.copy(this.buf.out, H);
    return v.length;
  }

  removexattr(h: Header, body: Buffer): number {
    const [name] = cstr(body, 0, body.length);
    this.u.removexattr(this.pathOf(h.nodeid), name);
    return 0;
  }

  access(h: Header): number {
    this.u.resolver.get(this.pathOf(h.nodeid)); // the kernel checks permissions (default_permissions)
    return 0;
  }

  opendir(h: Header): number {
    const path = this.pathOf(h.nodeid);
    const n = this.u.resolver.get(path);
    if (!n.dirs) fail(E.ENOTDIR);
    const fh = this.nextDirFh++;
    this.dirs.set(fh, { path, names: null });
    return this.openOut(fh, this.o.keepCache ? FOPEN.CACHE_DIR | FOPEN.KEEP_CACHE : 0);
  }

  releasedir(_h: Header, body: Buffer): number {
    this.dirs.delete(u64(body, 0));
    return 0;
  }

  /** READDIR and READDIRPLUS: entries from `offset` (an index into the listing) that fit `size`. */
  readdir(h: Header, body: Buffer, plus: boolean): number {
    const fh = u64(body, 0);
    const offset = u64(body, 8);
    const size = Math.min(body.readUInt32LE(16), this.buf.out.length - H);
    const l = this.dirs.get(fh) ?? fail(E.EBADF);
    if (!l.names) {
      const dot = { name: '.', ino: 1, mode: O.S_IFDIR };
      const node = this.u.resolver.get(l.path);
      if (!node.dirs) fail(E.ENOTDIR);
      l.lowerStack = this.u.resolver.lowerStackOf(node);
      l.names = [dot, { ...dot, name: '..' }, ...this.u.list(node)];
    }
    const out = this.buf.out;
    let pos = H;
    // READDIRPLUS: the dir resolved once per reply; a lower non-dir the listing found is not resolved
    // again while the dir's lower stack is the one listed (only the upper dir is looked at).
    const dirPath = plus ? this.pathOf(h.nodeid) : '';
    const dir = plus ? this.u.resolver.lookup(dirPath) : null;
    const reuse = dir?.dirs && l.lowerStack !== undefined && this.u.resolver.lowerStackOf(dir) === l.lowerStack;
    for (let i = offset; i < l.names.length; i++) {
      const e = l.names[i];
      const nameLen = Buffer.byteLength(e.name);
      const rec = direntSize(nameLen, plus);
      if (pos - H + rec > size) break;
      let d = pos;
      let ino = e.ino;
      let mode = e.mode;
      if (plus) {
        if (e.name === '.' || e.name === '..' || !dir) writeEntry(out, pos, 0, 0, 0, 0, null);
        else {
          const listed = reuse && e.entry && e.entry.layer !== 0 && e.entry.dirId === undefined ? e.entry : null;
          const n = listed ? this.u.resolver.listedChild(dir, e.name, listed) : this.u.resolver.lookup(dirPath === '/' ? '/' + e.name : dirPath + '/' + e.name);
          if (!n) writeEntry(out, pos, 0, 0, 0, 0, null);
          else {
            const attr = this.writeEntryOf(h.nodeid, e.name, n, pos);
            ino = attr.ino;
            mode = attr.mode;
          }
        }
        d = pos + SIZE.ENTRY_OUT;
      }
      writeU64(out, d, ino);
      writeU64(out, d + 8, i + 1);
      out.writeUInt32LE(nameLen, d + 16);
      out.writeUInt32LE(direntType(mode), d + 20);
      out.write(e.name, d + 24, 'utf8');
      out.fill(0, d + 24 + nameLen, pos + rec);
      pos += rec;
    }
    return pos - H;
  }

  fallocate(_h: Header, body: Buffer): number {
    this.u.fallocate(u64(body, 0), body.readUInt32LE(24), u64(body, 8), u64(body, 16));
    return 0;
  }

  lseek(_h: Header, body: Buffer): number {
    const r = this.u.lseek(u64(body, 0), u64(body, 8), body.readUInt32LE(16));
    writeU64(this.buf.out, H, r);
    return SIZE.LSEEK_OUT;
  }

  copyFileRange(_h: Header, body: Buffer): number {
    const n = this.u.copyFileRange(u64(body, 0), u64(body, 8), u64(body, 24), u64(body, 32), u64(body, 40));
    this.buf.out.writeUInt32LE(n, H);
    this.buf.out.writeUInt32LE(0, H + 4);
    return SIZE.WRITE_OUT;
  }

  /** The merged path whose copy-up this request would start (a write, a metadata change, a link), or null. */
  copyUpTarget(h: Header, body: Buffer): string | null {
    // A node keyed by its upper file is in the upper dir already: nothing to copy, and no path to resolve.
    if (h.opcode !== OP.RENAME && h.opcode !== OP.RENAME2) {
      const n = this.nodes.get(h.opcode === OP.LINK ? u64(body, 0) : h.nodeid);
      if (n?.key) return null;
      // A lower node's type and size never change: one that is no big regular file copies up in the
      // foreground anyway, so it is not resolved here a first time.
      if (n && n.fmt !== 0 && (n.fmt !== S_IFREG || n.size < BACKGROUND_COPY_MIN)) return null;
    }
    switch (h.opcode) {
      case OP.OPEN: {
        const flags = body.readUInt32LE(0);
        return (flags & 3) !== O.O_RDONLY && !(flags & O.O_TRUNC) ? this.nodes.pathOf(h.nodeid) : null;
      }
      case OP.SETATTR: {
        const valid = body.readUInt32LE(0);
        const onlyTruncate = (valid & ~(FATTR.FH | FATTR.LOCKOWNER)) === FATTR.SIZE && u64(body, 16) === 0;
        return onlyTruncate ? null : this.nodes.pathOf(h.nodeid);
      }
      case OP.SETXATTR:
      case OP.REMOVEXATTR:
        return this.nodes.pathOf(h.nodeid);
      case OP.LINK:
        return this.nodes.pathOf(u64(body, 0));
      case OP.RENAME:
      case OP.RENAME2: {
        const [name] = cstr(body, h.opcode === OP.RENAME ? 8 : 16, body.length);
        const dir = this.nodes.pathOf(h.nodeid);
        return dir === null ? null : dir === '/' ? '/' + name : dir + '/' + name;
      }
      default:
        return null;
    }
  }

  /** Something at `path` was copied up: a file's node is keyed by its upper file from now on (and takes the fast paths). Returns the node id, if the kernel has one. */
  copiedUp(path: string, isDir: boolean, upper: Stat): number | undefined {
    const id = this.nodeAt(path);
    const node = id === undefined ? undefined : this.nodes.get(id);
    if (node && !isDir && node.key === null) this.nodes.setKey(node, `${upper.dev}:${upper.ino}`);
    return id;
  }

  /** The node id the kernel knows a merged path by, if it has one. */
  private nodeAt(path: string): number | undefined {
    if (path === '/') return ROOT_NODE;
    let id = ROOT_NODE;
    for (const name of path.split('/').filter(Boolean)) {
      const c = this.nodes.child(id, name);
      if (!c) return undefined;
      id = c.id;
    }
    return id;
  }
}
