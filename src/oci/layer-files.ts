// A layer dir's file manifest: one line per entry (path, type, mode, owner, size, the sha256 of a
// file's bytes, a symlink's target, a device's numbers, xattrs), written when the layer is made and
// compared with the dir by `system check`. A layer dir has no digest of its own (its diffID is that
// of the tar it came from), so this is what says whether the dir is still what was stored.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { walkOverlay } from '../sys/overlay-walk.js';
import { lstat, isReg, isLnk, isDir, type Stat } from '../sys/stat.js';

export interface FileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'whiteout' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number; // permission bits
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  link?: string;
  rdev?: number;
  /** name -> value as hex, sorted by name. */
  xattrs?: Record<string, string>;
}

const S = fs.constants;

function typeOf(st: Stat, whiteout: boolean): FileEntry['type'] {
  if (whiteout) return 'whiteout';
  if (isReg(st.mode)) return 'file';
  if (isDir(st.mode)) return 'dir';
  if (isLnk(st.mode)) return 'symlink';
  const f = st.mode & S.S_IFMT;
  return f === S.S_IFCHR ? 'char' : f === S.S_IFBLK ? 'block' : f === S.S_IFIFO ? 'fifo' : 'socket';
}

function xattrsOf(real: string): Record<string, string> | undefined {
  const names = native.llistxattr(real);
  if (typeof names === 'number' || names.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const n of [...names].sort()) {
    const v = native.lgetxattr(real, n);
    if (typeof v !== 'number') out[n] = v.toString('hex');
  }
  return out;
}

export function sha256OfFile(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function describe(path: string, real: string, st: Stat, whiteout: boolean, hashes?: Map<number, string>): FileEntry {
  const type = typeOf(st, whiteout);
  const e: FileEntry = { path, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (type === 'file') Object.assign(e, { size: st.size, sha256: hashes?.get(st.ino) ?? sha256OfFile(real) });
  if (type === 'symlink') e.link = fs.readlinkSync(real);
  if (type === 'char' || type === 'block') e.rdev = st.rdev;
  const x = type === 'whiteout' ? undefined : xattrsOf(real);
  if (x) e.xattrs = x;
  return e;
}

/**
 * The entries of a layer dir, the root first, in name order. `hashes` (by inode, from the
 * LayerBuilder that wrote the dir) spares reading files again; a file not in it is hashed.
 */
export function* layerFiles(dir: string, hashes?: Map<number, string>): Generator<FileEntry> {
  yield describe('/', dir, lstat(dir), false, hashes);
  for (const e of walkOverlay(dir, { sorted: true })) yield describe(e.rel, e.real, e.st, e.whiteout, hashes);
}

/** Write the manifest of `dir` to `file` (created, fsynced): one JSON object a line. */
export function writeLayerFiles(dir: string, file: string, hashes?: Map<number, string>): number {
  const lines: string[] = [];
  for (const e of layerFiles(dir, hashes)) lines.push(JSON.stringify(e));
  const fd = fs.openSync(file, 'wx', 0o644);
  try {
    fs.writeSync(fd, lines.join('\n') + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return lines.length;
}

export interface LayerDamage {
  changed: { path: string; what: string[] }[];
  missing: string[];
  extra: string[];
}

const FIELDS: (keyof FileEntry)[] = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'link', 'rdev', 'xattrs'];

/** Compare `dir` with its manifest, hashing every file again; null when they agree. */
export function verifyLayerFiles(dir: string, file: string): LayerDamage | null {
  const want = new Map<string, FileEntry>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as FileEntry;
    want.set(e.path, e);
  }
  const d: LayerDamage = { changed: [], missing: [], extra: [] };
  for (const have of layerFiles(dir)) {
    const w = want.get(have.path);
    want.delete(have.path);
    if (!w) {
      d.extra.push(have.path);
      continue;
    }
    const what = FIELDS.filter((f) => JSON.stringify(w[f]) !== JSON.stringify(have[f]));
    if (what.length) d.changed.push({ path: have.path, what: what.map((f) => (f === 'sha256' ? 'content' : f)) });
  }
  d.missing = [...want.keys()];
  return d.changed.length || d.missing.length || d.extra.length ? d : null;
}
