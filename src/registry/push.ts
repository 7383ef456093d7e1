// strata push: the image's layers (three at a time), its config, then an OCI manifest. For each
// layer the cheapest way that works:
// - a compressed form strata knows (pulled from, or pushed before) that the target repository
//   already has: "Layer already exists" (one HEAD);
// - one another repository of the same registry holds: a cross-repository mount, "Mounted from";
// - else the layer's tar is gzipped on every core while it is sent (deterministically, so the same
//   tar gives the same digest again), in PATCHes of up to 64 MiB, and its digest kept, so the next
//   push of it compresses nothing.
import fs from 'node:fs';
import { refuse, StrataError } from '../sys/errors.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import { MEDIA } from '../oci/image.js';
import type { LayerRecord, Store } from '../store/store.js';
import { familiarName, parseImageRef } from '../store/reference.js';
import { MANIFEST_TYPES, type Registry } from './client.js';
import { connect, type ConnectOptions } from './connect.js';
import { LAYER_TYPES } from './decompress.js';
import { pool } from './pull.js';
import { gzipChunks } from './gzip-chunks.js';

export interface PushOptions extends ConnectOptions {
  parallel?: number;
  /** A layer goes up in PATCHes of at most this many bytes (default 64 MiB). */
  chunkSize?: number;
  say?: (line: string) => void;
  progress?: ProgressSink;
}

export interface Pushed {
  ref: string;
  digest: string;
  size: number;
  /** What happened to each layer, bottom first. */
  layers: ('exists' | 'mounted' | 'pushed')[];
}

const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

export async function push(s: Store, refText: string, o: PushOptions = {}): Promise<Pushed> {
  const say = o.say ?? (() => {});
  const ref = parseImageRef(refText);
  if (ref.digest) throw new StrataError('invalid', 'push takes NAME[:TAG], not a digest');
  const tag = ref.tag ?? 'latest';
  const local = `${familiarName(ref)}:${tag}`;
  const img = s.image(local);
  const reg = await connect(ref.domain, o);
  const repo = `${ref.domain}/${ref.path}`;
  try {
    say(`The push refers to repository [${ref.domain === 'docker.io' ? 'docker.io/' + ref.path : repo}]`);
    const layers = img.layers.map((d) => s.layer(d) ?? refuse('damaged', `layer ${short(d)} of ${local} is missing from the store (run strata system check)`));
    for (const l of [...layers].reverse()) say(`${short(l.diffId)}: Preparing`);
    const results: Pushed['layers'] = new Array(layers.length);
    const descs: { mediaType: string; digest: string; size: number }[] = new Array(layers.length);
    await pool(
      layers.map((l, i) => async () => {
        const r = await pushLayer(s, reg, ref.path, repo, l, o);
        results[i] = r.how;
        descs[i] = r.desc;
        say(`${short(l.diffId)}: ${r.how === 'exists' ? 'Layer already exists' : r.how === 'mounted' ? `Mounted from ${r.from}` : 'Pushed'}`);
      }),
      o.parallel ?? 3,
    );
    const configRaw = fs.readFileSync(s.blobPath(img.id));
    if (!(await reg.hasBlob(ref.path, img.id, `repository:${ref.path}:pull,push`))) await reg.uploadBlob(ref.path, img.id, configRaw);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPES.ociManifest,
        config: { mediaType: MEDIA.config, digest: img.id, size: configRaw.length },
        layers: descs,
      }),
    );
    const digest = await reg.putManifest(ref.path, tag, { bytes: manifest, mediaType: MANIFEST_TYPES.ociManifest });
    s.addRepoDigest(img.id, `${familiarName(ref)}@${digest}`);
    say(`${tag}: digest: ${digest} size: ${manifest.length}`);
    return { ref: local, digest, size: manifest.length, layers: results };
  } finally {
    reg.close();
  }
}

async function pushLayer(
  s: Store,
  reg: Registry,
  path: string,
  repo: string,
  l: LayerRecord,
  o: PushOptions,
): Promise<{ how: 'exists' | 'mounted' | 'pushed'; from?: string; desc: { mediaType: string; digest: string; size: number } }> {
  const scope = `repository:${path}:pull,push`;
  const host = repo.slice(0, repo.indexOf('/'));
  const sources = l.sources ?? [];
  // Known there already: a HEAD says so.
  for (const src of sources) if (src.repos.includes(repo) && (await reg.hasBlob(path, src.digest, scope))) return { how: 'exists', desc: descOf(src) };
  // In another repository of this registry: mount it.
  for (const src of sources)
    for (const other of src.repos.filter((r) => r !== repo && r.startsWith(host + '/'))) {
      const from = other.slice(host.length + 1);
      if (await reg.mountBlob(path, src.digest, from)) {
        s.addLayerSource(l.diffId, { ...src, repo });
        return { how: 'mounted', from, desc: descOf(src) };
      }
    }
  // Pushed to this registry by someone else, perhaps (the same bytes have the same digest).
  for (const src of sources)
    if (!src.repos.includes(repo) && (await reg.hasBlob(path, src.digest, scope))) {
      s.addLayerSource(l.diffId, { ...src, repo });
      return { how: 'exists', desc: descOf(src) };
    }
  // Gzipped while it is sent: the digest is known once the last byte is (the same tar gives the same bytes again).
  const up = await reg.uploadStream(path, gzipped(s, l, o.progress ?? noProgress), o.chunkSize);
  const src = { digest: up.digest, size: up.size, mediaType: LAYER_TYPES.ociGzip, repo };
  s.addLayerSource(l.diffId, src);
  return { how: 'pushed', desc: descOf(src) };
}

const descOf = (src: { mediaType: string; digest: string; size: number }) => ({ mediaType: src.mediaType, digest: src.digest, size: src.size });

/** The layer's tar, gzipped on every core (see gzip-chunks.ts). */
function gzipped(s: Store, l: LayerRecord, progress: ProgressSink): AsyncIterable<Buffer> {
  const src = fs.createReadStream(s.blobPath(l.blob), { highWaterMark: 1 << 20 });
  // counted as it is read (a 'data' listener beside the iterator would take chunks from it)
  async function* counted() {
    let read = 0;
    for await (const c of src) {
      progress({ task: 'push', item: short(l.diffId), done: (read += (c as Buffer).length), total: l.size });
      yield c as Buffer;
    }
  }
  return gzipChunks(counted());
}
