// A layer blob's tar, by its media type: gzip (zlib), zstd (fzstd: Node 20's zlib has none, and
// fzstd is plain JavaScript, with no binary to fetch at install) or none.
import zlib from 'node:zlib';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { StrataError } from '../sys/errors.js';

export const LAYER_TYPES = {
  ociTar: 'application/vnd.oci.image.layer.v1.tar',
  ociGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type Compression = 'gzip' | 'zstd' | 'none';

/** How a layer of this media type is compressed; a type that is no layer tar is refused. */
export function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType === LAYER_TYPES.ociTar || mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  throw new StrataError('unsupported', `a layer of media type ${mediaType} cannot be unpacked (strata takes tar, tar+gzip and tar+zstd)`);
}

/**
 * The tar inside `blob`. Errors of the blob stream pass on to the result. When the decompressor
 * fails first, the blob is read to its end before the result fails: a blob that does not match
 * its digest is told as that (the cause), not as the broken gzip it made.
 */
export async function decompress(blob: Readable, c: Compression): Promise<Readable> {
  if (c === 'none') return blob;
  const t = c === 'gzip' ? zlib.createGunzip() : zstdStream((await import('fzstd')).Decompress); // loaded only for zstd
  const out = new PassThrough();
  let failed = false;
  blob.on('error', (err) => out.destroy(err));
  t.on('error', (err) => {
    if (failed) return;
    failed = true;
    blob.unpipe(t);
    blob.on('end', () => out.destroy(err));
    blob.resume(); // on to the end, where its digest is checked
  });
  blob.pipe(t).pipe(out);
  out.on('close', () => {
    if (!blob.readableEnded) blob.destroy();
  });
  return out;
}

function zstdStream(Decompress: typeof import('fzstd').Decompress): Transform {
  let push: ((chunk: Uint8Array) => void) | null = null;
  const d = new Decompress((data) => push?.(data));
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      push = (data) => this.push(Buffer.from(data)); // a copy: fzstd may reuse its window
      try {
        d.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        cb();
      } catch (err) {
        cb(new StrataError('damaged', `a zstd layer does not decompress: ${(err as Error).message}`));
      }
    },
    flush(cb) {
      push = (data) => this.push(Buffer.from(data)); // a copy: fzstd may reuse its window
      try {
        d.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(new StrataError('damaged', `a zstd layer does not decompress: ${(err as Error).message}`));
      }
    },
  });
}
