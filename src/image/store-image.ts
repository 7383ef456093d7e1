// The store's images as `Image`s: manifest and config from their blobs, layers as the stored
// (uncompressed) tars under their diffIDs.
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { sha256 } from '../oci/digest.js';
import type { ImageConfig, Manifest, Descriptor } from '../oci/image.js';
import type { ImageRecord, Store } from '../store/store.js';
import type { Document, Image, Layer } from './image.js';

export function documentOf<T>(raw: Buffer): Document<T> {
  return { raw, parsed: JSON.parse(raw.toString('utf8')) as T, digest: sha256(raw) };
}

const gzipped = (mediaType: string) => mediaType.endsWith('+gzip');

/** A layer whose blob is a file: `uncompressed()` gunzips a gzip blob (zstd is not read). */
export class FileLayer implements Layer {
  constructor(
    readonly file: string,
    readonly digest: string,
    readonly diffId: string,
    readonly size: number,
    readonly mediaType: string,
  ) {}
  compressed(): Readable {
    return fs.createReadStream(this.file, { highWaterMark: 1 << 20 });
  }
  uncompressed(): Readable {
    const r = this.compressed();
    if (!gzipped(this.mediaType)) return r;
    const gunzip = zlib.createGunzip();
    r.on('error', (err) => gunzip.destroy(err));
    return r.pipe(gunzip);
  }
}

/** Layers of a manifest whose blobs are files (`fileOf(digest)`), paired with the config's diffIDs. */
export function fileLayers(m: Manifest, config: ImageConfig, fileOf: (d: Descriptor) => string): Layer[] {
  const diffIds = config.rootfs?.diff_ids ?? [];
  return m.layers.map((d, i) => new FileLayer(fileOf(d), d.digest, diffIds[i], d.size, d.mediaType));
}

export class StoreImage implements Image {
  constructor(
    private s: Store,
    readonly record: ImageRecord,
    readonly tags: string[] = s.tagsOf(record.id),
  ) {}
  async manifest(): Promise<Document<Manifest>> {
    return documentOf(fs.readFileSync(this.s.blobPath(this.record.manifest)));
  }
  async config(): Promise<Document<ImageConfig>> {
    return documentOf(fs.readFileSync(this.s.blobPath(this.record.id)));
  }
  async layers(): Promise<Layer[]> {
    const [m, c] = [await this.manifest(), await this.config()];
    return fileLayers(m.parsed, c.parsed, (d) => this.s.blobPath(d.digest));
  }
}
