// Images as one tar, in the layout docker 25+ writes: an OCI image layout (oci-layout,
// index.json, blobs/sha256/…) with docker's manifest.json beside it, so that `docker load`,
// skopeo and umoci read it. Any `Image` can be written; each blob goes in once.
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { hexOf } from '../oci/digest.js';
import { MEDIA } from '../oci/image.js';
import { packStream } from '../oci/tar-write.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import type { Image } from './image.js';
import type { IndexEntry } from './layout.js';
import type { DockerManifestEntry } from './docker-archive.js';
import { counted } from './counting.js';

const blobName = (d: string) => `blobs/sha256/${hexOf(d)}`;

/** containerd's and OCI's names for a tag (NAME:TAG, short form). */
function annotations(tag: string): Record<string, string> {
  return {
    'io.containerd.image.name': `docker.io/${tag.includes('/') ? '' : 'library/'}${tag}`,
    'org.opencontainers.image.ref.name': tag.slice(tag.lastIndexOf(':') + 1),
  };
}

type Blob = { size: number; data: Buffer } | { size: number; open: () => Readable; item: string };

/** Write `images` (each named by its first tag, if any) as an archive to `out`; resolves when it is all written. */
export async function writeArchive(images: Image[], out: Writable, sink: ProgressSink = noProgress): Promise<void> {
  const index: IndexEntry[] = [];
  const docker: DockerManifestEntry[] = [];
  const blobs = new Map<string, Blob>();
  for (const img of images) {
    const [m, c, layers] = [await img.manifest(), await img.config(), await img.layers()];
    const tag = img.tags[0];
    blobs.set(m.digest, { size: m.raw.length, data: m.raw });
    blobs.set(c.digest, { size: c.raw.length, data: c.raw });
    for (const l of layers) blobs.set(l.digest, { size: l.size, open: () => l.compressed(), item: hexOf(l.digest).slice(0, 12) });
    index.push({ mediaType: MEDIA.manifest, digest: m.digest, size: m.raw.length, ...(tag ? { annotations: annotations(tag) } : {}) });
    docker.push({ Config: blobName(c.digest), RepoTags: tag ? [tag] : null, Layers: layers.map((l) => blobName(l.digest)) });
  }
  const pack = tar.pack();
  const done = pipeline(pack as unknown as Readable, out);
  const entry = (name: string, data: Buffer) =>
    new Promise<void>((resolve, reject) =>
      pack.entry({ name, mode: 0o644, size: data.length, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())),
    );
  try {
    await entry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await entry('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: index })));
    await entry('manifest.json', Buffer.from(JSON.stringify(docker)));
    for (const [digest, b] of blobs) {
      if ('data' in b) await entry(blobName(digest), b.data);
      else await packStream(pack, { name: blobName(digest), mode: 0o644, size: b.size, mtime: new Date(0) }, counted(b.open(), sink, 'save', b.item, b.size));
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => {});
    throw err;
  }
  await done;
}
