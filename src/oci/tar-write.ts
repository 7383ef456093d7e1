// Write a tree as a tar stream (export, and tests): the entries of `treeEntries`, with file data
// streamed at the pace of the reader.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type tar from 'tar-stream';
import type { Hdr } from './tar-header.js';
import { treeEntries, type TreeOptions } from './tree-entries.js';

export async function writeTree(root: string, pack: tar.Pack, o: TreeOptions = {}): Promise<{ entries: number }> {
  let entries = 0;
  for (const { h, src } of treeEntries(root, o)) {
    entries++;
    await packEntry(pack, h, src);
  }
  pack.finalize();
  return { entries };
}

/** One entry into `pack`, with `src`'s bytes as its data (or none); resolves once the pack has it. */
export function packEntry(pack: tar.Pack, h: Hdr, src?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    // An empty buffer ends a data-less entry (a 'file' entry without one would wait for data forever).
    if (src === undefined) return void pack.entry(h as tar.Header, Buffer.alloc(0), done);
    const w = pack.entry(h as tar.Header, done);
    const r = fs.createReadStream(src, { highWaterMark: 1 << 20 });
    r.on('error', reject);
    r.pipe(w as unknown as NodeJS.WritableStream);
  });
}

/** One entry into `pack` with the bytes of `data` (exactly `h.size` of them); resolves once the pack has it. */
export function packStream(pack: tar.Pack, h: Hdr, data: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const w = pack.entry(h as tar.Header, (err) => (err ? reject(err) : resolve()));
    (w as unknown as NodeJS.EventEmitter).on('error', reject);
    data.on('error', (err) => {
      reject(err);
      (w as unknown as { destroy(e: Error): void }).destroy(err);
    });
    data.pipe(w as unknown as NodeJS.WritableStream);
  });
}
