// Write a tree as a layer tar. A plain dir (import, export) is written as it is. An upper dir is
// written as an OCI changeset: whiteouts become `.wh.NAME` entries (before their siblings, as the
// spec asks), an opaque dir gets `.wh..wh..opq`, and a renamed lower dir (redirect) is written
// whole from the merged view, as an opaque dir, since a tar has no way to say "moved".
import fs from 'node:fs';
import tar from 'tar-stream';

/** A tar header with its pax records (xattrs travel as SCHILY.xattr.*). */
type Hdr = Partial<Omit<tar.Header, 'pax'>> & { name: string; pax?: Record<string, string> };
import { native } from '../native/index.js';
import { getRedirect, isOpaque, isPrivateXattr, isWhiteout } from '../union/overlay-format.js';
import { lstat, isDir, isLnk, isReg, type Stat } from '../union/stat.js';

export interface WriteOptions {
  /** Treat `root` as an upper dir in the overlay format (whiteouts, opaque dirs, redirects). */
  overlay?: boolean;
  /** The merged view of the same container, for dirs that were renamed from a lower layer (asked for only if there is one). */
  merged?: () => string;
  /** Whether a lower layer has this path: an opaque mark on a dir nothing below has says nothing. */
  lowerHas?: (path: string) => boolean;
}

const S = fs.constants;

export async function writeTree(root: string, pack: tar.Pack, o: WriteOptions = {}): Promise<{ entries: number }> {
  const links = new Map<string, string>(); // dev:ino of a multiply linked file -> its first name
  let entries = 0;

  const entry = (h: Hdr, data?: string) =>
    new Promise<void>((resolve, reject) => {
      entries++;
      if (data === undefined) {
        // An empty buffer ends the entry (a 'file' entry without one would wait for data forever).
        pack.entry(h as tar.Header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
        return;
      }
      const w = pack.entry(h as tar.Header, (err) => (err ? reject(err) : resolve()));
      const r = fs.createReadStream(data, { highWaterMark: 1 << 20 });
      r.on('error', reject);
      r.pipe(w as unknown as NodeJS.WritableStream);
    });

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

  const walk = async (dirReal: string, rel: string, overlay: boolean): Promise<void> => {
    const names = fs.readdirSync(dirReal).sort();
    const stats = names.map((n) => [n, lstat(`${dirReal}/${n}`)] as const);
    // Whiteouts first.
    for (const [n, st] of stats) {
      if (overlay && isWhiteout(st)) await entry({ name: `${rel}${'.wh.' + n}`, mode: 0o644, size: 0, type: 'file', mtime: new Date(st.mtimeSec * 1000) });
    }
    for (const [n, st] of stats) {
      if (overlay && isWhiteout(st)) continue;
      const real = `${dirReal}/${n}`;
      const name = `${rel}${n}`;
      const h = header(name, st, real);
      if (isDir(st.mode)) {
        await entry({ ...h, name: name + '/', type: 'directory' });
        const redirect = overlay ? getRedirect(real) : null;
        if (redirect !== null && o.merged) {
          await entry({ name: `${name}/.wh..wh..opq`, mode: 0o644, size: 0, type: 'file', mtime: h.mtime });
          await walk(`${o.merged()}/${name}`, `${name}/`, false);
          continue;
        }
        if (overlay && isOpaque(real) && (o.lowerHas?.('/' + name) ?? true)) await entry({ name: `${name}/.wh..wh..opq`, mode: 0o644, size: 0, type: 'file', mtime: h.mtime });
        await walk(real, `${name}/`, overlay);
      } else if (isReg(st.mode)) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          await entry({ ...h, type: 'link', linkname: first });
          continue;
        }
        if (st.nlink > 1) links.set(key, name);
        await entry({ ...h, type: 'file', size: st.size }, real);
      } else if (isLnk(st.mode)) {
        await entry({ ...h, type: 'symlink', linkname: fs.readlinkSync(real) });
      } else {
        const fmt = st.mode & S.S_IFMT;
        const type = fmt === S.S_IFCHR ? 'character-device' : fmt === S.S_IFBLK ? 'block-device' : fmt === S.S_IFIFO ? 'fifo' : null;
        if (!type) continue; // sockets have no tar form
        await entry({ ...h, type, devmajor: native.major(st.rdev), devminor: native.minor(st.rdev) });
      }
    }
  };
  await walk(root, '', !!o.overlay);
  pack.finalize();
  return { entries };
}
