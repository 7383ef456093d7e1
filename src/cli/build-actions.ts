// `strata build` and `strata builder prune`: call the build service, print its events as docker's
// classic builder prints them.
import fs from 'node:fs';
import { build as runBuild, type BuildEvent } from '../build/builder.js';
import { pruneCache } from '../build/cache.js';
import { Containers } from '../container/service.js';
import { intermediates, withStore } from './image-actions.js';
import { humanSize, shortId } from './format.js';

export interface BuildOptions {
  tag?: string[];
  file?: string;
  cache?: boolean; // --no-cache sets false
  buildArg?: string[];
  target?: string;
  label?: string[];
  quiet?: boolean;
  iidfile?: string;
  rm?: boolean | string; // --rm=false keeps RUN's containers
  squash?: boolean;
}

/** One event as docker's lines. */
function lines(e: BuildEvent): string {
  switch (e.type) {
    case 'step':
      return `Step ${e.n}/${e.of} : ${e.instruction}\n`;
    case 'from':
      return ` ---> ${e.image ? shortId(e.image) : 'scratch'}\n`;
    case 'triggers':
      return `# Executing ${e.count} build trigger${e.count === 1 ? '' : 's'}\n`;
    case 'running':
      return ` ---> Running in ${shortId(e.container)}\n`;
    case 'removed':
      return `Removing intermediate container ${shortId(e.container)}\n`;
    case 'cached':
      return ` ---> Using cache\n ---> ${shortId(e.image)}\n`;
    case 'made':
      return ` ---> ${shortId(e.image)}\n`;
    case 'built':
      return `Successfully built ${shortId(e.image)}\n`;
    case 'tagged':
      return `Successfully tagged ${e.ref}\n`;
  }
}

export function build(context: string, o: BuildOptions): Promise<void> {
  return withStore(async (s) => {
    const k = new Containers(s, { warn: (line) => process.stderr.write(`strata: ${line}\n`) });
    const rm = o.rm !== false && o.rm !== 'false';
    const req = { context, file: o.file, tags: o.tag, cache: o.cache, buildArgs: o.buildArg, target: o.target, labels: o.label, rm, squash: o.squash };
    // -q: only the image ID at the end (RUN's own output still shows, as docker's classic builder lets it)
    const img = await runBuild(s, k, req, (e) => o.quiet || process.stdout.write(lines(e)));
    if (o.quiet) console.log(img.id);
    if (o.iidfile) {
      fs.writeFileSync(`${o.iidfile}.tmp`, img.id);
      fs.renameSync(`${o.iidfile}.tmp`, o.iidfile);
    }
  });
}

/** docker builder prune: forget every cached step and remove the intermediate images only the cache kept. */
export function builderPrune(): Promise<void> {
  return withStore((s) => {
    const r = pruneCache(s, () => intermediates(s));
    for (const id of r.deleted) console.log(`deleted: ${id}`);
    console.log(`Deleted build cache objects: ${r.forgotten}\n\nTotal reclaimed space: ${humanSize(r.freed)}`);
  });
}
