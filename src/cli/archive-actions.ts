// `strata save` / `strata load`: images as one tar (an OCI layout with docker's manifest.json),
// by file or pipe. The work is the image service's (src/image/archive.ts).
import fs from 'node:fs';
import { refuse } from '../sys/errors.js';
import { save as saveToStream, saveToFile, load as loadService } from '../image/archive.js';
import { withStore } from './with-store.js';
import { progressBars } from './progress-bar.js';

export function save(refs: string[], o: { output?: string }): Promise<void> {
  return withStore(async (s) => {
    if (!o.output && process.stdout.isTTY)
      refuse('invalid', 'refusing to write a tar to a terminal; use -o FILE or redirect it (strata save IMAGE > image.tar)');
    const bars = progressBars(); // on stderr, so a pipe on stdout gets only the tar
    try {
      if (o.output) await saveToFile(s, refs, o.output, bars.sink);
      else await saveToStream(s, refs, process.stdout, bars.sink);
    } finally {
      bars.stop();
    }
  });
}

export function load(o: { input?: string }): Promise<void> {
  return withStore(async (s) => {
    if (!o.input && process.stdin.isTTY) refuse('invalid', 'no archive on stdin: use -i FILE or redirect one (strata load < image.tar)');
    const bars = progressBars();
    let loaded;
    try {
      const size = o.input ? (fs.statSync(o.input, { throwIfNoEntry: false }) ?? refuse('not-found', `${o.input} does not exist`)).size : undefined;
      loaded = await loadService(s, o.input ? fs.createReadStream(o.input) : process.stdin, { size }, bars.sink);
    } finally {
      bars.stop();
    }
    for (const l of loaded) {
      if (l.tags.length) for (const t of l.tags) console.log(`Loaded image: ${t}`);
      else console.log(`Loaded image ID: ${l.id}`);
    }
  });
}
