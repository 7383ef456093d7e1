// What each layer adds that a later layer deletes or overwrites, so the image carries it for
// nothing (dive's "wasted space" and "efficiency"). The classic cases: a file deleted in a later
// layer is still in the earlier one; a chmod copies the whole file up.
import { walkOverlay } from '../sys/overlay-walk.js';
import type { Store } from '../store/store.js';

export interface WasteItem {
  path: string;
  layer: number;
  size: number;
  by: number;
  how: 'deleted' | 'overwritten';
}

export interface Waste {
  image: string;
  totalBytes: number;
  wastedBytes: number;
  efficiency: number;
  layers: { diffId: string; createdBy: string; added: number; wasted: number }[];
  /** Biggest first. */
  items: WasteItem[];
}

export function imageWaste(s: Store, ref: string): Waste {
  const img = s.image(ref);
  const createdBy = s
    .config(img)
    .history.filter((h) => !h.empty_layer)
    .map((h) => h.created_by ?? '');
  const files = new Map<string, { layer: number; size: number }>(); // merged path -> the layer whose copy is visible
  const wasted = img.layers.map(() => 0);
  const added = img.layers.map(() => 0);
  const items: WasteItem[] = [];
  /** What `by` hides: the path itself (`exact`) or everything under it. */
  const drop = (prefix: string, by: number, how: WasteItem['how'], exact: boolean) => {
    for (const [p, f] of files) {
      if (exact ? p !== prefix : !p.startsWith(prefix + '/')) continue;
      wasted[f.layer] += f.size;
      items.push({ path: p, layer: f.layer, size: f.size, by, how });
      files.delete(p);
    }
  };
  img.layers.forEach((diffId, li) => {
    for (const e of walkOverlay(s.layerDir(diffId))) {
      if (e.whiteout) {
        drop(e.rel, li, 'deleted', true);
        drop(e.rel, li, 'deleted', false);
      } else if (e.dir) {
        if (e.opaque()) drop(e.rel, li, 'deleted', false);
      } else {
        if (files.has(e.rel)) drop(e.rel, li, 'overwritten', true);
        files.set(e.rel, { layer: li, size: e.st.size });
        added[li] += e.st.size;
      }
    }
  });
  const total = added.reduce((a, b) => a + b, 0);
  const lost = wasted.reduce((a, b) => a + b, 0);
  items.sort((a, b) => b.size - a.size);
  return {
    image: img.id,
    totalBytes: total,
    wastedBytes: lost,
    efficiency: total ? (total - lost) / total : 1,
    layers: img.layers.map((d, i) => ({ diffId: d, createdBy: createdBy[i] ?? '', added: added[i], wasted: wasted[i] })),
    items,
  };
}
