// Apply an OCI layer tar to an empty dir, producing a layer dir in the kernel overlayfs format:
// `.wh.NAME` becomes a whiteout (character device 0/0), `.wh..wh..opq` marks its dir opaque,
// other `.wh..wh.*` names are meta whiteouts and ignored (containerd's rule). Nothing may land
// outside the dir: `..`, absolute names, parents that are symlinks and hard links pointing outside
// are refused with a clear error (umoci's and go-containerregistry's checks).
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

/** A tar header with its pax records (xattrs travel as SCHILY.xattr.*). */
type Hdr = Partial<Omit<tar.Header, 'pax'>> & { name: string; pax?: Record<string, string> };
import { native } from '../native/index.js';
import { check } from '../union/errors.js';
import { setOpaque, makeWhiteout } from '../union/overlay-format.js';
import { lstatOrNull, isDir } from '../union/stat.js';

export class LayerError extends Error {
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

interface Pending {
  path: string;
  h: Hdr;
}

/** Extract `input` (an uncompressed tar stream) into the empty dir `root`. */
export async function applyLayer(input: Readable, root: string): Promise<{ entries: number }> {
  const dirs: Pending[] = []; // dir attributes are set last: creating children changes their mtime
  const made = new Set<string>(['']);
  let entries = 0;

  /** The parent chain of `rel` as real dirs of this layer (never through a symlink). */
  const parentOf = (rel: string): string => {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i];
      if (made.has(cur)) continue;
      const st = lstatOrNull(`${root}/${cur}`);
      if (st && !isDir(st.mode)) throw new LayerError(`the tar entry "${rel}" has a parent that is not a directory (${cur}): refusing to write through it`);
      if (!st) fs.mkdirSync(`${root}/${cur}`, { mode: 0o755 });
      made.add(cur);
    }
    return parts.slice(0, -1).join('/');
  };

  const extract = tar.extract();
  extract.on('entry', (h: tar.Header, source: unknown, next: (err?: Error | null) => void) => {
    const header = h as unknown as Hdr;
    const stream = source as Readable;
    stream.on('error', () => {}); // an entry's stream fails with the whole extract, reported once by the pipeline
    const fail = (err: unknown) => {
      stream.resume();
      next(err instanceof LayerError ? err : new LayerError(`cannot apply "${header.name}": ${(err as Error).message}`));
    };
    try {
      const rel = cleanName(header.name);
      entries++;
      if (rel === '') {
        if (header.type === 'directory') dirs.push({ path: root, h: header });
        stream.resume();
        return next();
      }
      const parent = parentOf(rel);
      const base = rel.slice(rel.lastIndexOf('/') + 1);
      const real = `${root}/${rel}`;
      if (base === OPQ) {
        setOpaque(parent ? `${root}/${parent}` : root);
        stream.resume();
        return next();
      }
      if (base.startsWith(WH)) {
        if (!base.startsWith(WH + WH)) {
          const name = base.slice(WH.length);
          if (!name) throw new LayerError(`the tar entry "${header.name}" is a whiteout without a name`);
          const target = `${root}/${parent ? parent + '/' : ''}${name}`;
          if (!lstatOrNull(target)) makeWhiteout(target);
        }
        stream.resume();
        return next();
      }
      const old = lstatOrNull(real);
      if (old && !(isDir(old.mode) && header.type === 'directory')) fs.rmSync(real, { recursive: true, force: true });
      const mode = (header.mode ?? 0o644) & 0o7777;
      switch (header.type) {
        case 'directory':
          if (!old) fs.mkdirSync(real, { mode: 0o700 });
          made.add(rel);
          dirs.push({ path: real, h: header });
          stream.resume();
          return next();
        case 'symlink':
          fs.symlinkSync(header.linkname ?? '', real);
          break;
        case 'link': {
          const target = cleanName(header.linkname ?? '');
          const tst = lstatOrNull(`${root}/${target}`);
          if (!tst || isDir(tst.mode)) throw new LayerError(`the hard link "${header.name}" points at "${header.linkname}", which is not a file of this layer`);
          check(native.link(`${root}/${target}`, real));
          stream.resume();
          return next();
        }
        case 'character-device':
        case 'block-device':
        case 'fifo': {
          const type = header.type === 'fifo' ? 0o010000 : header.type === 'block-device' ? 0o060000 : 0o020000;
          check(native.mknod(real, type | mode, native.makedev(header.devmajor ?? 0, header.devminor ?? 0)));
          break;
        }
        case 'file':
        case 'contiguous-file':
        case undefined:
        case null: {
          const out = fs.createWriteStream(real, { mode: 0o600, flags: 'wx' });
          stream.pipe(out);
          out.on('error', fail);
          stream.on('error', fail);
          out.on('finish', () => {
            try {
              setAttrs(real, header, false);
              next();
            } catch (err) {
              fail(err);
            }
          });
          return;
        }
        default:
          throw new LayerError(`the tar entry "${header.name}" has an unsupported type (${header.type})`);
      }
      setAttrs(real, header, header.type === 'symlink');
      stream.resume();
      next();
    } catch (err) {
      fail(err);
    }
  });
  // The pipeline reports the first error; the source may emit the same one again when it is
  // destroyed (tar-stream's streamx streams do, after the pipeline has let go of them).
  input.on('error', () => {});
  extract.on('error', () => {});
  try {
    await pipeline(input, extract as unknown as NodeJS.WritableStream);
  } catch (err) {
    throw err instanceof LayerError ? err : new LayerError(`the layer tar is corrupt: ${(err as Error).message}`);
  }
  for (const d of dirs.reverse()) setAttrs(d.path, d.h, false);
  return { entries };
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
