// One set of checks against every Image implementation: the store's images, an OCI layout (plain
// and with gzip layers), a docker 25+ archive and an older docker archive (<id>/layer.tar).
// Whatever implements Image must give a manifest that hashes to its digest, a config that the
// manifest names, and layers whose streams hash to their digest and diffID, with their sizes.
import t, { type Test } from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ROOT, tmpdir } from './helpers/mount.js';
import { Store } from '../src/store/store.js';
import { newConfig } from '../src/oci/image.js';
import { importImage } from '../src/image/import.js';
import type { Image } from '../src/image/image.js';
import { StoreImage } from '../src/image/store-image.js';
import { readLayout } from '../src/image/layout.js';
import { readDockerArchive } from '../src/image/docker-archive.js';
import { saveToFile } from '../src/image/archive.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-conformance-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
const s = Store.open(`${base}/root`);
t.teardown(() => s.close());

const sha = (b: Buffer) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');
async function drain(r: Readable): Promise<{ digest: string; size: number }> {
  const h = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of r) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: 'sha256:' + h.digest('hex'), size };
}

/** The checks every implementation must pass; `want`: the image ID and diffIDs it must have. */
async function conforms(t: Test, img: Image, want: { id: string; diffIds: string[]; tags?: string[] }) {
  const m = await img.manifest();
  t.equal(m.digest, sha(m.raw), 'the manifest digest is that of its bytes');
  t.same(m.parsed, JSON.parse(m.raw.toString()), 'and parsed is what the bytes say');
  const c = await img.config();
  t.equal(c.digest, sha(c.raw), 'the config digest is that of its bytes');
  t.equal(m.parsed.config.digest, c.digest, "the manifest names the config's digest");
  t.equal(m.parsed.config.size, c.raw.length, 'and its size');
  t.equal(c.digest, want.id, 'which is the image ID');
  const layers = await img.layers();
  t.same(
    layers.map((l) => l.diffId),
    c.parsed.rootfs.diff_ids,
    "the layers' diffIDs are the config's",
  );
  t.same(c.parsed.rootfs.diff_ids, want.diffIds, 'and the image has them');
  t.same(
    layers.map((l) => [l.digest, l.size, l.mediaType]),
    m.parsed.layers.map((d) => [d.digest, d.size, d.mediaType]),
    'each layer is its manifest descriptor',
  );
  for (const l of layers) {
    const z = await drain(l.compressed());
    t.same(z, { digest: l.digest, size: l.size }, `layer ${l.digest.slice(7, 19)}: compressed() hashes to its digest, its size long`);
    t.equal((await drain(l.uncompressed())).digest, l.diffId, 'and uncompressed() to its diffID');
  }
  if (want.tags) t.same(img.tags, want.tags, 'its tags');
}

// A two-layer image: busybox, and a small layer on top.
const bottom = await importImage(s, rootfs, { tag: 'base:1' });
fs.mkdirSync(`${base}/top/etc`, { recursive: true });
fs.writeFileSync(`${base}/top/etc/motd`, 'hello\n');
const config = newConfig();
const two = s.addLayerFromTree(`${base}/top`, {}, (layer) => {
  config.rootfs.diff_ids = [...bottom.layers, layer.diffId];
  config.history = [
    { created: config.created, created_by: 'import' },
    { created: config.created, created_by: 'motd' },
  ];
  return s.addImage(config, 'two:1');
});
const want = { id: two.id, diffIds: two.layers };
const archive = `${base}/two.tar`;
await saveToFile(s, ['two:1'], archive);
const unpacked = (name: string) => {
  const d = `${base}/${name}`;
  fs.mkdirSync(d);
  execFileSync('tar', ['-xf', archive, '-C', d]);
  return d;
};

t.test('the store', (t) => conforms(t, new StoreImage(s, two), { ...want, tags: ['two:1'] }));

t.test('an OCI layout', async (t) => {
  const imgs = readLayout(unpacked('layout'));
  t.equal(imgs.length, 1, 'one image in the index');
  await conforms(t, imgs[0], { ...want, tags: ['two:1'] });
});

t.test('an OCI layout with gzip layers', async (t) => {
  const d = unpacked('gzip');
  const idx = JSON.parse(fs.readFileSync(`${d}/index.json`, 'utf8'));
  const m = JSON.parse(fs.readFileSync(`${d}/blobs/sha256/${idx.manifests[0].digest.slice(7)}`, 'utf8'));
  for (const l of m.layers) {
    const gz = zlib.gzipSync(fs.readFileSync(`${d}/blobs/sha256/${l.digest.slice(7)}`));
    fs.writeFileSync(`${d}/blobs/sha256/${sha(gz).slice(7)}`, gz);
    Object.assign(l, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length });
  }
  const raw = Buffer.from(JSON.stringify(m));
  fs.writeFileSync(`${d}/blobs/sha256/${sha(raw).slice(7)}`, raw);
  idx.manifests[0] = { ...idx.manifests[0], digest: sha(raw), size: raw.length };
  fs.writeFileSync(`${d}/index.json`, JSON.stringify(idx));
  await conforms(t, readLayout(d)[0], want);
});

t.test('a docker archive (docker 25+)', (t) => conforms(t, readDockerArchive(unpacked('docker'))[0], { ...want, tags: ['two:1'] }));

t.test('an older docker archive (<id>/layer.tar, <id>.json)', async (t) => {
  const d = `${base}/old`;
  const src = new StoreImage(s, two);
  const c = await src.config();
  fs.mkdirSync(d);
  fs.writeFileSync(`${d}/${c.digest.slice(7)}.json`, c.raw);
  const layers: string[] = [];
  for (const [i, l] of (await src.layers()).entries()) {
    fs.mkdirSync(`${d}/l${i}`);
    fs.copyFileSync(s.blobPath(l.digest), `${d}/l${i}/layer.tar`);
    layers.push(`l${i}/layer.tar`);
  }
  fs.writeFileSync(`${d}/manifest.json`, JSON.stringify([{ Config: `${c.digest.slice(7)}.json`, RepoTags: ['docker.io/library/old:1'], Layers: layers }]));
  await conforms(t, readDockerArchive(d)[0], { ...want, tags: ['old:1'] });
});

t.test('a damaged layout is refused when read', async (t) => {
  const d = unpacked('bad');
  const idx = JSON.parse(fs.readFileSync(`${d}/index.json`, 'utf8'));
  fs.appendFileSync(`${d}/blobs/sha256/${idx.manifests[0].digest.slice(7)}`, ' ');
  await t.rejects(readLayout(d)[0].manifest(), { code: 'damaged' }, 'a manifest that does not match its digest');
  fs.rmSync(`${d}/blobs/sha256/${idx.manifests[0].digest.slice(7)}`);
  await t.rejects(readLayout(d)[0].manifest(), { code: 'damaged', message: /the archive has no blobs\/sha256\// }, 'a missing one');
});
