// `strata system df [-v]`: what images, containers and the build cache take, from real layer
// sharing: a layer used by several images counts once, as SHARED SIZE, for each of them.
import { dirSize } from '../store/usage.js';
import { withStore, imageSize, intermediates } from './image-actions.js';
import { cacheEntries } from './build-actions.js';
import { ago, humanSize, shortId, table } from './format.js';
import type { Store } from '../store/store.js';
import { running, statusOf } from './container-actions.js';

export function df(o: { verbose?: boolean; format?: string }): Promise<void> {
  return withStore((s: Store) => {
    const every = s.allImages();
    // A build's intermediate images are its cache, counted there, not among the images.
    const inter = intermediates(s, every);
    const images = every.filter((i) => !inter.has(i.id));
    const containers = s.allContainers();
    const users = new Map<string, number>(); // diffID -> images using it
    for (const i of images) for (const d of new Set(i.layers)) users.set(d, (users.get(d) ?? 0) + 1);
    const layerSize = (d: string) => s.layer(d)?.size ?? 0;
    const used = new Set(containers.map((c) => c.image));
    const rows = images.map((img) => {
      const shared = img.layers.filter((d) => (users.get(d) ?? 0) > 1).reduce((n, d) => n + layerSize(d), 0);
      const size = imageSize(s, img);
      return { id: img.id, tags: s.tagsOf(img.id), created: img.created, size, shared, unique: size - shared, containers: containers.filter((c) => c.image === img.id).length };
    });
    const allLayers = [...users.keys()].reduce((n, d) => n + layerSize(d), 0);
    const usedLayers = new Set(images.filter((i) => used.has(i.id)).flatMap((i) => i.layers));
    const reclaimImages = [...users.keys()].filter((d) => !usedLayers.has(d)).reduce((n, d) => n + layerSize(d), 0);
    const ctr = containers.map((c) => ({ id: c.id, name: c.name, image: c.image, created: c.created, running: running(c), status: statusOf(s, c), size: dirSize(`${s.containerPaths(c.id).dir}/upper`) }));
    const ctrSize = ctr.reduce((n, c) => n + c.size, 0);
    const ctrReclaim = ctr.filter((c) => !c.running).reduce((n, c) => n + c.size, 0);
    const cacheLayers = new Set(every.filter((i) => inter.has(i.id)).flatMap((i) => i.layers).filter((d) => !users.has(d)));
    const cacheSize = [...cacheLayers].reduce((n, d) => n + layerSize(d), 0);
    const pct = (a: number, b: number) => (b ? ` (${Math.round((100 * a) / b)}%)` : '');
    const summary = [
      { type: 'Images', total: images.length, active: used.size, size: allLayers, reclaimable: reclaimImages },
      { type: 'Containers', total: containers.length, active: ctr.filter((c) => c.running).length, size: ctrSize, reclaimable: ctrReclaim },
      { type: 'Build Cache', total: cacheEntries(s).length, active: 0, size: cacheSize, reclaimable: cacheSize },
    ];
    if (o.format === 'json') return console.log(JSON.stringify(o.verbose ? { summary, images: rows, containers: ctr } : summary, null, 2));
    if (!o.verbose) {
      process.stdout.write(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], summary.map((r) => [r.type, String(r.total), String(r.active), humanSize(r.size), humanSize(r.reclaimable) + pct(r.reclaimable, r.size)])));
      return;
    }
    console.log(`Images space usage:\n`);
    process.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], rows.flatMap((r) => (r.tags.length ? r.tags : ['<none>:<none>']).map((t) => {
      const i = t.lastIndexOf(':');
      return [t.slice(0, i), t.slice(i + 1), shortId(r.id), ago(r.created), humanSize(r.size), humanSize(r.shared), humanSize(r.unique), String(r.containers)];
    }))));
    console.log(`\nContainers space usage:\n`);
    process.stdout.write(table(['CONTAINER ID', 'IMAGE', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ctr.map((c) => [shortId(c.id), s.tagsOf(c.image)[0] ?? shortId(c.image), '0', humanSize(c.size), ago(c.created), c.status, c.name])));
    console.log(`\nBuild cache usage: ${humanSize(cacheSize)}\n`);
  });
}
