// The image commands: import, images, tag, rmi, prune, history. Each parses, calls the image
// service (src/image) and prints in docker's formats.
import { filterImages, IMAGE_FILTERS, parseFilters } from '../image/filters.js';
import { withStore } from './with-store.js';
import type { ImageRecord } from '../store/store.js';
import { importImage as importService } from '../image/import.js';
import { listImages } from '../image/list.js';
import { tagImage, removeImage } from '../image/remove.js';
import { imageHistory } from '../image/info.js';
import { progressBars } from './progress-bar.js';
import { ago, humanSize, shortId, table } from './format.js';

export { withStore } from './with-store.js';
export { intermediates } from '../image/list.js';
export { inspectImage } from '../image/info.js';

export function importImage(src: string, o: { tag?: string; message?: string; change?: string[] }): Promise<void> {
  return withStore(async (s) => {
    const bars = progressBars();
    let img: ImageRecord;
    try {
      img = await importService(s, src, o, bars.sink);
    } finally {
      bars.stop(); // before the result is printed
    }
    console.log(img.id);
  });
}

export function images(o: { format?: string; all?: boolean; quiet?: boolean; filter?: string[] }): Promise<void> {
  return withStore((s) => {
    const rows = filterImages(s, listImages(s, o), parseFilters(o.filter, IMAGE_FILTERS));
    if (o.format === 'json') return console.log(JSON.stringify(rows, null, 2));
    if (o.quiet) return void process.stdout.write([...new Set(rows.map((r) => shortId(r.id)))].map((id) => id + '\n').join(''));
    process.stdout.write(
      table(
        ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
        rows.map((r) => [r.repo, r.tag, shortId(r.id), ago(r.created), humanSize(r.size)]),
      ),
    );
  });
}

export function tag(src: string, dst: string): Promise<void> {
  return withStore((s) => void tagImage(s, src, dst));
}

export function rmi(refs: string[], o: { force?: boolean }): Promise<void> {
  return withStore((s) => {
    for (const ref of refs) {
      const r = removeImage(s, ref, o);
      for (const t of r.untagged) console.log(`Untagged: ${t}`);
      for (const id of r.deleted) console.log(`Deleted: ${id}`);
    }
  });
}

export function history(ref: string, o: { noTrunc?: boolean; format?: string }): Promise<void> {
  return withStore((s) => {
    const rows = imageHistory(s, ref);
    if (o.format === 'json')
      return console.log(
        JSON.stringify(
          rows.map(({ id, ...r }) => ({ id: id ?? '<missing>', ...r })),
          null,
          2,
        ),
      );
    const trunc = (x: string) => (o.noTrunc || x.length <= 45 ? x : x.slice(0, 44) + '…');
    const idCol = (id?: string) => (id ? (o.noTrunc ? id : shortId(id)) : '<missing>');
    process.stdout.write(
      table(
        ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
        rows.map((r) => [idCol(r.id), ago(r.created), trunc(r.createdBy), humanSize(r.size), r.comment]),
      ),
    );
  });
}
