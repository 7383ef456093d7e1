// Reading requests and writing replies in the kernel's byte layout: fuse_in_header and the op's
// struct in, fuse_out_header and the op's struct out. Numbers the kernel sends as u64 (node ids,
// offsets, file handles) are read as JS numbers: ours stay below 2^53.
import { SIZE } from './protocol.js';
import type { Attr } from '../../union/union.js';

export interface Header {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
}

export const u64 = (b: Buffer, o: number) => b.readUInt32LE(o) + b.readUInt32LE(o + 4) * 2 ** 32;
export const i64 = (b: Buffer, o: number) => Number(b.readBigInt64LE(o));

export function readHeader(b: Buffer): Header {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: u64(b, 16),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
  };
}

/** A NUL-terminated string at `off` (names in LOOKUP, MKDIR, …); returns it and the offset after the NUL. */
export function cstr(b: Buffer, off: number, end: number): [string, number] {
  let z = b.indexOf(0, off);
  if (z < 0 || z > end) z = end;
  return [b.toString('utf8', off, z), z + 1];
}

/** Same, as raw bytes (xattr names, symlink targets are byte strings). */
export function cbytes(b: Buffer, off: number, end: number): [Buffer, number] {
  let z = b.indexOf(0, off);
  if (z < 0 || z > end) z = end;
  return [b.subarray(off, z), z + 1];
}

export function writeU64(b: Buffer, o: number, v: number): void {
  b.writeUInt32LE(v >>> 0, o);
  b.writeUInt32LE(Math.floor(v / 2 ** 32) >>> 0, o + 4);
}

export function writeOutHeader(b: Buffer, len: number, error: number, unique: bigint): void {
  b.writeUInt32LE(len, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
}

/** fuse_attr (88 bytes) at `o`. */
export function writeAttr(b: Buffer, o: number, a: Attr): void {
  writeU64(b, o, a.ino);
  writeU64(b, o + 8, a.size);
  writeU64(b, o + 16, a.blocks);
  writeU64(b, o + 24, Math.max(0, a.atimeSec));
  writeU64(b, o + 32, Math.max(0, a.mtimeSec));
  writeU64(b, o + 40, Math.max(0, a.ctimeSec));
  b.writeUInt32LE(a.atimeNsec, o + 48);
  b.writeUInt32LE(a.mtimeNsec, o + 52);
  b.writeUInt32LE(a.ctimeNsec, o + 56);
  b.writeUInt32LE(a.mode >>> 0, o + 60);
  b.writeUInt32LE(a.nlink >>> 0, o + 64);
  b.writeUInt32LE(a.uid >>> 0, o + 68);
  b.writeUInt32LE(a.gid >>> 0, o + 72);
  b.writeUInt32LE(a.rdev >>> 0, o + 76);
  b.writeUInt32LE(a.blksize >>> 0, o + 80);
  b.writeUInt32LE(0, o + 84);
}

/** Cache lifetimes in seconds, as the kernel takes them (seconds + nanoseconds). */
function writeValid(b: Buffer, secOff: number, nsecOff: number, seconds: number): void {
  const s = Math.floor(seconds);
  writeU64(b, secOff, s);
  b.writeUInt32LE(Math.round((seconds - s) * 1e9), nsecOff);
}

/** fuse_entry_out (128 bytes) at `o`; nodeid 0 is a negative entry (cached for `entry` seconds). */
export function writeEntry(b: Buffer, o: number, nodeid: number, gen: number, entry: number, attr: number, a: Attr | null): void {
  writeU64(b, o, nodeid);
  writeU64(b, o + 8, gen);
  writeValid(b, o + 16, o + 32, entry);
  writeValid(b, o + 24, o + 36, attr);
  if (a) writeAttr(b, o + 40, a);
  else b.fill(0, o + 40, o + SIZE.ENTRY_OUT);
}

/** fuse_attr_out (104 bytes) at `o`. */
export function writeAttrOut(b: Buffer, o: number, attr: number, a: Attr): void {
  writeValid(b, o, o + 8, attr);
  b.writeUInt32LE(0, o + 12);
  writeAttr(b, o + 16, a);
}

/** DT_* type of a mode, as dirents carry it. */
export const direntType = (mode: number) => (mode >>> 12) & 0o17;

/** Room a fuse_dirent (plus=false) or fuse_direntplus (plus=true) with this name takes, 8-byte aligned. */
export const direntSize = (nameLen: number, plus: boolean) => ((plus ? SIZE.DIRENTPLUS : SIZE.DIRENT) + nameLen + 7) & ~7;
