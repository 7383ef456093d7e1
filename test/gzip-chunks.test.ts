// Push's gzip (gzip-chunks.ts): 4 MiB members deflated by libdeflate in the addon, pieces that do
// not shrink stored. The stream must be one valid gzip file that gives the tar back, the same
// bytes every time (a layer keeps its digest from push to push), and store random data unsqueezed.
import t from 'tap';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { gzipChunks, PIECE } from '../src/registry/gzip-chunks.js';
import { native } from '../src/sys/native.js';

async function* feed(b: Buffer, step: number) {
  for (let o = 0; o < b.length; o += step) yield b.subarray(o, o + step);
}

async function gz(b: Buffer, step = 1 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of gzipChunks(feed(b, step))) parts.push(p);
  return Buffer.concat(parts);
}

// text that compresses (repeated words) and random bytes that do not, across several pieces
const words = Buffer.from(Array.from({ length: 400_000 }, (_, i) => `line ${i % 977} of a layer file\n`).join(''));
const random = crypto.randomBytes(PIECE + 12345);
const mixed = Buffer.concat([words, random, words.subarray(0, 777)]);

t.test('the members make one gzip stream that gives the input back', async (t) => {
  const out = await gz(mixed);
  t.ok(zlib.gunzipSync(out).equals(mixed), 'gunzip of the whole stream is the input');
  t.ok(out.length < mixed.length, `smaller than the input (${out.length} < ${mixed.length})`);
  const members = Math.ceil(mixed.length / PIECE);
  let magic = 0;
  for (let i = out.indexOf(Buffer.from([0x1f, 0x8b, 8])); i >= 0; i = out.indexOf(Buffer.from([0x1f, 0x8b, 8]), i + 1)) magic++;
  t.ok(magic >= members, `at least one gzip header per 4 MiB piece (${magic} for ${members} pieces)`);
});

t.test('the same input gives the same bytes, however it arrives', async (t) => {
  const a = await gz(mixed, 1 << 20);
  const b = await gz(mixed, 65536 + 7);
  t.equal(crypto.createHash('sha256').update(a).digest('hex'), crypto.createHash('sha256').update(b).digest('hex'));
});

t.test('a piece of random bytes is stored, not deflated', async (t) => {
  const out = await gz(random.subarray(0, PIECE));
  // a stored member costs 5 bytes a 64 KiB block plus the header and trailer
  t.ok(out.length - PIECE < 1024, `stored: ${out.length - PIECE} bytes over the input`);
  t.ok(zlib.gunzipSync(out).equals(random.subarray(0, PIECE)));
});

t.test('an empty tar still gets its one member', async (t) => {
  const out = await gz(Buffer.alloc(0));
  t.ok(out.length > 0);
  t.equal(zlib.gunzipSync(out).length, 0);
});

t.test('the addon deflates at the level asked', async (t) => {
  const some = words.subarray(0, 1 << 20);
  const fast = await native.gzipCompress(some, 1);
  const best = await native.gzipCompress(some, 12);
  t.ok(zlib.gunzipSync(fast).equals(some) && zlib.gunzipSync(best).equals(some), 'both give the input back');
  t.ok(best.length < fast.length, `level 12 is smaller than level 1 (${best.length} < ${fast.length})`);
});
