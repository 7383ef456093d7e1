// An image and its layers as go-containerregistry's pkg/v1 has them: whatever holds an image (the
// store, an OCI image layout, a docker archive, later a registry) answers these, and save, load,
// push and pull are copies from one implementation into another.
import type { Readable } from 'node:stream';
import type { ImageConfig, Manifest } from '../oci/image.js';

/** A JSON document as its source holds it: the bytes (which its digest names) and what they say. */
export interface Document<T> {
  raw: Buffer;
  parsed: T;
  /** sha256:<hex> of `raw`. */
  digest: string;
}

/**
 * One layer of an image.
 *
 * Contract:
 * - `digest` names the blob as its source stores or serves it (plain, gzip or zstd tar); `size` is
 *   the blob's bytes; `mediaType` says which of the tars it is.
 * - `diffId` is the sha256 of the uncompressed tar: the image config's `rootfs.diff_ids` entry.
 * - `compressed()` yields the blob's bytes exactly (they hash to `digest`); `uncompressed()` the tar
 *   (it hashes to `diffId`). Each call is a new stream from the start.
 * - A source it is read from may be damaged or lie: a consumer that records what it reads checks
 *   the digests (the store refuses a layer whose tar is not its diffID); a source read over a
 *   network checks `digest` while streaming and fails the stream with a StrataError('damaged').
 */
export interface Layer {
  readonly digest: string;
  readonly diffId: string;
  readonly size: number;
  readonly mediaType: string;
  compressed(): Readable;
  uncompressed(): Readable;
}

/**
 * An image: its manifest, its config, and its layers in the manifest's order (bottom first).
 *
 * Contract:
 * - `manifest().digest` is the sha256 of `manifest().raw`; the manifest's config descriptor names
 *   `config().digest` and size, which is the image ID.
 * - `layers()[i]` is the manifest's i-th layer descriptor, whose diffID is the config's i-th
 *   `rootfs.diff_ids`.
 * - `tags`: the names the source gives the image (NAME:TAG, short form: `busybox:1`), if any.
 * - Asynchronous, so that an implementation over a network fits the same shape.
 */
export interface Image {
  readonly tags: string[];
  manifest(): Promise<Document<Manifest>>;
  config(): Promise<Document<ImageConfig>>;
  layers(): Promise<Layer[]>;
}
