// An image archive (a tar: OCI layout, docker archive, or both) unpacked into a dir, regular files
// only, each at its clean path; a file under blobs/sha256/ must hash to its name, so that what is
// read from the dir afterwards needs no second check.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { refuse, StrataError } from '../sys/errors.js';
import { cleanName } from '../oci/layer-builder.js';

export async function unpackArchive(input: Readable, dir: string): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (h: tar.Header, source: unknown, next: (err?: Error | null) => void) => {
    const stream = source as Readable;
    let file: string;
    let name: string;
    try {
      name = cleanName(h.name);
      file = path.join(dir, name);
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        stream.resume();
        return next();
      }
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    } catch (err) {
      stream.resume();
      return next(err instanceof StrataError ? err : new StrataError('damaged', `this is not an image archive: "${h.name}" cannot be unpacked`));
    }
    const hash = crypto.createHash('sha256');
    stream.on('data', (d: Buffer) => hash.update(d));
    pipeline(stream, fs.createWriteStream(file)).then(() => {
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      if (m && hash.digest('hex') !== m[1])
        return next(new StrataError('damaged', `blob ${m[1].slice(0, 12)} in the archive does not match its digest: the archive is damaged`));
      next();
    }, next);
  });
  try {
    await pipeline(input, extract as unknown as NodeJS.WritableStream);
  } catch (err) {
    if (err instanceof StrataError) throw err; // a blob that does not match its digest, a name escaping the root
    refuse('damaged', `this is not an image archive (a tar): ${(err as Error).message}`);
  }
}
