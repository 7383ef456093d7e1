// A tree as the entries of a layer tar, in tar order. A plain dir (import, export) is written as it
// is. An upper dir is written as an OCI changeset: whiteouts become `.wh.NAME` entries (before
// their siblings, as the spec asks), an opaque dir gets `.wh..wh..opq`, and a renamed lower dir
// (redirect) is written whole from the merged view, as an opaque dir, since a tar has no way to
// say "moved". A generator, so that writers can be synchronous (commit) or streaming (export).
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { getRedirect, isOpaque, isPrivateXattr, isWhiteout } from '../sys/overlay-format.js';
import { lstat, isDir, isLnk, isReg, type Stat } from '../sys/stat.js';
import type { Hdr } from './tar-header.js';

export interface TreeOptions {
  /** Treat `root` as an upper dir in the overlay format (whiteouts, opaque dirs, redirects). */
  overlay?: boolean;
  /** The merged view of the same container, for dirs that were renamed from a lower layer (asked for only if there is one). */
  merged?: () => string;
  /** Whether a lower layer has this path: an opaque mark on a dir nothing below has says nothing. */
  lowerHas?: (path: string) => boolean;
}

/** One tar entry; `src` is the file whose bytes are its data (regular files only). */
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

  function* walk(dirReal: string, rel: string, overlay: boolean): Generator<TreeEntry> {
    const names = fs.readdirSync(dirReal).sort();
    const stats = names.map((n) => [n, lstat(`${dirReal}/${n}`)] as const);
    // Whiteouts first.
    for (const [n, st] of stats) {
      if (overlay && isWhiteout(st)) yield { h: { name: `${rel}${'.wh.' + n}`, mode: 0o644, size: 0, type: 'file', mtime: new Date(st.mtimeSec * 1000) } };
    }
    for (const [n, st] of stats) {
      if (overlay && isWhiteout(st)) continue;
      const real = `${dirReal}/${n}`;
      const name = `${rel}${n}`;
      const h = header(name, st, real);
      if (isDir(st.mode)) {
        yield { h: { ...h, name: name + '/', type: 'directory' } };
        const redirect = overlay ? getRedirect(real) : null;
        if (redirect !== null && o.merged) {
          yield { h: { name: `${name}/.wh..wh..opq`, mode: 0o644, size: 0, type: 'file', mtime: h.mtime } };
          yield* walk(`${o.merged()}/${name}`, `${name}/`, false);
          continue;
        }
        if (overlay && isOpaque(real) && (o.lowerHas?.('/' + name) ?? true)) yield { h: { name: `${name}/.wh..wh..opq`, mode: 0o644, size: 0, type: 'file', mtime: h.mtime } };
        yield* walk(real, `${name}/`, overlay);
      } else if (isReg(st.mode)) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          yield { h: { ...h, type: 'link', linkname: first } };
          continue;
        }
        if (st.nlink > 1) links.set(key, name);
        yield { h: { ...h, type: 'file', size: st.size }, src: real };
      } else if (isLnk(st.mode)) {
        yield { h: { ...h, type: 'symlink', linkname: fs.readlinkSync(real) } };
      } else {
        const fmt = st.mode & S.S_IFMT;
        const type = fmt === S.S_IFCHR ? 'character-device' : fmt === S.S_IFBLK ? 'block-device' : fmt === S.S_IFIFO ? 'fifo' : null;
        if (!type) continue; // sockets have no tar form
        yield { h: { ...h, type, devmajor: native.major(st.rdev), devminor: native.minor(st.rdev) } };
      }
    }
  }
  yield* walk(root, '', !!o.overlay);
}
