// One indexed entry, as a small fixed binary record (decoded with plain DataView reads: no msgpack,
// no allocation beyond the Stat it returns). Layer indexes and chain indexes share the format.
//
//   0 u8  flags (WHITEOUT, OPAQUE, REDIRECT)   2 u16 nmerge (chain: lower dirs merged here)
//   4 u16 layer (chain: position of the answering layer, 0 = top lower)
//   8 u32 mode  12 u32 uid  16 u32 gid  20 u32 nlink  24 u32 dirId (dirs: key of its children)
//  28 u32 blksize  32 f64 ino  40 f64 dev  48 f64 rdev  56 f64 size  64 f64 blocks
//  72 f64 atime  80 f64 mtime  88 f64 ctime (seconds)  96/100/104 u32 their nanoseconds
// 112 …  symlink target or redirect path (raw bytes)
import type { Stat } from '../sys/stat.js';

export const WHITEOUT = 1;
export const OPAQUE = 2;
export const REDIRECT = 4;
export const HEADER = 112;

export interface RecordInfo {
  flags: number;
  nmerge: number;
  layer: number;
  dirId: number;
  st: Stat;
  /** Symlink target, or redirect path of a renamed dir (REDIRECT). */
  tail: Buffer | null;
}

export function encodeRecord(r: RecordInfo): Buffer {
  const tail = r.tail ?? Buffer.alloc(0);
  const b = Buffer.alloc(HEADER + tail.length);
  writeHeader(b, r);
  tail.copy(b, HEADER);
  return b;
}

function writeHeader(b: Buffer, r: RecordInfo): void {
  const st = r.st;
  b.writeUInt8(r.flags, 0);
  b.writeUInt16LE(r.nmerge, 2);
  b.writeUInt16LE(r.layer, 4);
  b.writeUInt32LE(st.mode >>> 0, 8);
  b.writeUInt32LE(st.uid >>> 0, 12);
  b.writeUInt32LE(st.gid >>> 0, 16);
  b.writeUInt32LE(Math.min(st.nlink, 0xffffffff), 20);
  b.writeUInt32LE(r.dirId >>> 0, 24);
  b.writeUInt32LE(st.blksize >>> 0, 28);
  b.writeDoubleLE(st.ino, 32);
  b.writeDoubleLE(st.dev, 40);
  b.writeDoubleLE(st.rdev, 48);
  b.writeDoubleLE(st.size, 56);
  b.writeDoubleLE(st.blocks, 64);
  b.writeDoubleLE(st.atimeSec, 72);
  b.writeDoubleLE(st.mtimeSec, 80);
  b.writeDoubleLE(st.ctimeSec, 88);
  b.writeUInt32LE(st.atimeNsec, 96);
  b.writeUInt32LE(st.mtimeNsec, 100);
  b.writeUInt32LE(st.ctimeNsec, 104);
}

/** A copy of a record with the chain's own fields (layer, nmerge, dirId) set. */
export function restamp(rec: Buffer, layer: number, nmerge: number, dirId: number): Buffer {
  const b = Buffer.from(rec);
  b.writeUInt16LE(nmerge, 2);
  b.writeUInt16LE(layer, 4);
  b.writeUInt32LE(dirId >>> 0, 24);
  return b;
}

export const recFlags = (b: Buffer) => b[0];
export const recLayer = (b: Buffer) => b.readUInt16LE(4);
export const recNmerge = (b: Buffer) => b.readUInt16LE(2);
export const recDirId = (b: Buffer) => b.readUInt32LE(24);
export const recMode = (b: Buffer) => b.readUInt32LE(8);

/** The Stat of a record (`b` may be lmdb's reused buffer: everything is copied out). */
export function recStat(b: Buffer): Stat {
  return {
    dev: b.readDoubleLE(40),
    ino: b.readDoubleLE(32),
    mode: b.readUInt32LE(8),
    nlink: b.readUInt32LE(20),
    uid: b.readUInt32LE(12),
    gid: b.readUInt32LE(16),
    rdev: b.readDoubleLE(48),
    size: b.readDoubleLE(56),
    blksize: b.readUInt32LE(28),
    blocks: b.readDoubleLE(64),
    atimeSec: b.readDoubleLE(72),
    atimeNsec: b.readUInt32LE(96),
    mtimeSec: b.readDoubleLE(80),
    mtimeNsec: b.readUInt32LE(100),
    ctimeSec: b.readDoubleLE(88),
    ctimeNsec: b.readUInt32LE(104),
  };
}

/** The record's tail (symlink target or redirect), copied out. */
export function recTail(b: Buffer, length = b.length): Buffer {
  return Buffer.from(b.subarray(HEADER, length));
}

/** Keys: u32 index number, u32 dir id (both big-endian, so one dir is one range), then the name. */
export function entryKey(out: Buffer, num: number, dirId: number, name: string): Buffer {
  out.writeUInt32BE(num, 0);
  out.writeUInt32BE(dirId, 4);
  const n = out.write(name, 8, 'utf8');
  return out.subarray(0, 8 + n);
}

export function dirRange(num: number, dirId: number): { start: Buffer; end: Buffer } {
  const start = Buffer.alloc(8);
  start.writeUInt32BE(num, 0);
  start.writeUInt32BE(dirId, 4);
  const end = Buffer.alloc(8);
  end.writeUInt32BE(dirId === 0xffffffff ? num + 1 : num, 0);
  end.writeUInt32BE(dirId === 0xffffffff ? 0 : dirId + 1, 4);
  return { start, end };
}
