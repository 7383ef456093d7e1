// The build service called in process (no CLI): the layer cache (a rebuild is all cache hits and
// the same image; a changed context file reruns from its COPY), what COPY writes (through the
// snapshot's in-process Union: modes, times, owner, overwriting a lower file), and symlinks on a
// COPY's way followed inside the image, never on the host. No RUN here: that needs a FUSE mount.
// (From src/ the FUSE daemon cannot even start, so these builds show that COPY mounts nothing.)
import t from 'tap';
import { storeWithBusybox } from './helpers/store.js';
import fs from 'node:fs';
import { tmpdir } from './helpers/mount.js';
import { parseRef } from '../src/store/store.js';
import { newConfig } from '../src/oci/image.js';
import { Containers } from '../src/container/service.js';
import { build, type BuildEvent } from '../src/build/builder.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-bsvc-');
const { s } = await storeWithBusybox(t, base, 'base');
const k = new Containers(s);

const ctx = `${base}/ctx`;
fs.mkdirSync(`${ctx}/files/sub`, { recursive: true });
fs.writeFileSync(`${ctx}/files/a`, 'a\n');
fs.writeFileSync(`${ctx}/files/sub/b`, 'b\n');
fs.chmodSync(`${ctx}/files/sub/b`, 0o600);
fs.utimesSync(`${ctx}/files/sub/b`, new Date('2020-02-02T00:00:00Z'), new Date('2020-02-02T00:00:00Z'));
fs.writeFileSync(`${ctx}/hostname`, 'built\n');
fs.writeFileSync(
  `${ctx}/Dockerfile`,
  'FROM base\nARG WHERE=/app\nENV APP=$WHERE\nWORKDIR $APP\nCOPY files/ ./\nCOPY hostname /etc/hostname\nCMD ["cat", "a"]\n',
);

const run = async (o: { cache?: boolean } = {}) => {
  const events: BuildEvent[] = [];
  const img = await build(s, k, { context: ctx, tags: ['app:1'], ...o }, (e) => events.push(e));
  return { img, events, kinds: events.filter((e) => e.type === 'cached' || e.type === 'made').map((e) => e.type) };
};
/** The file at `p` in an image, from the topmost layer that has it. */
const fileIn = (layers: string[], p: string) =>
  layers
    .map((d) => `${s.layerDir(d)}${p}`)
    .reverse()
    .find((f) => fs.existsSync(f));

t.test('a build, and the layer cache', async (t) => {
  const first = await run();
  t.same(first.kinds, ['made', 'made', 'made', 'made', 'made'], 'ENV, WORKDIR, COPY, COPY and CMD each make an image');
  t.same(first.events[0], { type: 'step', n: 1, of: 7, instruction: 'FROM base' }, 'a step event for each instruction');
  t.same(first.events.at(-1), { type: 'tagged', ref: 'app:1' }, 'and the tag at the end');
  t.equal(s.image('app:1').id, first.img.id, 'tagged');
  t.equal(first.img.layers.length, 3, 'two COPY layers on the base');
  t.same(k.list({ all: true }), [], 'no build container is left');

  const a = fileIn(first.img.layers, '/app/a')!;
  t.equal(fs.readFileSync(a, 'utf8'), 'a\n', 'COPY of a dir copies its contents into WORKDIR');
  const b = fs.statSync(fileIn(first.img.layers, '/app/sub/b')!);
  t.equal(b.mode & 0o7777, 0o600, 'modes kept');
  t.equal(b.mtime.toISOString(), '2020-02-02T00:00:00.000Z', 'times kept');
  t.equal(b.uid, 0, 'owned by root');
  t.equal(fs.readFileSync(fileIn(first.img.layers, '/etc/hostname')!, 'utf8'), 'built\n', 'a lower file overwritten');

  const again = await run();
  t.same(again.kinds, ['cached', 'cached', 'cached', 'cached', 'cached'], 'a second build is all cache hits');
  t.equal(again.img.id, first.img.id, 'and gives the same image');

  fs.writeFileSync(`${ctx}/files/a`, 'changed\n');
  const changed = await run();
  t.same(changed.kinds, ['cached', 'cached', 'made', 'made', 'made'], 'a changed context file: ENV and WORKDIR cached, from its COPY on rerun');
  t.equal(fs.readFileSync(fileIn(changed.img.layers, '/app/a')!, 'utf8'), 'changed\n', 'with the new file');
  t.same((await run({ cache: false })).kinds, ['made', 'made', 'made', 'made', 'made'], 'no cache: every step runs');
});

t.test("COPY follows a symlink on its way inside the image's root, never the host's", async (t) => {
  const tree = `${base}/linked`;
  fs.mkdirSync(`${tree}/etc`, { recursive: true });
  fs.symlinkSync('/etc', `${tree}/conf`); // absolute: the image's /etc
  const cfg = newConfig();
  s.addLayerFromTree(tree, {}, (layer) => {
    cfg.rootfs.diff_ids = [layer.diffId];
    return s.addImage(cfg, parseRef('linked'));
  });
  const c2 = `${base}/ctx2`;
  fs.mkdirSync(c2);
  const name = `strata-test-${process.pid}.txt`;
  fs.writeFileSync(`${c2}/${name}`, 'inside\n');
  fs.writeFileSync(`${c2}/Dockerfile`, `FROM linked\nCOPY ${name} /conf/\n`);
  const img = await build(s, k, { context: c2 });
  t.equal(fs.readFileSync(`${s.layerDir(img.layers[1])}/etc/${name}`, 'utf8'), 'inside\n', "the file lands in the image's /etc");
  t.notOk(fs.existsSync(`/etc/${name}`), "and not in the host's");
});

t.test('refusals', async (t) => {
  const bad = `${base}/ctx-bad`;
  fs.mkdirSync(bad);
  fs.writeFileSync(`${bad}/Dockerfile`, 'FROM base\nCOPY nothere /x\n');
  await t.rejects(
    build(s, k, { context: bad }),
    { code: 'invalid', message: 'Dockerfile, line 2: file not found in the build context: nothere' },
    'a missing source: the line, invalid',
  );
  await t.rejects(build(s, k, { context: `${base}/nosuch` }), { code: 'not-found' }, 'no such context');
  t.same(k.list({ all: true }), [], 'no build container is left');
});
