// A docker archive (what `docker save` writes) in a dir: manifest.json lists each image's config,
// tags and layer tars by path. docker 25+ puts them under blobs/sha256/ of an OCI layout beside
// it; older dockers write <id>/layer.tar and <id>.json, whose digests are computed here. The
// archive holds no OCI manifest of its own for an image, so one is made from what it says.
import fs from 'node:fs';
import { MEDIA, type ImageConfig, type Manifest, type Descriptor } from '../oci/image.js';
import { sha256OfFile } from '../oci/layer-files.js';
import { isGzip } from '../oci/tar-apply.js';
import type { Document, Image, Layer } from './image.js';
import { fileIn, shortRef } from './layout.js';
import { documentOf, FileLayer } from './store-image.js';

export interface DockerManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** A file's digest: its name under blobs/sha256/ (checked when the archive was unpacked), or its hash. */
function digestOf(rel: string, file: string): string {
  const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(rel);
  return 'sha256:' + (m ? m[1] : sha256OfFile(file));
}

export class DockerArchiveImage implements Image {
  readonly tags: string[];
  private descs: (Descriptor & { file: string })[];
  constructor(
    readonly dir: string,
    readonly entry: DockerManifestEntry,
  ) {
    this.tags = (entry.RepoTags ?? []).map(shortRef);
    this.descs = entry.Layers.map((rel) => {
      const file = fileIn(dir, rel);
      return { file, digest: digestOf(rel, file), size: fs.statSync(file).size, mediaType: isGzip(file) ? `${MEDIA.layer}+gzip` : MEDIA.layer };
    });
  }
  async config(): Promise<Document<ImageConfig>> {
    return documentOf<ImageConfig>(fs.readFileSync(fileIn(this.dir, this.entry.Config)));
  }
  async manifest(): Promise<Document<Manifest>> {
    const c = await this.config();
    const m: Manifest = {
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: c.digest, size: c.raw.length },
      layers: this.descs.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    };
    return documentOf<Manifest>(Buffer.from(JSON.stringify(m)));
  }
  async layers(): Promise<Layer[]> {
    const diffIds = (await this.config()).parsed.rootfs?.diff_ids ?? [];
    return this.descs.map((d, i) => new FileLayer(d.file, d.digest, diffIds[i], d.size, d.mediaType));
  }
}

export function readDockerArchive(dir: string): Image[] {
  const list: DockerManifestEntry[] = JSON.parse(fs.readFileSync(fileIn(dir, 'manifest.json'), 'utf8'));
  return list.map((e) => new DockerArchiveImage(dir, e));
}
