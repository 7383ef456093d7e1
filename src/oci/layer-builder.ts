// Build a layer dir in the kernel overlayfs format, one tar entry at a time, synchronously:
// `.wh.NAME` becomes a whiteout (character device 0/0), `.wh..wh..opq` marks its dir opaque,
// other `.wh..wh.*` names are meta whiteouts and ignored (containerd's rule). Nothing may land
// outside the dir: `..`, absolute names, parents that are symlinks and hard links pointing outside
// are refused with a clear error (umoci's and go-containerregistry's checks). Used by both the
// tar reader (import, load) and the one-pass commit, so the two cannot disagree.
import { removeTree } from '../sys/remove-tree.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { check, StrataError } from '../sys/errors.js';
import { native } from '../sys/native.js';
import { setOpaque, makeWhiteout } from '../sys/overlay-format.js';
import { lstatOrNull, isDir, fstat } from '../sys/stat.js';
import type { Hdr } from './tar-header.js';

export class LayerError extends StrataError {
  constructor(message: string) {
    super('damaged', message);
  }
  override name = 'LayerError';
}

const WH = '.wh.';
const OPQ = '.wh..wh..opq';

/** A tar entry name as a clean relative path ('a/b'), or an error if it escapes the root. */
export function cleanName(name: string): string {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new LayerError(`the tar entry "${name}" escapes the root`);
    parts.push(p);
  }
  return parts.join('/');
}

/** Write all of `buf` to `fd` (a short write is retried, not lost). */
export function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** Paths this long or longer go through an ancestor's fd (PATH_MAX is 4096, with the NUL). */
const LONG = 4000;

export class LayerBuilder {
  entries = 0;
  private dirs: { rel: string; h: Hdr }[] = []; // dir attributes are set last: creating children changes their mtime
  private made = new Set<string>(['']);
  private open: { fd: number; rel: string; h: Hdr; hash: crypto.Hash } | null = null;
  /** The sha256 of each regular file written, by inode: the layer's file manifest takes them from here instead of reading the files again. */
  readonly hashes = new Map<number, string>();

  /** Ancestor dirs held open for paths too long for one syscall (see real), by layer-relative path. */
  private fds = new Map<string, number>();

  constructor(readonly root: string) {}

