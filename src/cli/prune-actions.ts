// The prunes, as docker's: `image prune [-a]`, `container prune`, `system prune [-a]`. Each asks
// first unless given -f, then prints what it removed under docker's headings and
// "Total reclaimed space".
import type { Store } from '../store/store.js';
import { pruneImages } from '../image/remove.js';
import { intermediates } from '../image/list.js';
import { pruneCache } from '../build/cache.js';
import { Containers } from '../container/service.js';
import { Volumes } from '../container/volumes.js';
import { withStore } from './with-store.js';
import { humanSize } from './format.js';
import { confirm } from './confirm.js';

const IMAGES = 'all dangling images';
const ALL_IMAGES = 'all images without at least one container associated to them';

/** Print a section ("Deleted Images:" and its lines) when it has any. */
function section(title: string, lines: string[]): void {
  if (lines.length) console.log(`${title}\n${lines.join('\n')}\n`);
}

function images(s: Store, all: boolean): number {
  const r = pruneImages(s, { all });
  section('Deleted Images:', r.lines);
  return r.freed;
}

function containers(s: Store): number {
  const r = new Containers(s).prune();
  section('Deleted Containers:', r.deleted);
  return r.freed;
}

export async function imagePrune(o: { all?: boolean; force?: boolean }): Promise<void> {
  if (!o.force && !(await confirm(`This will remove ${o.all ? ALL_IMAGES : IMAGES}.`))) return;
  await withStore((s) => console.log(`Total reclaimed space: ${humanSize(images(s, !!o.all))}`));
}

export async function containerPrune(o: { force?: boolean }): Promise<void> {
  if (!o.force && !(await confirm('This will remove all stopped containers.'))) return;
  await withStore((s) => console.log(`Total reclaimed space: ${humanSize(containers(s))}`));
}

function volumes(s: Store, all: boolean, filters?: string[]): number {
  const r = new Volumes(s).prune({ all, filters });
  section('Deleted Volumes:', r.deleted);
  return r.freed;
}

export async function volumePrune(o: { all?: boolean; force?: boolean; filter?: string[] }): Promise<void> {
  if (!o.force && !(await confirm(`This will remove all ${o.all ? '' : 'anonymous '}local volumes not used by at least one container.`))) return;
  await withStore((s) => console.log(`Total reclaimed space: ${humanSize(volumes(s, !!o.all, o.filter))}`));
}

export async function systemPrune(o: { all?: boolean; force?: boolean; volumes?: boolean }): Promise<void> {
  const what = [
    'all stopped containers',
    ...(o.volumes ? ['all anonymous volumes not used by at least one container'] : []),
    o.all ? ALL_IMAGES : IMAGES,
    'unused build cache',
  ];
  if (!o.force && !(await confirm(`This will remove:\n${what.map((w) => `  - ${w}`).join('\n')}\n`))) return;
  await withStore((s) => {
    let freed = containers(s);
    if (o.volumes) freed += volumes(s, false);
    freed += images(s, !!o.all);
    const cache = pruneCache(s, () => intermediates(s));
    section('Deleted build cache objects:', cache.deleted);
    freed += cache.freed;
    console.log(`Total reclaimed space: ${humanSize(freed)}`);
  });
}
