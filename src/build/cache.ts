// Pruning the build cache.
import type { Store } from '../store/store.js';

/**
 * docker builder prune: forget every cached step, and remove the `intermediates` (untagged images
 * builds stood on) that no container uses. Returns how many steps were forgotten, the images
 * removed and the bytes freed.
 */
export function pruneCache(s: Store, intermediates: () => Iterable<string>): { forgotten: number; deleted: string[]; freed: number } {
  // Decided and done under the lock (as deleteImage's ifUnused is): a container created or a tag
  // given meanwhile keeps its image.
  return s.locked(() => {
    const forgotten = s.forgetCache();
    const used = new Set(s.allContainers().map((c) => c.image));
    const deleted: string[] = [];
    let freed = 0;
    for (const id of intermediates()) {
      const img = s.imageById(id);
      if (!img || used.has(id) || s.tagsOf(id).length) continue;
      freed += s.deleteImage(img.id) ?? 0;
      deleted.push(id);
    }
    return { forgotten, deleted, freed };
  });
}
