// Writing host files into a container's merged view in process, through a Union: the same copy-up
// and whiteouts a FUSE mount would give, without a mount or a round trip per call. Paths are the
// container's: a symlink on the way is followed as the container would follow it (an absolute one
// from the container's root, never the host's).
import fs from 'node:fs';
import path from 'node:path';
import { E, FsError, fail } from '../sys/errors.js';
import { isDir, isLnk } from '../sys/stat.js';
import { ROOT, type Attr, type Union } from '../union/union.js';

const O = fs.constants;
const MAX_LINKS = 40; // as the kernel's ELOOP
const CHUNK = 1 << 20;

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
const sec = (ns: bigint) => Number(ns / 1_000_000_000n);
const nsec = (ns: bigint) => Number(ns % 1_000_000_000n);

/** How a COPY writes what it copies: owned by root with the host's modes unless told (--chown, --chmod); every host file unless `sent` leaves some out (.dockerignore). */
export interface CopyOptions {
  uid?: number;
  gid?: number;
  /** --chmod: the mode of every file and dir copied (not of symlinks, nor of dirs made on the way). */
  mode?: number;
  /** Which host entries to copy: 'out' leaves one out with all below it, 'through' copies only what is below it (the dir made 0755). */
  sent?: (hostPath: string, dir: boolean) => 'in' | 'out' | 'through';
}

export class RootWriter {
  constructor(private readonly u: Union) {}

  /** The path's attributes, or null if it does not exist. */
  attr(p: string): Attr | null {
    try {
      return this.u.getattr(p);
    } catch (err) {
      if (err instanceof FsError && err.errno === E.ENOENT) return null;
      throw err;
    }
  }

  /**
   * `p` with its symlinks resolved (the last name's too if `followLast`). Resolution ends at the
   * first name that does not exist: the rest is what is to be made, returned as it is.
   */
  resolve(p: string, followLast = true): string {
    const todo = p.split('/').filter(Boolean);
    let cur = '/';
    let hops = 0;
    while (todo.length > 0) {
      const name = todo.shift()!;
      if (name === '.') continue;
      if (name === '..') {
        cur = path.posix.dirname(cur);
        continue;
      }
      const next = join(cur, name);
      const a = this.attr(next);
      if (!a) return path.posix.join(next, ...todo);
      if (isLnk(a.mode) && (todo.length > 0 || followLast)) {
        if (++hops > MAX_LINKS) fail(E.ELOOP);
        const target = this.u.readlink(next);
        if (target.startsWith('/')) cur = '/';
        todo.unshift(...target.split('/').filter(Boolean));
        continue;
      }
      cur = next;
    }
    return cur;
  }

  isDir(p: string): boolean {
    const a = this.attr(this.resolve(p));
    return !!a && isDir(a.mode);
  }

  /** mkdir -p: missing dirs made 0755 (less the umask), as `mkdir -p` on a mount, owned by `owner` (--chown's). Returns the resolved path. */
  mkdirp(p: string, owner: { uid?: number; gid?: number } = {}): string {
    const at = this.resolve(p);
    let cur = '/';
    for (const name of at.split('/').filter(Boolean)) {
      cur = join(cur, name);
      const a = this.attr(cur);
      if (!a) {
        this.u.mkdir(cur, 0o755, ROOT);
        if (owner.uid || owner.gid) this.u.chown(cur, owner.uid ?? 0, owner.gid ?? 0);
      } else if (!isDir(a.mode)) fail(E.ENOTDIR);
    }
    return at;
  }

  /** A file of the container (its symlinks followed inside it), or null if there is none. */
  readFile(p: string): Buffer | null {
    const at = this.resolve(p);
    const a = this.attr(at);
    if (!a || isDir(a.mode)) return null;
    const fh = this.u.open(at, O.O_RDONLY);
    try {
      const out: Buffer[] = [];
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let pos = 0, n; (n = this.u.read(fh, buf, CHUNK, pos)) > 0; pos += n) out.push(Buffer.from(buf.subarray(0, n)));
      return Buffer.concat(out);
    } finally {
      this.u.release(fh);
    }
  }

  /** rm -rf of one name (not followed). */
  removeTree(p: string): void {
    const a = this.attr(p);
    if (!a) return;
    if (!isDir(a.mode)) return this.u.unlink(p);
    for (const e of this.u.readdir(p)) this.removeTree(join(p, e.name));
    this.u.rmdir(p);
  }

  /** A dir's contents into `dst` (made if missing), as docker COPY: modes and times kept, owned by root (or as `o` says). */
  copyInto(src: string, dst: string, o: CopyOptions = {}): void {
    const at = this.mkdirp(dst, o);
    for (const n of fs.readdirSync(src)) this.copyEntry(path.join(src, n), join(at, n), o);
  }

  /** One host file, symlink or dir (whole) at `dst`; sockets, FIFOs and devices are left out, as docker does. */
  copyEntry(src: string, dst: string, o: CopyOptions = {}): void {
    const st = fs.lstatSync(src, { bigint: true });
    const sent = o.sent?.(src, st.isDirectory()) ?? 'in';
    if (sent === 'out') return;
    const mode = o.mode ?? (sent === 'through' ? 0o755 : Number(st.mode) & 0o7777);
    const [uid, gid] = [o.uid ?? 0, o.gid ?? 0];
    if (st.isSymbolicLink()) {
      const at = this.resolve(dst, false);
      this.removeTree(at);
      this.u.symlink(fs.readlinkSync(src), at, ROOT);
      this.u.chown(at, uid, gid);
      return;
    }
    const at = this.resolve(dst);
    if (st.isDirectory()) {
      const made = !this.isDir(at);
      if (made) this.u.mkdir(at, mode, ROOT);
      for (const n of fs.readdirSync(src)) this.copyEntry(path.join(src, n), join(at, n), o);
      if (sent === 'through' && !made) return; // not in the context's tar: a dir the image has keeps what it had
    } else if (st.isFile()) {
      this.copyFile(src, at, mode);
    } else {
      return;
    }
    this.u.chown(at, uid, gid);
    this.u.chmod(at, mode);
    if (sent === 'in') this.u.utimens(at, sec(st.atimeNs), nsec(st.atimeNs), sec(st.mtimeNs), nsec(st.mtimeNs));
  }

  /** A host file's bytes at `at`: a new file, or an existing one truncated first (copied up without its data). */
  private copyFile(src: string, at: string, mode: number): void {
    const a = this.attr(at);
    if (a && isDir(a.mode)) fail(E.EISDIR);
    const fh = a ? this.u.open(at, O.O_WRONLY | O.O_TRUNC) : this.u.create(at, mode, O.O_WRONLY, ROOT);
    const fd = fs.openSync(src, 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let pos = 0, n; (n = fs.readSync(fd, buf, 0, CHUNK, pos)) > 0; pos += n) {
        for (let off = 0; off < n;) off += this.u.write(fh, buf.subarray(off), n - off, pos + off);
      }
    } finally {
      fs.closeSync(fd);
      this.u.release(fh);
    }
  }
}
