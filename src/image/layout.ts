// An OCI image layout (image-spec image-layout.md) in a dir: oci-layout, index.json, and every
// blob under blobs/sha256/<hex>. Each manifest the index lists is an `Image`; a containerd name
// annotation is its tag.
import fs from 'node:fs';
import path from 'node:path';
import { refuse } from '../sys/errors.js';
import { hexOf } from '../oci/digest.js';
import type { Descriptor, ImageConfig, Manifest } from '../oci/image.js';
import type { Document, Image, Layer } from './image.js';
import { documentOf, fileLayers } from './store-image.js';

export interface IndexEntry extends Descriptor {
  annotations?: Record<string, string>;
}

/** docker.io/library/busybox:latest and busybox:latest name the same image; strata keeps the short form. */
export const shortRef = (t: string) => t.replace(/^docker\.io\/(library\/)?/, '');

/** A file of an unpacked archive or layout, by its path inside it; a missing one is damage. */
export function fileIn(dir: string, rel: string): string {
  const f = path.join(dir, rel);
  if (!fs.statSync(f, { throwIfNoEntry: false })?.isFile()) refuse('damaged', `the archive has no ${rel}`);
  return f;
}

export const blobIn = (dir: string, digest: string) => fileIn(dir, `blobs/sha256/${hexOf(digest)}`);

/** A JSON blob of the layout, checked against the digest that names it. */
export function documentIn<T>(dir: string, d: Descriptor): Document<T> {
  const doc = documentOf<T>(fs.readFileSync(blobIn(dir, d.digest)));
  if (doc.digest !== d.digest) refuse('damaged', `blob ${hexOf(d.digest).slice(0, 12)} in the archive does not match its digest: the archive is damaged`);
  return doc;
}

export class LayoutImage implements Image {
  readonly tags: string[];
  constructor(
    readonly dir: string,
    readonly entry: IndexEntry,
  ) {
    const name = entry.annotations?.['io.containerd.image.name'];
    this.tags = name ? [shortRef(name)] : [];
  }
  async manifest(): Promise<Document<Manifest>> {
    return documentIn<Manifest>(this.dir, this.entry);
  }
  async config(): Promise<Document<ImageConfig>> {
    return documentIn<ImageConfig>(this.dir, (await this.manifest()).parsed.config);
  }
  async layers(): Promise<Layer[]> {
    const [m, c] = [await this.manifest(), await this.config()];
    return fileLayers(m.parsed, c.parsed, (d) => blobIn(this.dir, d.digest));
  }
}

/** The images an OCI layout's index.json lists. */
export function readLayout(dir: string): Image[] {
  const idx: { manifests?: IndexEntry[] } = JSON.parse(fs.readFileSync(fileIn(dir, 'index.json'), 'utf8'));
  return (idx.manifests ?? []).map((e) => new LayoutImage(dir, e));
}