  /**
   * A path the kernel takes for `rel` ('' is the root). Past PATH_MAX it goes through an open fd of
   * an ancestor dir (/proc/PID/fd/N/rest, which rm(1) can take too), so a tree of any depth applies.
   */
  private real(rel: string): string {
    const direct = rel ? `${this.root}/${rel}` : this.root;
    if (direct.length < LONG) return direct;
    const cut = rel.indexOf('/', rel.length - (LONG - 64));
    const head = rel.slice(0, cut);
    let fd = this.fds.get(head);
    if (fd === undefined) {
      if (this.fds.size >= 64) this.closeFds();
      fd = fs.openSync(this.real(head), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
      this.fds.set(head, fd);
    }
    return `/proc/${process.pid}/fd/${fd}/${rel.slice(cut + 1)}`;
  }

  private closeFds(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  /**
   * Apply one entry. For a regular file it returns the fd of the new, empty file: write the data
   * with `write()`, then call `endFile()`. Every other entry is complete when this returns (-1).
   */
  entry(h: Hdr): number {
    try {
      return this.apply(h);
    } catch (err) {
      throw err instanceof LayerError ? err : new LayerError(`cannot apply "${h.name}": ${(err as Error).message}`);
    }
  }

  /** Write the next bytes of the open file (and hash them). */
  write(data: Buffer): void {
    const f = this.open;
    if (!f) return;
    f.hash.update(data);
    writeAll(f.fd, data);
  }

  endFile(): void {
    const f = this.open;
    if (!f) return;
    this.open = null;
    try {
      this.hashes.set(fstat(f.fd).ino, f.hash.digest('hex'));
      fs.closeSync(f.fd);
      setAttrs(this.real(f.rel), f.h, false);
    } catch (err) {
      throw new LayerError(`cannot apply "${f.h.name}": ${(err as Error).message}`);
    }
  }

  /** Set the dirs' own attributes, last. */
  finish(): void {
    for (const d of this.dirs.reverse()) setAttrs(this.real(d.rel), d.h, false);
    this.dirs = [];
    this.closeFds();
  }

  /** Close a file left open by a failed write (the dir is thrown away by the caller). */
  abort(): void {
    if (this.open) fs.closeSync(this.open.fd);
    this.open = null;
    this.closeFds();
  }

  /** The parent chain of `rel` as real dirs of this layer (never through a symlink). */
  private parentOf(rel: string): string {
    const slash = rel.lastIndexOf('/');
    const parentRel = slash < 0 ? '' : rel.slice(0, slash);
    if (this.made.has(parentRel)) return parentRel; // the usual case: tars list a dir before what it holds
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      if (this.made.has(cur)) continue;
      const st = lstatOrNull(this.real(cur));
      if (st && !isDir(st.mode)) throw new LayerError(`the tar entry "${rel}" has a parent that is not a directory (${cur}): refusing to write through it`);
      if (!st) fs.mkdirSync(this.real(cur), { mode: 0o755 });
      this.made.add(cur);
    }
    return parts.slice(0, -1).join('/');
  }

  private apply(h: Hdr): number {
    const rel = cleanName(h.name);
    this.entries++;
    if (rel === '') {
      if (h.type === 'directory') this.dirs.push({ rel, h });
      return -1;
    }
    const parent = this.parentOf(rel);
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    const real = this.real(rel);
    if (base === OPQ) {
      setOpaque(this.real(parent));
      return -1;
    }
    if (base.startsWith(WH)) {
      if (!base.startsWith(WH + WH)) {
        const name = base.slice(WH.length);
        if (!name) throw new LayerError(`the tar entry "${h.name}" is a whiteout without a name`);
        const target = this.real(parent ? `${parent}/${name}` : name);
        if (!lstatOrNull(target)) makeWhiteout(target);
      }
      return -1;
    }
    const old = lstatOrNull(real);
    if (old && !(isDir(old.mode) && h.type === 'directory')) {
      this.closeFds(); // an ancestor held open may be inside what goes
      removeTree(real);
    }
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'directory':
        if (!old) fs.mkdirSync(real, { mode: 0o700 });
        this.made.add(rel);
        this.dirs.push({ rel, h });
        return -1;
      case 'symlink':
        fs.symlinkSync(h.linkname ?? '', real);
        break;
      case 'link': {
        const target = cleanName(h.linkname ?? '');
        const tst = lstatOrNull(this.real(target));
        if (!tst || isDir(tst.mode)) throw new LayerError(`the hard link "${h.name}" points at "${h.linkname}", which is not a file of this layer`);
        check(native.link(this.real(target), this.real(rel)));
        return -1;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const type = h.type === 'fifo' ? 0o010000 : h.type === 'block-device' ? 0o060000 : 0o020000;
        check(native.mknod(real, type | mode, native.makedev(h.devmajor ?? 0, h.devminor ?? 0)));
        break;
      }
      case 'file':
      case 'contiguous-file':
      case undefined:
      case null: {
        const fd = fs.openSync(real, 'wx', 0o600);
        this.open = { fd, rel, h, hash: crypto.createHash('sha256') };
        return fd;
      }
      default:
        throw new LayerError(`the tar entry "${h.name}" has an unsupported type (${h.type})`);
    }
    setAttrs(real, h, h.type === 'symlink');
    return -1;
  }
}

/** Owner, mode, xattrs and times from the tar header (uname/gname ignored, as the spec says). */
function setAttrs(real: string, h: Hdr, isLink: boolean): void {
  fs.lchownSync(real, h.uid ?? 0, h.gid ?? 0);
  if (!isLink) fs.chmodSync(real, (h.mode ?? 0o644) & 0o7777);
  for (const [k, v] of Object.entries(h.pax ?? {})) {
    if (!k.startsWith('SCHILY.xattr.')) continue;
    const name = k.slice('SCHILY.xattr.'.length);
    if (name.startsWith('trusted.overlay.')) continue; // the overlay's own marks never come from a tar
    native.lsetxattr(real, name, Buffer.from(v, 'latin1'), 0);
  }
  const t = (h.mtime ?? new Date(0)).getTime() / 1000;
  native.lutimens(real, Math.floor(t), Math.round((t % 1) * 1e9), Math.floor(t), Math.round((t % 1) * 1e9));
}
