// The image services called in process, with a Store on a temp STRATA_ROOT (no CLI): import with
// progress, list, tag, rmi's rules, prune, history, check finding a damaged layer dir, and save +
// load through the Image interfaces.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, tmpdir } from './helpers/mount.js';
import { Store } from '../src/store/store.js';
import type { ProgressEvent } from '../src/sys/progress.js';
import { importImage } from '../src/image/import.js';
import { listImages } from '../src/image/list.js';
import { tagImage, removeImage, pruneImages } from '../src/image/remove.js';
import { imageHistory } from '../src/image/info.js';
import { checkStore } from '../src/image/check.js';
import { saveToFile, load } from '../src/image/archive.js';
import { verifyLayerFiles } from '../src/oci/layer-files.js';
import tar from 'tar-stream';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-imgsvc-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
const open = (name: string) => {
  const s = Store.open(`${base}/${name}`);
  t.teardown(() => s.close());
  return s;
};
const s = open('root');
const tagsOf = () =>
  listImages(s, { all: true })
    .map((r) => `${r.repo}:${r.tag}`)
    .sort();

t.test('import a tar, with progress by bytes', async (t) => {
  const events: ProgressEvent[] = [];
  const img = await importImage(s, rootfs, { tag: 'busybox:1', message: 'base', change: ['CMD ["/bin/sh"]'] }, (e) => events.push(e));
  t.match(img.id, /^sha256:[a-f0-9]{64}$/, 'an image ID');
  const size = fs.statSync(rootfs).size;
  t.ok(events.length > 1 && events.every((e) => e.task === 'import' && e.unit === 'bytes' && e.total === size), 'import events in bytes of the file');
  t.ok(
    events.every((e, i) => i === 0 || e.done >= events[i - 1].done),
    'never going back',
  );
  t.same(events.at(-1), { task: 'import', item: rootfs, done: size, total: size, unit: 'bytes', finished: true }, 'the last one finished, at the whole file');
  t.same(s.config(img).config.Cmd, ['/bin/sh'], '-c applied');
  t.same(tagsOf(), ['busybox:1'], 'list has it');
  const dirEvents: ProgressEvent[] = [];
  execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), ['--dir', `${base}/bbdir`]);
  const fromDir = await importImage(s, `${base}/bbdir`, { tag: 'fromdir:1' }, (e) => dirEvents.push(e));
  t.ok(s.hasLayer(fromDir.layers[0]), 'a dir imports as a layer');
  t.match(dirEvents.at(-1), { task: 'import', unit: 'entries', finished: true }, 'a dir reports entries');
  t.ok(dirEvents.at(-1)!.done > 200, `${dirEvents.at(-1)!.done} entries`);
  await t.rejects(importImage(s, `${base}/missing.tar`), { code: 'not-found' }, 'a missing source: not-found');
  t.throws(() => tagImage(s, 'busybox:1', 'Bad:Name'), { code: 'invalid' }, 'a bad name: invalid');
});

t.test('tag, rmi and prune', async (t) => {
  const id = s.image('busybox:1').id;
  t.equal(tagImage(s, 'busybox:1', 'other'), 'other:latest', 'tag returns the stored name');
  t.same(removeImage(s, 'other'), { untagged: ['other:latest'], deleted: [] }, 'rmi of one of two tags only untags');
  tagImage(s, id, 'a:1');
  tagImage(s, id, 'a:2');
  t.same(removeImage(s, id.slice(7, 19)).untagged.sort(), ['a:1', 'a:2', 'busybox:1'], 'rmi by ID removes every tag');
  t.throws(() => s.image(id), { code: 'not-found' }, 'and the image');
  t.same(tagsOf(), ['fromdir:1'], 'the other image stays');
  t.ok(s.hasLayer(s.image('fromdir:1').layers[0]), 'and so does the layer it shares');
  const dangling = await importImage(s, rootfs);
  const c = s.createContainer({ image: s.image('fromdir:1').id, command: ['true'] });
  t.throws(() => removeImage(s, 'fromdir:1'), { code: 'in-use' }, 'rmi of an image a container uses: in-use');
  // issue 11: with two names on an image a container uses, rmi -f of one untagged both
  tagImage(s, 'fromdir:1', 'hello-world');
  t.same(removeImage(s, 'hello-world', { force: true }), { untagged: ['hello-world:latest'], deleted: [] }, 'rmi -f NAME untags NAME alone');
  t.ok(tagsOf().includes('fromdir:1') && !tagsOf().includes('hello-world:latest'), 'the other name stays');
  const size = s.imageSize(dangling);
  const p = pruneImages(s);
  t.same(p.lines, [`deleted: ${dangling.id}`], 'prune removes the dangling image only');
  t.equal(p.freed, size, 'freeing its layer (busybox:1, which had it too, is gone)');
  t.same(pruneImages(s, { all: true }).lines, [], 'prune -a keeps the image a container uses');
  s.removeContainer(c.id);
  const last = s.image('fromdir:1').id;
  const all = pruneImages(s, { all: true });
  t.same(all.lines, ['untagged: fromdir:1', `deleted: ${last}`], 'prune -a: untagged and deleted');
  t.ok(all.freed > 1_000_000, 'freeing the layer');
  t.same(fs.readdirSync(`${s.root}/layers`), [], 'no layer dir left');
  t.same(fs.readdirSync(`${s.root}/layer-files`), [], 'nor a file manifest');
});

