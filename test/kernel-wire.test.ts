// The kernel transport's byte layouts and numbers, without a mount: 64-bit inode numbers survive
// the encoding, and only fuse-native's 32-bit limit makes the inode table wrap.
import t from 'tap';
import { writeAttr, writeEntry, u64, direntSize } from '../src/fuse/kernel/wire.js';
import { SIZE } from '../src/fuse/kernel/protocol.js';
import { InodeTable } from '../src/union/inodes.js';
import type { Attr } from '../src/union/union.js';

const attr = (ino: number): Attr => ({
  ino,
  dev: 0,
  mode: 0o100644,
  nlink: 1,
  uid: 0,
  gid: 0,
  rdev: 0,
  size: 5,
  blksize: 4096,
  blocks: 8,
  atimeSec: 1,
  atimeNsec: 2,
  mtimeSec: 3,
  mtimeNsec: 4,
  ctimeSec: 5,
  ctimeNsec: 6,
});

t.test('fuse_attr and fuse_entry_out carry 64-bit numbers', async (t) => {
  const b = Buffer.alloc(SIZE.ENTRY_OUT);
  const big = 2 ** 40 + 5;
  writeEntry(b, 0, 2 ** 33 + 1, 0, 1e6, 1e6, attr(big));
  t.equal(u64(b, 0), 2 ** 33 + 1, 'node id');
  t.equal(u64(b, 40), big, 'inode number');
  t.equal(b.readUInt32LE(40 + 60), 0o100644, 'mode at its offset');
  t.equal(u64(b, 16), 1e6, 'entry_valid seconds');
  const a = Buffer.alloc(SIZE.ATTR);
  writeAttr(a, 0, attr(2 ** 52));
  t.equal(u64(a, 0), 2 ** 52, 'a 53-bit number too');
});

t.test('dirent records are 8-byte aligned', async (t) => {
  t.equal(direntSize(1, false), 32, 'a one-letter name in a fuse_dirent');
  t.equal(direntSize(8, false), 32, 'eight letters fit the same record');
  t.equal(direntSize(9, false), 40, 'nine need the next 8 bytes');
  t.equal(direntSize(1, true), 160, 'a fuse_direntplus carries the entry before it');
});

t.test('inode numbers wrap only at the limit the transport sets', async (t) => {
  const entry = (ino: number) => ({ layer: 1, rel: `/f${ino}`, st: { ...attr(ino), dev: 7 } });
  const narrow = new InodeTable(4);
  t.same(
    [10, 11, 12, 13].map((i) => narrow.of(entry(i))),
    [2, 3, 4, 2],
    'a table limited to 4 wraps after 4',
  );
  // The kernel transport computes numbers: layer in the high bits, backing inode in the low 44.
  const wide = new InodeTable(Number.MAX_SAFE_INTEGER, [5, 7, 7]);
  t.equal(wide.of(entry(200)), 2 * 2 ** 44 + 200, 'layer 1, inode 200: computed');
  t.equal(wide.of({ ...entry(200), layer: 2 }), 3 * 2 ** 44 + 200, 'the same backing inode in another layer: another number');
  for (let i = 0; i < 1000; i++) wide.of(entry(100 + i));
  t.equal(wide.size, 0, 'computed numbers take no room in the table');
  const nested = { ...entry(300), st: { ...entry(300).st, dev: 9 } };
  t.equal(wide.of(nested), 2, 'an object on another device than its layer root is numbered from the table');
  t.equal(wide.of({ ...entry(2 ** 44), rel: '/big' }), 3, 'so is a backing number of 2^44 or more');
  wide.alias(entry(200), 0, 5, 42);
  t.equal(wide.of({ layer: 0, rel: '/f200', st: { ...attr(42), dev: 5 } }), 2 * 2 ** 44 + 200, 'a copy-up keeps its lower number');
  t.equal(wide.size, 3, 'the table holds only those three');
});
