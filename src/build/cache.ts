// The build cache as the commands see it: its live entries (system df), and pruning it.
import type { Store } from '../store/store.js';

/** Cached build steps whose image still exists. */
export function cacheEntries(s: Store): { key: string; image: string }[] {
  return s.cacheEntries().filter((e) => e.live);
}

/**
 * docker builder prune: forget every cached step, and remove the `intermediates` (untagged images
 * builds stood on) that no container uses. Returns how many steps were forgotten, the images
 * removed and the bytes freed.
 */
export function pruneCache(s: Store, intermediates: Iterable<string>): { forgotten: number; deleted: string[]; freed: number } {
  const forgotten = s.forgetCache();
  const used = new Set(s.allContainers().map((c) => c.image));
  const deleted: string[] = [];
  let freed = 0;
  for (const id of intermediates) {
    const img = s.imageById(id);
    if (!img || used.has(id)) continue;
    freed += s.deleteImage(img.id) ?? 0;
    deleted.push(id);
  }
  return { forgotten, deleted, freed };
}