t.test('history', async (t) => {
  const img = await importImage(s, rootfs, { tag: 'h:1', message: 'the base' });
  const rows = imageHistory(s, 'h:1');
  t.equal(rows.length, 1, 'one row');
  t.match(rows[0], { id: img.id, createdBy: `strata import ${rootfs}`, comment: 'the base' }, 'with its ID, command and comment');
  t.equal(rows[0].size, s.imageSize(img), 'and its size');
});

t.test('check finds a damaged layer dir', async (t) => {
  const s2 = open('damage');
  const img = await importImage(s2, rootfs, { tag: 'd:1' });
  t.same(checkStore(s2, { repair: false }), { repaired: [], problems: [], unverified: [] }, 'a fresh store is clean');
  const dir = s2.layerDir(img.layers[0]);
  const file = `${dir}/etc/passwd`;
  const bytes = fs.readFileSync(file);
  bytes[0] ^= 0x20;
  fs.writeFileSync(file, bytes);
  const r = checkStore(s2, { repair: false });
  t.equal(r.problems.length, 1, 'one problem');
  t.match(r.problems[0], /^image d:1: the dir of layer sha256:[a-f0-9]{12} differs from what was stored: \/etc\/passwd changed \(content\)$/, r.problems[0]);
  fs.rmSync(`${dir}/etc/hostname`);
  fs.writeFileSync(`${dir}/etc/extra`, 'x');
  fs.chmodSync(`${dir}/etc/group`, 0o600);
  const r2 = checkStore(s2, { repair: false });
  t.match(
    r2.problems[0],
    /\/etc\/group changed \(mode\), \/etc\/passwd changed \(content\), \/etc\/hostname missing, \/etc\/extra added$/,
    'a changed mode, a missing and an extra file',
  );
  fs.rmSync(s2.layerFilesPath(img.layers[0]));
  const r3 = checkStore(s2, { repair: false });
  t.same([r3.problems, r3.unverified], [[], [img.layers[0]]], 'a layer without a manifest (stored before them) is unverified, not damaged');
});

t.test('save and load through the Image interfaces', async (t) => {
  const img = s.image('h:1');
  const file = `${base}/h.tar`;
  const saved: ProgressEvent[] = [];
  await saveToFile(s, ['h:1'], file, (e) => saved.push(e));
  t.match(saved.at(-1), { task: 'save', unit: 'bytes', finished: true, done: s.layer(img.layers[0])!.size }, 'save reports the layer it wrote');
  const s3 = open('loaded');
  const events: ProgressEvent[] = [];
  const loaded = await load(s3, fs.createReadStream(file), { size: fs.statSync(file).size }, (e) => events.push(e));
  t.same(loaded, [{ id: img.id, tags: ['h:1'] }], 'the same image, with its tag');
  t.ok(
    events.some((e) => e.task === 'read' && e.finished && e.done === fs.statSync(file).size),
    'load reports the archive read',
  );
  t.ok(
    events.some((e) => e.task === 'load' && e.finished),
    'and the layer stored',
  );
  t.equal(verifyLayerFiles(s3.layerDir(img.layers[0]), s.layerFilesPath(img.layers[0])), null, 'its layer dir is the same, file for file');
  t.same(checkStore(s3, { repair: false }).problems, [], 'and the store is consistent');
  // A save that fails half way leaves no temp file.
  fs.renameSync(s.blobPath(img.layers[0]), `${base}/hidden`);
  t.teardown(() => fs.renameSync(`${base}/hidden`, s.blobPath(img.layers[0])));
  await t.rejects(saveToFile(s, ['h:1'], `${base}/fail.tar`), 'a save whose blob is gone fails');
  t.same(
    fs.readdirSync(base).filter((n) => n.startsWith('fail.tar')),
    [],
    'and leaves neither the file nor its temp',
  );
});

t.test('a layer 3,000 dirs deep imports, checks clean and goes (issue 11)', async (t) => {
  // d/d/…/d/f: 6,000 characters, past what one syscall takes (PATH_MAX)
  const tarFile = `${base}/deep.tar`;
  const pack = tar.pack();
  const out = fs.createWriteStream(tarFile);
  const done = new Promise<void>((r) => out.on('close', () => r()));
  pack.pipe(out);
  let name = '';
  for (let i = 0; i < 3000; i++) pack.entry({ name: (name += (i ? '/' : '') + 'd'), type: 'directory', mode: 0o755 });
  pack.entry({ name: `${name}/f`, mode: 0o644 }, 'deep\n');
  pack.finalize();
  await done;
  const s3 = open('deep');
  const img = await importImage(s3, tarFile, { tag: 'deep' });
  const found = execFileSync('find', [s3.layerDir(img.layers[0]), '-name', 'f', '-type', 'f'], { encoding: 'utf8' }).trim();
  t.equal(found.split('/').filter((p) => p === 'd').length, 3000, 'the file is there, 3,000 dirs down');
  t.same(checkStore(s3, { repair: false }).problems, [], 'system check finds nothing wrong');
  t.same(removeImage(s3, 'deep').deleted, [img.id], 'rmi removes it');
  t.same(fs.readdirSync(`${base}/deep/layers`), [], 'with its layer dir');
});
