// What an image is: inspect's object and history's rows.
import type { ImageRecord, Store } from '../store/store.js';

export function inspectImage(s: Store, img: ImageRecord): object {
  const cfg = s.config(img);
  return {
    Id: img.id,
    RepoTags: s.tagsOf(img.id),
    Created: img.created,
    Author: cfg.author ?? '',
    Architecture: cfg.architecture,
    Os: cfg.os,
    Config: cfg.config,
    Size: s.imageSize(img),
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    History: cfg.history,
    Manifest: img.manifest,
  };
}

export interface HistoryRow {
  /** The image that ends at this step, where this store has one (the image itself, the build steps below it). */
  id?: string;
  created: string;
  createdBy: string;
  size: number;
  comment: string;
}

/** The image's history, newest first. */
export function imageHistory(s: Store, ref: string): HistoryRow[] {
  const img = s.image(ref);
  const cfg = s.config(img);
  let layer = 0;
  const rows: HistoryRow[] = cfg.history.map((h) => {
    const size = h.empty_layer ? 0 : (s.layer(img.layers[layer++])?.size ?? 0);
    return { created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '' };
  });
  rows.reverse();
  const ids: string[] = [];
  const below = (i: ImageRecord) => (i.parent ? s.imageById(i.parent) : undefined);
  for (let i: ImageRecord | undefined = img; i && s.config(i).history.length === cfg.history.length - ids.length; i = below(i)) ids.push(i.id);
  return rows.map((r, i) => (ids[i] ? { id: ids[i], ...r } : r));
}
