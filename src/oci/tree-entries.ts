// A tree as the entries of a layer tar, in tar order. A plain dir (import, export) is written as it
// is. An upper dir is written as an OCI changeset: whiteouts become `.wh.NAME` entries (before
// their siblings, as the spec asks), an opaque dir gets `.wh..wh..opq`, and a renamed lower dir
// (redirect) is written whole from the merged view, as an opaque dir, since a tar has no way to
// say "moved". A generator, so that writers can be synchronous (commit) or streaming (export).
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { isPrivateXattr } from '../sys/overlay-format.js';
import { walkOverlay } from '../sys/overlay-walk.js';
import { isLnk, isReg, type Stat } from '../sys/stat.js';
import type { Hdr } from './tar-header.js';

export interface TreeOptions {
  /** Treat `root` as an upper dir in the overlay format (whiteouts, opaque dirs, redirects). */
  overlay?: boolean;
  /** The merged view of the same container, for dirs that were renamed from a lower layer (asked for only if there is one). */
  merged?: () => string;
  /** Whether a lower layer has this path: an opaque mark on a dir nothing below has says nothing. */
  lowerHas?: (path: string) => boolean;
}

/** One tar entry; `src` is the file whose bytes are its data (regular files only), to be read before the next entry is asked for. */
export interface TreeEntry {
  h: Hdr;
  src?: string;
}

const S = fs.constants;

export function* treeEntries(root: string, o: TreeOptions = {}): Generator<TreeEntry> {
  const links = new Map<string, string>(); // dev:ino of a multiply linked file -> its first name

  const header = (name: string, st: Stat, real: string): Hdr => {
    const h: Hdr = {
      name,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: new Date(st.mtimeSec * 1000 + Math.floor(st.mtimeNsec / 1e6)),
      size: 0,
    };
    if (!isLnk(st.mode)) {
      const names = native.llistxattr(real);
      if (Array.isArray(names)) {
        for (const n of names) {
          if (isPrivateXattr(n)) continue;
          const v = native.lgetxattr(real, n);
          if (typeof v !== 'number') (h.pax ??= {})[`SCHILY.xattr.${n}`] = v.toString('latin1');
        }
      }
    }
    return h;
  };

  /** The entries of the tree at `dir` (a dir of the merged view for a redirect), named `prefix` + their path. */
  function* entriesOf(dir: string, prefix: string, overlay: boolean): Generator<TreeEntry> {
    for (const e of walkOverlay(dir, { sorted: true, whiteoutsFirst: true, overlay })) {
      const st = e.st;
      const name = prefix + e.rel.slice(1);
      if (e.whiteout) {
        const parent = name.slice(0, name.length - e.name.length);
        yield { h: { name: `${parent}.wh.${e.name}`, mode: 0o644, size: 0, type: 'file', mtime: new Date(st.mtimeSec * 1000) } };
        continue;
      }
      const h = header(name, st, e.real);
      if (e.dir) {
        yield { h: { ...h, name: name + '/', type: 'directory' } };
        const opq: TreeEntry = { h: { name: `${name}/.wh..wh..opq`, mode: 0o644, size: 0, type: 'file', mtime: h.mtime } };
        if (overlay && o.merged && e.redirect() !== null) {
          // Renamed from a lower layer: its whole merged contents, in place of the upper dir's.
          e.descend = false;
          yield opq;
          yield* entriesOf(`${o.merged()}/${name}`, `${name}/`, false);
          continue;
        }
        if (overlay && e.opaque() && (o.lowerHas?.('/' + name) ?? true)) yield opq;
      } else if (isReg(st.mode)) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          yield { h: { ...h, type: 'link', linkname: first } };
          continue;
        }
        if (st.nlink > 1) links.set(key, name);
        yield { h: { ...h, type: 'file', size: st.size }, src: e.real };
      } else if (isLnk(st.mode)) {
        yield { h: { ...h, type: 'symlink', linkname: fs.readlinkSync(e.real) } };
      } else {
        const fmt = st.mode & S.S_IFMT;
        const type = fmt === S.S_IFCHR ? 'character-device' : fmt === S.S_IFBLK ? 'block-device' : fmt === S.S_IFIFO ? 'fifo' : null;
        if (!type) continue; // sockets have no tar form
        yield { h: { ...h, type, devmajor: native.major(st.rdev), devminor: native.minor(st.rdev) } };
      }
    }
  }
  yield* entriesOf(root, '', !!o.overlay);
}
