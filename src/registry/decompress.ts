// A layer blob's tar, by its media type: gzip (zlib), zstd (fzstd: Node 20's zlib has none, and
// fzstd is plain JavaScript, with no binary to fetch at install) or none.
import zlib from 'node:zlib';
import { Transform, type Readable } from 'node:stream';
import { Decompress } from 'fzstd';
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

/** The tar inside `blob`. Errors of the blob stream pass on to the result. */
export function decompress(blob: Readable, c: Compression): Readable {
  if (c === 'none') return blob;
  const t = c === 'gzip' ? zlib.createGunzip() : zstdStream();
  blob.on('error', (err) => t.destroy(err));
  t.on('error', () => blob.destroy());
  return blob.pipe(t);
}

function zstdStream(): Transform {
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
