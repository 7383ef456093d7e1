// Apply an OCI layer tar stream to an empty dir (import, load, pull): tar-stream parses, the
// LayerBuilder writes, file data with plain synchronous writes (this process serves no mount).
import { StrataError } from '../sys/errors.js';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { LayerBuilder, LayerError } from './layer-builder.js';
import type { Hdr } from './tar-header.js';

export { cleanName, LayerError } from './layer-builder.js';

/** Whether a file starts with gzip's magic. */
export function isGzip(file: string): boolean {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** A tar file, plain or gzip (told by its magic), as an uncompressed stream; `onRead` hears of each chunk read from the file. */
export function openTar(file: string, onRead?: (bytes: number) => void): Readable {
  const r = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  if (onRead) r.on('data', (d) => onRead(d.length));
  if (!isGzip(file)) return r;
  const gunzip = zlib.createGunzip();
  r.on('error', (err) => gunzip.destroy(err));
  return r.pipe(gunzip);
}

/** Extract `input` (an uncompressed tar stream) into the empty dir `root`. */
export async function applyLayer(input: Readable, root: string): Promise<{ entries: number; hashes: Map<number, string> }> {
  const b = new LayerBuilder(root);
  const extract = tar.extract();
  extract.on('entry', (h: tar.Header, source: unknown, next: (err?: Error | null) => void) => {
    const stream = source as Readable;
    stream.on('error', () => {}); // an entry's stream fails with the whole extract, reported once by the pipeline
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      b.abort();
      stream.resume();
      next(err instanceof LayerError ? err : new LayerError(`cannot apply "${h.name}": ${(err as Error).message}`));
    };
    try {
      const fd = b.entry(h as unknown as Hdr);
      if (fd < 0) {
        stream.resume();
        return next();
      }
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          b.write(chunk);
        } catch (err) {
          fail(err);
        }
      });
      stream.on('end', () => {
        if (failed) return;
        try {
          b.endFile();
          next();
        } catch (err) {
          fail(err);
        }
      });
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
    b.abort();
    // an error of the source itself (a download refused for its digest, say) is told as it is
    throw err instanceof StrataError ? err : new LayerError(`the layer tar is corrupt: ${(err as Error).message}`);
  }
  b.finish();
  return { entries: b.entries, hashes: b.hashes };
}
