// Gzip for push, on every core: the tar is cut into 4 MiB pieces, each compressed on libuv's
// thread pool as a gzip member of its own (by libdeflate, in the addon: 1.5-2x zlib's speed at the
// same level), and the members sent in order. A stream of members is
// one gzip file (RFC 1952 §2.2; Go's, zlib's and Node's readers take it), and the same tar gives
// the same bytes again, so a layer keeps its digest from push to push. A piece that does not
// compress (random or already-compressed data: a sample of it shrinks by under 3%) is stored
// (level 0): deflating it would cost the most time and save nothing.
import os from 'node:os';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { native } from '../sys/native.js';

const gzip = promisify(zlib.gzip) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;
/** docker's and Go's default gzip level. */
const LEVEL = 6;
const deflateRaw = promisify(zlib.deflateRaw) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

export const PIECE = 4 << 20;
const SAMPLE = 64 << 10;

async function member(piece: Buffer): Promise<Buffer> {
  const sample = piece.subarray(0, SAMPLE);
  const squeezed = await deflateRaw(sample, { level: 1, chunkSize: SAMPLE * 2 });
  if (squeezed.length <= sample.length * 0.97) return native.gzipCompress(piece, LEVEL);
  // stored; one output buffer for the whole member (zlib's default 16 KiB would cost a main-thread callback each)
  return gzip(piece, { level: 0, chunkSize: piece.length + (piece.length >> 3) + 1024 });
}

/** The gzip of `src`, as its members come out, in order. */
export async function* gzipChunks(src: AsyncIterable<Buffer>, inflight = os.availableParallelism() + 1): AsyncGenerator<Buffer> {
  const queue: Promise<Buffer>[] = [];
  let parts: Buffer[] = [];
  let have = 0;
  const cut = () => {
    const all = Buffer.concat(parts, have);
    for (let off = 0; off + PIECE <= all.length; off += PIECE) queue.push(member(all.subarray(off, off + PIECE)));
    const rest = all.length % PIECE;
    parts = rest ? [all.subarray(all.length - rest)] : [];
    have = rest;
  };
  for await (const chunk of src) {
    parts.push(chunk);
    have += chunk.length;
    if (have >= PIECE) cut();
    while (queue.length >= inflight) yield await queue.shift()!;
  }
  if (have > 0 || queue.length === 0) queue.push(member(Buffer.concat(parts, have))); // an empty tar still gets its one member
  while (queue.length) yield await queue.shift()!;
}
