// strata save / load: images as one tar (an OCI image layout with docker's manifest.json) and
// back, by file and by pipe; a damaged archive is refused before anything is recorded; an OCI
// layout with gzip layers (as registries serve them) loads to the same image.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { CLI, ROOT, tmpdir } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';

t.setTimeout(180_000);
const base = tmpdir(t, 'strata-saveload-');
const root = `${base}/root`;
const { env, strata, ok, cleanup } = storeCli(root);
t.teardown(cleanup);
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [`${base}/busybox.tar`]);
ok('import', `${base}/busybox.tar`, '--tag', 'base');
ok('run', '--name', 'maker', 'base', 'sh', '-c', 'echo saved > /etc/saved; rm /etc/os-release');
ok('commit', '-m', 'two layers', 'maker', 'mine:v1');
ok('rm', 'maker');
const idOf = (ref: string) => JSON.parse(ok('inspect', ref))[0].Id as string;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const archive = `${base}/mine.tar`;

t.test("save writes an OCI layout with docker's manifest.json", async (t) => {
  ok('save', '-o', archive, 'mine:v1');
  const names = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n');
  t.ok(
    ['oci-layout', 'index.json', 'manifest.json'].every((n) => names.includes(n)),
    'oci-layout, index.json and manifest.json',
  );
  const blobs = names.filter((n) => n.startsWith('blobs/sha256/'));
  t.equal(blobs.length, 4, 'and four blobs: the manifest, the config and two layers');
  for (const b of blobs)
    t.equal(
      sha(execFileSync('tar', ['-xOf', archive, b], { maxBuffer: 64 << 20 })),
      path.basename(b),
      `${path.basename(b).slice(0, 12)} is stored under its own digest`,
    );
  const dm = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' }));
  t.same(dm[0].RepoTags, ['mine:v1'], 'manifest.json names the tag');
  t.equal(dm[0].Config, `blobs/sha256/${idOf('mine:v1').replace('sha256:', '')}`, 'and the config, whose digest is the image ID');
  const idx = JSON.parse(execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' }));
  t.equal(idx.manifests[0].annotations['io.containerd.image.name'], 'docker.io/library/mine:v1', 'index.json names it as containerd does');
  t.same(
    fs.readdirSync(base).filter((n) => n.includes('.tmp-')),
    [],
    'no temp file is left beside it',
  );
});

t.test('load brings it back, the same image, by file and by pipe', async (t) => {
  const id = idOf('mine:v1');
  ok('rmi', 'mine:v1');
  t.equal(ok('load', '-i', archive), 'Loaded image: mine:v1\n', 'load -i FILE');
  t.equal(idOf('mine:v1'), id, 'with the same image ID');
  t.equal(
    ok('run', '--rm', 'mine:v1', 'sh', '-c', 'cat /etc/saved; test -e /etc/os-release || echo deleted'),
    'saved\ndeleted\n',
    'and the same filesystem (whiteouts kept)',
  );
  const piped = spawnSync(process.execPath, [CLI, 'save', 'mine:v1'], { env, maxBuffer: 64 << 20 });
  t.equal(piped.status, 0, 'save to stdout');
  ok('rmi', 'mine:v1', 'base');
  const back = spawnSync(process.execPath, [CLI, 'load'], { env, input: piped.stdout, encoding: 'utf8' });
  t.equal(back.stdout, 'Loaded image: mine:v1\n', 'load from stdin, into a store without the base layer');
  t.equal(idOf('mine:v1'), id, 'the same image again');
  t.match(ok('system', 'check', '--no-repair'), /the store is consistent/, 'and the store is consistent');
});

t.test('a damaged archive is refused, and nothing of it is kept', async (t) => {
  const work = `${base}/damaged`;
  fs.mkdirSync(work);
  execFileSync('tar', ['-xf', archive, '-C', work]);
  const dm = JSON.parse(fs.readFileSync(`${work}/manifest.json`, 'utf8'));
  const layer = `${work}/${dm[0].Layers[1]}`;
  const bytes = fs.readFileSync(layer);
  const at = bytes.indexOf('saved\n');
  t.ok(at > 0 && at % 512 === 0, "the file's data is in the layer");
  bytes[at] ^= 0x20; // 'saved' becomes 'Saved': the tar stays a tar
  fs.writeFileSync(layer, bytes);
  const bad = `${base}/bad.tar`;
  execFileSync('tar', ['-cf', bad, '-C', work, '.']);
  ok('rmi', 'mine:v1');
  const before = { images: ok('images', '-a', '-q'), layers: fs.readdirSync(`${root}/layers`).sort() };
  const r = strata('load', '-i', bad);
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /^strata: blob [a-f0-9]{12} in the archive does not match its digest: the archive is damaged\n$/, r.stderr.trim());
  t.equal(ok('images', '-a', '-q'), before.images, 'no image was added');
  t.same(fs.readdirSync(`${root}/layers`).sort(), before.layers, 'no layer');
  t.same(fs.readdirSync(`${root}/tmp`), [], 'and no temp file is left');
  // The same damage under a matching blob name: the layer then differs from its image's diffID.
  const renamed = `blobs/sha256/${sha(bytes)}`;
  fs.renameSync(layer, `${work}/${renamed}`);
  dm[0].Layers[1] = renamed;
  fs.writeFileSync(`${work}/manifest.json`, JSON.stringify(dm));
  execFileSync('tar', ['-cf', bad, '-C', work, '.']);
  const r2 = strata('load', '-i', bad);
  t.equal(r2.status, 1, 'a layer that is not what its config says: exit 1');
  t.match(r2.stderr, /^strata: a layer's content is sha256:[a-f0-9]{12}, but its image says sha256:[a-f0-9]{12}: the archive is damaged\n$/, r2.stderr.trim());
  t.same(fs.readdirSync(`${root}/layers`).sort(), before.layers, 'no layer was kept');
  t.same(fs.readdirSync(`${root}/tmp`), [], 'nor a temp file');
  fs.writeFileSync(`${base}/not.tar`, 'hello, this is not a tar at all'.repeat(40));
  t.match(strata('load', '-i', `${base}/not.tar`).stderr, /^strata: this is not an image archive/, 'a file that is not a tar: one sentence');
});

t.test('an OCI layout with gzip layers (as registries serve them) loads to the same image', async (t) => {
  const work = `${base}/oci`;
  fs.mkdirSync(work);
  execFileSync('tar', ['-xf', archive, '-C', work]);
  fs.rmSync(`${work}/manifest.json`); // a plain OCI layout: only index.json says what is there
  const idx = JSON.parse(fs.readFileSync(`${work}/index.json`, 'utf8'));
  const mPath = `${work}/blobs/sha256/${idx.manifests[0].digest.replace('sha256:', '')}`;
  const m = JSON.parse(fs.readFileSync(mPath, 'utf8'));
  for (const l of m.layers) {
    const gz = zlib.gzipSync(fs.readFileSync(`${work}/blobs/sha256/${l.digest.replace('sha256:', '')}`));
    fs.writeFileSync(`${work}/blobs/sha256/${sha(gz)}`, gz);
    Object.assign(l, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(gz)}`, size: gz.length });
  }
  const mJson = Buffer.from(JSON.stringify(m));
  fs.writeFileSync(`${work}/blobs/sha256/${sha(mJson)}`, mJson);
  idx.manifests[0] = {
    ...idx.manifests[0],
    digest: `sha256:${sha(mJson)}`,
    size: mJson.length,
    annotations: { 'io.containerd.image.name': 'docker.io/library/gz:1' },
  };
  fs.writeFileSync(`${work}/index.json`, JSON.stringify(idx));
  const oci = `${base}/oci.tar`;
  execFileSync('tar', ['-cf', oci, '-C', work, '.']);
  const id = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' }))[0].Config.replace('blobs/sha256/', 'sha256:');
  t.equal(ok('load', '-i', oci), 'Loaded image: gz:1\n', 'load reads the index and gunzips the layers');
  t.equal(idOf('gz:1'), id, 'the image ID is the config digest, as saved');
  t.equal(ok('run', '--rm', 'gz:1', 'cat', '/etc/saved'), 'saved\n', 'and it runs');
});

t.test('a save that fails half way leaves no temp file', async (t) => {
  const own = storeCli(`${base}/savefail`);
  t.teardown(own.cleanup);
  own.ok('import', `${base}/busybox.tar`, '--tag', 'x:1');
  const layer = JSON.parse(own.ok('inspect', 'x:1'))[0].RootFS.Layers[0].replace('sha256:', '');
  fs.rmSync(`${base}/savefail/blobs/sha256/${layer}`);
  const out = `${base}/fail-out`;
  fs.mkdirSync(out);
  const r = own.strata('save', '-o', `${out}/x.tar`, 'x:1');
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /^strata: .*no such file or directory/i, `one sentence: ${r.stderr.trim()}`);
  t.same(fs.readdirSync(out), [], 'neither the archive nor its temp file is left');
});
