// `strata system check [--no-repair]`: the report of the image service's check (src/image/check.ts).
import { refuse } from '../sys/errors.js';
import { checkStore } from '../image/check.js';
import { withStore } from './with-store.js';
import { progressBars } from './progress-bar.js';

export function check(o: { repair?: boolean }): Promise<void> {
  return withStore((s) => {
    const bars = progressBars();
    let r;
    try {
      r = checkStore(s, o, bars.sink);
    } finally {
      bars.stop();
    }
    for (const x of r.repaired) console.log(`repaired: ${x}`);
    for (const p of r.problems) console.log(`problem: ${p}`);
    if (r.unverified.length)
      console.log(`note: ${r.unverified.length} layer(s) stored before strata kept file manifests: their dirs were not compared (not damage)`);
    console.log(r.problems.length ? `${r.problems.length} problem(s) left` : 'the store is consistent');
    if (r.problems.length) refuse('damaged', `the store has ${r.problems.length} problem(s) that need a person: re-import or remove the images named above`);
  });
}
