// `strata system df [-v]`: the image service's disk usage (src/image/usage.ts) in docker's tables.
import { diskUsage } from '../image/usage.js';
import { withStore } from './with-store.js';
import { ago, humanSize, shortId, table } from './format.js';
import { running, statusOf } from './container-actions.js';

const pct = (a: number, b: number) => (b ? ` (${Math.round((100 * a) / b)}%)` : '');

export function df(o: { verbose?: boolean; format?: string }): Promise<void> {
  return withStore((s) => {
    const u = diskUsage(s, { running, statusOf });
    if (o.format === 'json')
      return console.log(
        JSON.stringify(o.verbose ? { summary: u.summary, images: u.images, containers: u.containers, volumes: u.volumes } : u.summary, null, 2),
      );
    if (!o.verbose) {
      const rows = u.summary.map((r) => [r.type, String(r.total), String(r.active), humanSize(r.size), humanSize(r.reclaimable) + pct(r.reclaimable, r.size)]);
      process.stdout.write(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows));
      return;
    }
    console.log(`Images space usage:\n`);
    const imageRows = u.images.flatMap((r) =>
      (r.tags.length ? r.tags : ['<none>:<none>']).map((t) => {
        const i = t.lastIndexOf(':');
        return [
          t.slice(0, i),
          t.slice(i + 1),
          shortId(r.id),
          ago(r.created),
          humanSize(r.size),
          humanSize(r.shared),
          humanSize(r.unique),
          String(r.containers),
        ];
      }),
    );
    process.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], imageRows));
    console.log(`\nContainers space usage:\n`);
    const ctrRows = u.containers.map((c) => [
      shortId(c.id),
      s.tagsOf(c.image)[0] ?? shortId(c.image),
      String(c.volumes),
      humanSize(c.size),
      ago(c.created),
      c.status,
      c.name,
    ]);
    process.stdout.write(table(['CONTAINER ID', 'IMAGE', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ctrRows));
    console.log(`\nLocal Volumes space usage:\n`);
    process.stdout.write(
      table(
        ['VOLUME NAME', 'LINKS', 'SIZE'],
        u.volumes.map((v) => [v.name, String(v.links), humanSize(v.size)]),
      ),
    );
    console.log(`\nBuild cache usage: ${humanSize(u.cacheSize)}\n`);
  });
}
