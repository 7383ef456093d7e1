// Content digests (sha256:<hex>) computed while the bytes stream to a temp file, in one pass.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface Written {
  digest: string;
  size: number;
}

/** Stream `input` to `file` (created, fsynced), returning the sha256 digest and size of what was written. */
export async function writeHashed(input: Readable, file: string): Promise<Written> {
  const h = crypto.createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const fd = fs.openSync(file, 'wx', 0o644);
  const out = fs.createWriteStream('', { fd, autoClose: false });
  try {
    await pipeline(input, tap, out);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { digest: 'sha256:' + h.digest('hex'), size };
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');
}

export const hexOf = (digest: string) => digest.replace(/^sha256:/, '');
