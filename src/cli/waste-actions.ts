// `strata image waste IMAGE`: the image service's waste analysis (src/image/waste.ts), dive-style.
import { imageWaste } from '../image/waste.js';
import { withStore } from './with-store.js';
import { humanSize, table } from './format.js';

export function waste(ref: string, o: { format?: string }): Promise<void> {
  return withStore((s) => {
    const w = imageWaste(s, ref);
    if (o.format === 'json') return console.log(JSON.stringify(w, null, 2));
    process.stdout.write(
      table(
        ['LAYER', 'SIZE', 'WASTED', 'CREATED BY'],
        w.layers.map((l, i) => [String(i), humanSize(l.added), humanSize(l.wasted), l.createdBy.slice(0, 60)]),
      ),
    );
    if (w.items.length) {
      console.log('');
      process.stdout.write(
        table(
          ['PATH', 'SIZE', 'IN LAYER', 'WHY'],
          w.items.slice(0, 20).map((x) => [x.path, humanSize(x.size), String(x.layer), `${x.how} in layer ${x.by}`]),
        ),
      );
      if (w.items.length > 20) console.log(`… ${w.items.length - 20} more`);
    }
    console.log(`\nWasted space: ${humanSize(w.wastedBytes)} of ${humanSize(w.totalBytes)}\nImage efficiency: ${(w.efficiency * 100).toFixed(1)}%`);
  });
}
