// strata pull: a manifest (an index resolved to one platform), the config (kept byte for byte, so
// the image ID is the registry's config digest), then the layers the store lacks, three at a
// time, each checked against its digest as it streams, decompressed, applied and checked against
// its diffID. A pull that fails, or is killed, leaves no image and no layer no image uses (the
// layers it adds are noted first: see Store.pendingLayers).
import fs from 'node:fs';
import { StrataError } from '../sys/errors.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import type { ImageConfig } from '../oci/image.js';
import type { Store } from '../store/store.js';
import { familiarName, familiarRef, parseImageRef, type ImageRef } from '../store/reference.js';
import { parseJson, sha256, type Registry } from './client.js';
import { connect, type ConnectOptions } from './connect.js';
import { choosePlatform, hostPlatform, isIndex, parseImageManifest, type Platform } from './manifests.js';
import { blobStream } from './blob-stream.js';
import { compressionOf, decompress } from './decompress.js';
import { readBody } from './http.js';

export interface PullOptions extends ConnectOptions {
  platform?: Platform;
  /** Layers downloaded at once (default 3). */
  parallel?: number;
  /** Every tag of the repository. */
  allTags?: boolean;
  /** Status lines, as docker prints them. */
  say?: (line: string) => void;
  progress?: ProgressSink;
}

export interface Pulled {
  ref: string;
  id: string;
  digest: string;
  /** Whether anything new was stored (docker's "Downloaded newer image" against "Image is up to date"). */
  updated: boolean;
  layersDownloaded: number;
}

const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

export async function pull(s: Store, refText: string, o: PullOptions = {}): Promise<Pulled[]> {
  const say = o.say ?? (() => {});
  const ref = parseImageRef(refText);
  const reg = await connect(ref.domain, o);
  try {
    if (o.allTags) {
      if (ref.tag || ref.digest) throw new StrataError('invalid', 'pull -a takes a name without a tag or digest');
      const tags = (await reg.tags(ref.path)).sort();
      if (!tags.length) throw new StrataError('not-found', `${familiarName(ref)} has no tags in ${ref.domain}`);
      const out: Pulled[] = [];
      for (const tag of tags) out.push(await pullOne(s, reg, { ...ref, tag }, o, say));
      return out;
    }
    if (!ref.tag && !ref.digest) say('Using default tag: latest');
    return [await pullOne(s, reg, { ...ref, tag: ref.digest ? undefined : (ref.tag ?? 'latest') }, o, say)];
  } finally {
    reg.close();
  }
}

async function pullOne(s: Store, reg: Registry, ref: ImageRef, o: PullOptions, say: (l: string) => void): Promise<Pulled> {
  const host = ref.domain;
  const name = familiarName(ref);
  const refName = familiarRef(ref);
  let top = await reg.manifest(ref.path, ref.digest ?? ref.tag!);
  const digest = top.digest; // what `Digest:` prints: the manifest named, index or not
  if (isIndex(top)) {
    const entry = choosePlatform(top, o.platform ?? hostPlatform(), host);
    top = await reg.manifest(ref.path, entry.digest);
  }
  const m = parseImageManifest(top, host);
  say(`${ref.digest ?? ref.tag}: Pulling from ${ref.path}`);
  // An image the store has already: its config is here, byte for byte (the image ID is its digest).
  const known = s.imageById(m.config.digest);
  const configRaw = known ? fs.readFileSync(s.blobPath(known.id)) : await readBody(await reg.blob(ref.path, m.config.digest), 16 << 20);
  const configDigest = sha256(configRaw);
  if (configDigest !== m.config.digest) throw new StrataError('damaged', `the config of ${refName} does not match its digest ${m.config.digest.slice(0, 19)}…`);
  const config = parseJson(configRaw, `the config of ${refName}`) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.length !== m.layers.length)
    throw new StrataError(
      'damaged',
      `${refName}: its manifest lists ${m.layers.length} layers but its config ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids`,
    );
  for (const l of m.layers) compressionOf(l.mediaType); // refuse an unknown layer type before downloading anything

  const repo = `${host}/${ref.path}`;
  const existed = s.imageById(configDigest);
  const pending = s.pendingLayers();
  const added: string[] = [];
  let downloaded = 0;
  try {
    const jobs = m.layers.map((l, i) => async () => {
      const diffId = diffIds[i];
      if (s.hasLayer(diffId)) {
        say(`${short(l.digest)}: Already exists`);
      } else {
        say(`${short(l.digest)}: Pulling fs layer`);
        pending.add(diffId);
        let done = 0;
        const progress = o.progress ?? noProgress;
        const blob = blobStream(
          reg,
          { repo: ref.path, digest: l.digest, size: l.size },
          (n) => progress({ task: 'pull', item: short(l.digest), done: (done += n), total: l.size }),
          (at) => say(`${short(l.digest)}: Resuming download at byte ${at}`),
        );
        await s.addLayer(await decompress(blob, compressionOf(l.mediaType)), () => undefined, diffId);
        progress({ task: 'pull', item: short(l.digest), done: l.size, total: l.size, finished: true });
        added.push(diffId);
        downloaded++;
        say(`${short(l.digest)}: Pull complete`);
      }
      s.addLayerSource(diffId, { digest: l.digest, size: l.size, mediaType: l.mediaType, repo });
    });
    await pool(jobs, o.parallel ?? 3);
    const tagRef = ref.tag ? `${name}:${ref.tag}` : undefined;
    const before = tagRef ? s.tagged(tagRef) : undefined;
    // Nothing to record when the image is here and the tag points at it already (a pull that finds all it needs).
    const record = existed && (!tagRef || before === existed.id) ? existed : s.addImage(config, tagRef, undefined, configRaw);
    if (record.id !== configDigest) throw new StrataError('failed', `${refName} was stored as ${record.id.slice(0, 19)}…, not as its config digest`);
    s.addRepoDigest(record.id, `${name}@${digest}`);
    say(`Digest: ${digest}`);
    const updated = !existed || before !== record.id;
    say(`Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${refName}`);
    return { ref: refName, id: record.id, digest, updated, layersDownloaded: downloaded };
  } catch (err) {
    s.dropUnusedLayers(added);
    throw err;
  } finally {
    pending.done();
  }
}

/** Run jobs, at most `n` at a time; the first failure fails the whole (the others finish first). */
export async function pool(jobs: (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (next < jobs.length && failed === null) {
      const job = jobs[next++];
      try {
        await job();
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
  if (failed !== null) throw failed;
}
