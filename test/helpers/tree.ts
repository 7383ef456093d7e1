// Snapshots of a directory tree as a user of the merged view (or of an upper dir) sees it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { native } from '../../src/sys/native.js';

export interface EntrySnap {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size?: number;
  sha?: string;
  target?: string;
  rdev?: number;
  xattrs: Record<string, string>;
  mtime?: string;
}

function typeOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return st.rdev === 0 ? 'whiteout' : 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isSocket()) return 'sock';
  return 'other';
}

/** Xattrs through our addon (the mount is served by another process, so this cannot deadlock). */
function xattrs(p: string, keep: (name: string) => boolean): Record<string, string> {
  const names = native.llistxattr(p);
  if (typeof names === 'number') return {};
  const r: Record<string, string> = {};
  for (const n of names.filter(keep).sort()) {
    const v = native.lgetxattr(p, n);
    if (typeof v !== 'number') r[n] = '0x' + v.toString('hex');
  }
  return r;
}

export interface SnapOptions {
  /** Which xattrs to record (default user.*). */
  keepXattr?: (name: string) => boolean;
  /** Times before this (ms) are recorded exactly; later ones only as "new" (set during the test). */
  since?: number;
  /** Leave out dir sizes and nlinks (they depend on the backing fs's history, as in upper dirs). */
  looseDirs?: boolean;
}

export function snapshot(root: string, o: SnapOptions = {}): Record<string, EntrySnap> {
  const keep = o.keepXattr ?? ((n: string) => n.startsWith('user.'));
  const out: Record<string, EntrySnap> = {};
  const walk = (rel: string) => {
    const p = root + rel;
    const st = fs.lstatSync(p);
    const type = typeOf(st);
    const e: EntrySnap = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, nlink: st.nlink, xattrs: type === 'symlink' ? {} : xattrs(p, keep) };
    if (type === 'file') {
      e.size = st.size;
      e.sha = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16);
    }
    if (type === 'symlink') e.target = fs.readlinkSync(p);
    if (type === 'chr' || type === 'blk') e.rdev = st.rdev;
    if (type !== 'dir' && o.since !== undefined) e.mtime = st.mtimeMs < o.since ? String(st.mtimeMs) : 'new';
    if (type === 'dir' && o.looseDirs) e.nlink = 0;
    if (type === 'whiteout') e.nlink = 0; // the kernel links all whiteouts to one shared inode
    out[rel || '/'] = e;
    if (type === 'dir') {
      for (const n of fs.readdirSync(p).sort()) {
        walk(rel + '/' + n);
      }
    }
  };
  walk('');
  return out;
}
