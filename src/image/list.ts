// Which images there are, as `images` lists them: a build's intermediate images hidden unless
// asked for, dangling ones (what prune removes) told apart.
import type { ImageRecord, Store } from '../store/store.js';

export interface ImageRow {
  repo: string;
  tag: string;
  id: string;
  created: string;
  size: number;
}

/** Untagged images that another image was built on: a build's steps, listed only with `images -a`. */
export function intermediates(s: Store, all = s.allImages()): Set<string> {
  const parents = new Set(all.map((i) => i.parent).filter((p): p is string => !!p));
  return new Set(all.filter((i) => parents.has(i.id) && s.tagsOf(i.id).length === 0).map((i) => i.id));
}

/** Untagged images nothing was built on and no container uses: what `image prune` removes. */
export function dangling(s: Store, all = s.allImages()): ImageRecord[] {
  const parents = new Set(all.map((i) => i.parent));
  return all.filter((i) => !parents.has(i.id) && s.tagsOf(i.id).length === 0 && s.containersOf(i.id).length === 0);
}

/** One row per tag (one `<none>` row for an untagged image), newest first. */
export function listImages(s: Store, o: { all?: boolean } = {}): ImageRow[] {
  return s.locked(() => {
    const rows: ImageRow[] = [];
    const hidden = o.all ? new Set<string>() : intermediates(s);
    for (const img of s.allImages()) {
      if (hidden.has(img.id)) continue;
      const tags = s.tagsOf(img.id);
      const size = s.imageSize(img);
      if (tags.length === 0) rows.push({ repo: '<none>', tag: '<none>', id: img.id, created: img.created, size });
      for (const t of tags) {
        const i = t.lastIndexOf(':');
        rows.push({ repo: t.slice(0, i), tag: t.slice(i + 1), id: img.id, created: img.created, size });
      }
    }
    return rows.sort((a, b) => b.created.localeCompare(a.created));
  });
}
