// `strata image waste IMAGE`: what each layer adds that a later layer deletes or overwrites, so the
// image carries it for nothing (dive's "wasted space" and "efficiency"). The classic cases: a file
// deleted in a later layer is still in the earlier one; a chmod copies the whole file up.
import fs from 'node:fs';
import { lstat, isDir } from '../sys/stat.js';
import { isOpaque, isWhiteout } from '../sys/overlay-format.js';
import { withStore } from './image-actions.js';
import { humanSize, table } from './format.js';

interface Owner {
  layer: number;
  size: number;
}

export function waste(ref: string, o: { format?: string }): Promise<void> {
  return withStore((s) => {
    const img = s.image(ref);
    const cfg = s.config(img);
    const createdBy = cfg.history.filter((h) => !h.empty_layer).map((h) => h.created_by ?? '');
    const files = new Map<string, Owner>(); // merged path -> the layer whose copy is visible, and its size
    const wasted = img.layers.map(() => 0);
    const added = img.layers.map(() => 0);
    const items: { path: string; layer: number; size: number; by: number; how: 'deleted' | 'overwritten' }[] = [];
    const drop = (prefix: string, by: number, how: 'deleted' | 'overwritten', exact: boolean) => {
      for (const [p, f] of files) {
        if (exact ? p !== prefix : !p.startsWith(prefix + '/')) continue;
        wasted[f.layer] += f.size;
        items.push({ path: p, layer: f.layer, size: f.size, by, how });
        files.delete(p);
      }
    };
    img.layers.forEach((diffId, li) => {
      const root = s.layerDir(diffId);
      const walk = (rel: string) => {
        if (rel && isOpaque(root + rel)) drop(rel, li, 'deleted', false);
        for (const n of fs.readdirSync(root + (rel || '/'))) {
          const p = `${rel}/${n}`;
          const st = lstat(root + p);
          if (isWhiteout(st)) {
            drop(p, li, 'deleted', true);
            drop(p, li, 'deleted', false);
            continue;
          }
          if (isDir(st.mode)) {
            walk(p);
            continue;
          }
          if (files.has(p)) drop(p, li, 'overwritten', true);
          files.set(p, { layer: li, size: st.size });
          added[li] += st.size;
        }
      };
      walk('');
    });
    const total = added.reduce((a, b) => a + b, 0);
    const lost = wasted.reduce((a, b) => a + b, 0);
    const efficiency = total ? (total - lost) / total : 1;
    items.sort((a, b) => b.size - a.size);
    if (o.format === 'json') return console.log(JSON.stringify({ image: img.id, totalBytes: total, wastedBytes: lost, efficiency, layers: img.layers.map((d, i) => ({ diffId: d, createdBy: createdBy[i] ?? '', added: added[i], wasted: wasted[i] })), items }, null, 2));
    process.stdout.write(table(['LAYER', 'SIZE', 'WASTED', 'CREATED BY'], img.layers.map((_, i) => [String(i), humanSize(added[i]), humanSize(wasted[i]), (createdBy[i] ?? '').slice(0, 60)])));
    if (items.length) {
      console.log('');
      process.stdout.write(table(['PATH', 'SIZE', 'IN LAYER', 'WHY'], items.slice(0, 20).map((x) => [x.path, humanSize(x.size), String(x.layer), `${x.how} in layer ${x.by}`])));
      if (items.length > 20) console.log(`… ${items.length - 20} more`);
    }
    console.log(`\nWasted space: ${humanSize(lost)} of ${humanSize(total)}\nImage efficiency: ${(efficiency * 100).toFixed(1)}%`);
  });
}
