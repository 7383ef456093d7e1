// The work behind the image commands: import, images, tag, rmi, history, inspect.
import fs from 'node:fs';
import { refuse } from '../sys/errors.js';
import { withStore } from './with-store.js';
import { Store, parseRef, safeRef, type ImageRecord, type LayerRecord } from '../store/store.js';
import { newConfig } from '../oci/image.js';
import { openTar } from '../oci/tar-apply.js';
import { applyChanges } from '../oci/changes.js';
import { ago, humanSize, shortId, table } from './format.js';

export { withStore } from './with-store.js';

export const imageSize = (s: Store, img: ImageRecord) => s.imageSize(img);

export function importImage(src: string, o: { tag?: string; message?: string; change?: string[] }): Promise<void> {
  return withStore(async (s) => {
    const tag = o.tag ? parseRef(o.tag) : undefined;
    const st = fs.statSync(src, { throwIfNoEntry: false }) ?? refuse('failed', `${src} does not exist`);
    const config = newConfig();
    config.config = applyChanges(config.config, o.change ?? []);
    config.history = [{ created: config.created, created_by: `strata import ${src}`, ...(o.message ? { comment: o.message } : {}) }];
    const record = (layer: LayerRecord) => {
      config.rootfs.diff_ids = [layer.diffId];
      return s.addImage(config, tag);
    };
    const img = st.isDirectory() ? s.addLayerFromTree(src, {}, record) : await s.addLayer(openTar(src), record);
    console.log(img.id);
  });
}

/** Untagged images that another image was built on: a build's steps, listed only with `images -a`. */
export function intermediates(s: Store, all = s.allImages()): Set<string> {
  const parents = new Set(all.map((i) => i.parent).filter((p): p is string => !!p));
  return new Set(all.filter((i) => parents.has(i.id) && s.tagsOf(i.id).length === 0).map((i) => i.id));
}

/** Untagged images nothing was built on and no container uses: what `image prune` removes. */
function dangling(s: Store, all = s.allImages()): ImageRecord[] {
  const parents = new Set(all.map((i) => i.parent));
  return all.filter((i) => !parents.has(i.id) && s.tagsOf(i.id).length === 0 && usersOf(s, i.id).length === 0);
}

export function images(o: { format?: string; all?: boolean; quiet?: boolean }): Promise<void> {
  return withStore((s) => {
    const rows: { repo: string; tag: string; id: string; created: string; size: number }[] = [];
    const hidden = o.all ? new Set<string>() : intermediates(s);
    for (const img of s.allImages()) {
      if (hidden.has(img.id)) continue;
      const tags = s.tagsOf(img.id);
      if (tags.length === 0) rows.push({ repo: '<none>', tag: '<none>', id: img.id, created: img.created, size: imageSize(s, img) });
      for (const t of tags) {
        const i = t.lastIndexOf(':');
        rows.push({ repo: t.slice(0, i), tag: t.slice(i + 1), id: img.id, created: img.created, size: imageSize(s, img) });
      }
    }
    rows.sort((a, b) => b.created.localeCompare(a.created));
    if (o.format === 'json') return console.log(JSON.stringify(rows, null, 2));
    if (o.quiet) return void process.stdout.write([...new Set(rows.map((r) => shortId(r.id)))].map((id) => id + '\n').join(''));
    process.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows.map((r) => [r.repo, r.tag, shortId(r.id), ago(r.created), humanSize(r.size)])));
  });
}

export function tag(src: string, dst: string): Promise<void> {
  return withStore((s) => {
    const img = s.image(src);
    s.tag(parseRef(dst), img.id);
  });
}

/** Containers that use an image. */
const usersOf = (s: Store, id: string) => s.containersOf(id);

export function rmi(refs: string[], o: { force?: boolean }): Promise<void> {
  return withStore((s) => {
    for (const ref of refs) {
      const img = s.image(ref);
      const used = usersOf(s, img.id);
      const named = s.tagsOf(img.id).includes(safeRef(ref)) ? [safeRef(ref)] : [];
      if (used.length && !o.force) refuse('failed', `image ${ref} is used by container ${shortId(used[0].id)} (${used[0].name}); remove it first or use --force`);
      const untag = used.length ? s.tagsOf(img.id) : named.length ? named : s.tagsOf(img.id);
      for (const t of untag) {
        s.untag(t);
        console.log(`Untagged: ${t}`);
      }
      if (!used.length && s.tagsOf(img.id).length === 0) {
        s.deleteImage(img.id);
        console.log(`Deleted: ${img.id}`);
        // As docker: the build steps below it go too, as long as nothing else stands on them.
        for (let p = img.parent ? s.imageById(img.parent) : undefined; p && dangling(s).some((d) => d.id === p!.id); p = p.parent ? s.imageById(p.parent) : undefined) {
          s.deleteImage(p.id);
          console.log(`Deleted: ${p.id}`);
        }
      }
    }
  });
}

export function prune(o: { all?: boolean }): Promise<void> {
  return withStore((s) => {
    let total = 0;
    const drop = (img: ImageRecord) => {
      for (const t of s.tagsOf(img.id)) {
        s.untag(t);
        console.log(`untagged: ${t}`);
      }
      total += s.deleteImage(img.id) ?? 0;
      console.log(`deleted: ${img.id}`);
    };
    if (o.all) for (const img of s.allImages()) if (!usersOf(s, img.id).length) drop(img);
    // Dangling images, until none is left: removing one can leave the build step below it dangling.
    for (let d = dangling(s); d.length; d = dangling(s)) d.forEach(drop);
    console.log(`\nTotal reclaimed space: ${humanSize(total)}`);
  });
}

export function history(ref: string, o: { noTrunc?: boolean; format?: string }): Promise<void> {
  return withStore((s) => {
    const img = s.image(ref);
    const cfg = s.config(img);
    let layer = 0;
    const rows = cfg.history.map((h) => {
      const size = h.empty_layer ? 0 : (s.layer(img.layers[layer++])?.size ?? 0);
      return { created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '' };
    });
    rows.reverse();
    // A row has an ID where an image of this store ends there: the image itself, and the build steps below it.
    const ids: string[] = [];
    for (let i: ImageRecord | undefined = img; i && s.config(i).history.length === cfg.history.length - ids.length; i = i.parent ? s.imageById(i.parent) : undefined) ids.push(i.id);
    const idOf = (i: number) => ids[i] ?? '<missing>';
    if (o.format === 'json') return console.log(JSON.stringify(rows.map((r, i) => ({ id: idOf(i), ...r })), null, 2));
    const trunc = (x: string) => (o.noTrunc || x.length <= 45 ? x : x.slice(0, 44) + '…');
    process.stdout.write(
      table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r, i) => [ids[i] ? (o.noTrunc ? ids[i] : shortId(ids[i])) : '<missing>', ago(r.created), trunc(r.createdBy), humanSize(r.size), r.comment])),
    );
  });
}

export function inspectImage(s: Store, img: ImageRecord): object {
  const cfg = s.config(img);
  return { Id: img.id, RepoTags: s.tagsOf(img.id), Created: img.created, Author: cfg.author ?? '', Architecture: cfg.architecture, Os: cfg.os, Config: cfg.config, Size: imageSize(s, img), RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids }, History: cfg.history, Manifest: img.manifest };
}
