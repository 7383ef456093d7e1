// Tar headers as bytes (POSIX ustar, with a pax extended header before an entry whose name, link
// target, size, owner or xattrs do not fit ustar), so a layer can be written with plain
// synchronous writes instead of a stream of small objects.
import type tar from 'tar-stream';

/** A tar header with its pax records (xattrs travel as SCHILY.xattr.*). */
export type Hdr = Partial<Omit<tar.Header, 'pax'>> & { name: string; pax?: Record<string, string> };

export const BLOCK = 512;
const TYPEFLAG: Record<string, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  'contiguous-file': '7',
};
const MAX_OCTAL = { 8: 0o7777777, 12: 0o77777777777 } as const;

/** Zero bytes that pad `size` bytes of data to a whole block. */
export const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** The header block(s) of one entry: a pax header first when ustar cannot hold it. */
export function encodeHeader(h: Hdr): Buffer {
  const pax: Record<string, string> = { ...(h.pax ?? {}) };
  const size = h.size ?? 0;
  const mtime = Math.floor((h.mtime ?? new Date(0)).getTime() / 1000);
  const split = splitName(h.name);
  if (!split) pax.path = h.name;
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) pax.linkpath = h.linkname;
  if (size > MAX_OCTAL[12]) pax.size = String(size);
  if ((h.uid ?? 0) > MAX_OCTAL[8]) pax.uid = String(h.uid);
  if ((h.gid ?? 0) > MAX_OCTAL[8]) pax.gid = String(h.gid);
  if (mtime < 0 || mtime > MAX_OCTAL[12]) pax.mtime = String(mtime);
  const main = ustar({
    name: split?.name ?? h.name.slice(0, 99),
    prefix: split?.prefix ?? '',
    mode: h.mode ?? 0o644,
    uid: Math.min(h.uid ?? 0, MAX_OCTAL[8]),
    gid: Math.min(h.gid ?? 0, MAX_OCTAL[8]),
    size: size > MAX_OCTAL[12] ? 0 : size,
    mtime: Math.min(Math.max(mtime, 0), MAX_OCTAL[12]),
    type: TYPEFLAG[h.type ?? 'file'] ?? '0',
    linkname: (h.linkname ?? '').slice(0, 100),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  const keys = Object.keys(pax);
  if (keys.length === 0) return main;
  const records = Buffer.from(
    keys
      .sort()
      .map((k) => paxRecord(k, pax[k]))
      .join(''),
    'utf8',
  );
  const paxHeader = ustar({
    name: 'PaxHeader',
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: 0,
    type: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, records, Buffer.alloc(padding(records.length)), main]);
}

/** The end of an archive: two zero blocks. */
export const trailer = () => Buffer.alloc(2 * BLOCK);

/** A name as ustar's prefix + name (at a '/', each part short enough), or null when it cannot be. */
function splitName(name: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  if (Buffer.byteLength(name) > 256) return null;
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) > 155) return null;
    if (Buffer.byteLength(rest) <= 100 && rest !== '') return { prefix, name: rest };
  }
  return null;
}

/** `LEN key=value\n`, where LEN counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(body);
  const digits = String(bytes).length;
  let len = bytes + digits;
  if (String(len).length > digits) len++;
  return `${len}${body}`;
}

interface Fields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function ustar(f: Fields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'utf8');
  octal(b, 100, 8, f.mode & 0o7777);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.write(f.type, 156, 1, 'latin1');
  b.write(f.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  octal(b, 329, 8, f.devmajor);
  octal(b, 337, 8, f.devminor);
  b.write(f.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156); // the checksum is summed with its own field as spaces
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i];
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'latin1');
  return b;
}

function octal(b: Buffer, off: number, len: number, v: number): void {
  b.write(v.toString(8).padStart(len - 1, '0') + '\u0000', off, len, 'latin1');
}
