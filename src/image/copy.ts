// An `Image` from anywhere into the store: its layers first (each tar checked against its diffID
// as it is stored; a layer the store has is not read again), then its record and tags.
import { refuse } from '../sys/errors.js';
import { hexOf } from '../oci/digest.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import { parseRef, type ImageRecord, type Store } from '../store/store.js';
import type { Image } from './image.js';
import { counted } from './counting.js';

/**
 * Store `img`; the diffIDs of layers it added are pushed to `added`, so that a caller copying
 * several images can drop them again if a later one fails. Returns the record and its tags.
 */
export async function copyToStore(
  s: Store,
  img: Image,
  added: string[],
  sink: ProgressSink = noProgress,
  task = 'load',
): Promise<{ record: ImageRecord; tags: string[] }> {
  const [m, c, layers] = [await img.manifest(), await img.config(), await img.layers()];
  if (m.parsed.config?.digest !== c.digest)
    refuse('damaged', `an image's config is ${c.digest.slice(0, 19)}, but its manifest says ${m.parsed.config?.digest}: the archive is damaged`);
  const diffIds = c.parsed.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) refuse('damaged', `an image in the archive lists ${layers.length} layers but its config ${diffIds.length}`);
  const tags = img.tags.map((t) => parseRef(t));
  for (const l of layers) {
    if (s.hasLayer(l.diffId)) continue;
    await s.addLayer(counted(l.uncompressed(), sink, task, hexOf(l.diffId).slice(0, 12)), () => undefined, l.diffId);
    added.push(l.diffId);
  }
  const record = s.addImage(c.parsed, tags[0], undefined, c.raw);
  for (const t of tags.slice(1)) s.tag(t, record.id);
  return { record, tags };
}
