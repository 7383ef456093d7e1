// pull and push against a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1,
// with skopeo and umoci as the other side: round trips between two stores, interop both ways,
// zstd, multi-arch indexes, dedup counted at the registry, references, search.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { storeCli } from './helpers/store.js';
import { mountKernel, ROOT, tmpdir } from './helpers/mount.js';
import { snapshot } from './helpers/tree.js';
import { makeLayout, pushImage, startRegistry } from './helpers/registry.js';
import { parseImageRef, parseRef, familiarName } from '../src/store/reference.js';
import { Registry } from '../src/registry/client.js';

const base = tmpdir(t, 'strata-registry-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
const busybox = fs.readFileSync('/bin/busybox');

// One registry for the file (each test uses repositories of its own).
let shared: ReturnType<typeof startRegistry> | null = null;
const registry = () => (shared ??= startRegistry(t));

/** A store (CLI) with busybox and a two-layer image on it: a file added, one replaced, one deleted (a whiteout). */
function storeWithApp(name: string) {
  const s = storeCli(`${base}/${name}`);
  t.teardown(s.cleanup);
  s.ok('import', rootfs, '--tag', 'busybox', '-c', 'CMD ["/bin/sh"]');
  s.ok('create', '--name', 'app', 'busybox', 'true');
  const up = s.upperOf('app');
  fs.mkdirSync(`${up}/srv`);
  fs.writeFileSync(`${up}/srv/index.html`, '<h1>hi</h1>\n');
  fs.chownSync(`${up}/srv/index.html`, 1000, 1000);
  fs.mkdirSync(`${up}/etc`);
  fs.writeFileSync(`${up}/etc/hostname`, 'app\n');
  fs.writeFileSync(`${up}/big.bin`, Buffer.alloc(1 << 20, 7));
  execFileSync('mknod', [`${up}/etc/os-release`, 'c', '0', '0']); // deleted in this layer
  s.ok('commit', 'app', 'app:1');
  return s;
}

/** The merged tree of an image, as kernel overlayfs shows its layer dirs (whiteouts applied). */
function mergedTree(tt: Parameters<typeof tmpdir>[0], s: ReturnType<typeof storeCli>, ref: string) {
  const info = JSON.parse(s.ok('inspect', ref))[0];
  const root = s.env.STRATA_ROOT!;
  const lowers = [...info.RootFS.Layers].reverse().map((d: string) => `${root}/layers/${d.replace('sha256:', '')}`);
  const d = tmpdir(tt, 'strata-merged-');
  fs.mkdirSync(`${d}/empty`);
  fs.mkdirSync(`${d}/mnt`);
  mountKernel(tt, { lowers: [...lowers, `${d}/empty`], mnt: `${d}/mnt` });
  const snap = snapshot(`${d}/mnt`, { looseDirs: true });
  for (const e of Object.values(snap)) delete e.mtime;
  return snap;
}

t.test('references: docker normalisation, and a registry host in a tag', async (t) => {
  t.same(parseImageRef('busybox'), { domain: 'docker.io', path: 'library/busybox' });
  t.same(parseImageRef('docker.io/library/busybox:1.36'), { domain: 'docker.io', path: 'library/busybox', tag: '1.36' });
  t.equal(parseRef('docker.io/library/busybox'), 'busybox:latest', 'stored and shown in the familiar form');
  t.equal(familiarName(parseImageRef('127.0.0.1:5000/x/y:1')), '127.0.0.1:5000/x/y');
  t.same(parseImageRef(`localhost:5000/a@sha256:${'b'.repeat(64)}`), { domain: 'localhost:5000', path: 'a', digest: `sha256:${'b'.repeat(64)}` });
  t.throws(() => parseImageRef('x/Y'), /not a valid image name/);
  t.throws(() => parseImageRef('x@sha256:12'), /invalid digest/);
  const s = storeCli(`${base}/refs`);
  s.ok('import', rootfs, '--tag', 'busybox');
  s.ok('tag', 'busybox', '127.0.0.1:5000/x/y:1');
  t.match(s.ok('images'), /127\.0\.0\.1:5000\/x\/y\s+1\s/, 'images shows the name as it was given');
});

t.test('push, then pull into a second store: the same image ID and the same merged tree', async (t) => {
  const reg = await registry();
  const a = storeWithApp('rt-a');
  const remote = `${reg.host}/demo/app:1`;
  a.ok('tag', 'app:1', remote);
  const out = a.ok('push', remote);
  t.match(out, new RegExp(`^The push refers to repository \\[${reg.host}/demo/app\\]`), 'docker’s first line');
  t.match(out, /: Pushed\n/);
  t.match(out, /^1: digest: sha256:[a-f0-9]{64} size: \d+$/m, 'and its last');
  const b = storeCli(`${base}/rt-b`);
  t.teardown(b.cleanup);
  const pulled = b.ok('pull', remote);
  t.match(pulled, /^1: Pulling from demo\/app$/m);
  t.match(pulled, /: Pull complete$/m);
  t.match(pulled, /^Digest: sha256:[a-f0-9]{64}$/m);
  t.match(pulled, new RegExp(`^Status: Downloaded newer image for ${reg.host}/demo/app:1\\n${reg.host}/demo/app:1\\n$`, 'm'));
  const idA = JSON.parse(a.ok('inspect', remote))[0].Id;
  t.equal(JSON.parse(b.ok('inspect', remote))[0].Id, idA, 'the same image ID');
  t.same(mergedTree(t, b, remote), mergedTree(t, a, remote), 'the same merged tree: names, modes, owners, sizes, contents, the whiteout applied');
  const again = b.ok('pull', remote);
  t.match(again, /Already exists/, 'pulled again: every layer is there');
  t.match(again, new RegExp(`Status: Image is up to date for ${reg.host}/demo/app:1`));
  t.equal(b.strata('system', 'check', '--no-repair').status, 0, 'system check is clean');
  const q = b.ok('pull', '-q', remote);
  t.equal(q, `${reg.host}/demo/app:1\n`, '-q prints the reference only');
  const digest = /^Digest: (sha256:\S+)$/m.exec(pulled)![1];
  const c = storeCli(`${base}/rt-c`);
  t.teardown(c.cleanup);
  t.match(c.ok('pull', `${reg.host}/demo/app@${digest}`), /Status: Downloaded newer image/, 'a pull by digest');
  t.equal(JSON.parse(c.ok('inspect', `${reg.host}/demo/app@${digest}`))[0].Id, idA, 'the same image again');
});

t.test('interop: strata push -> skopeo copy to an OCI layout -> umoci unpack gives strata’s merged view', async (t) => {
  const reg = await registry();
  const a = storeWithApp('interop-a');
  const remote = `${reg.host}/interop/app:1`;
  a.ok('tag', 'app:1', remote);
  a.ok('push', remote);
  const d = tmpdir(t, 'strata-umoci-');
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${remote}`, `oci:${d}/layout:1`], { stdio: 'pipe' });
  execFileSync('umoci', ['unpack', '--image', `${d}/layout:1`, `${d}/bundle`], { stdio: 'pipe' });
  const unpacked = snapshot(`${d}/bundle/rootfs`, { looseDirs: true });
  for (const e of Object.values(unpacked)) delete e.mtime;
  const ours = mergedTree(t, a, remote);
  delete ours['/']; // the bundle's rootfs dir is umoci's own
  delete unpacked['/'];
  t.same(unpacked, ours, 'exactly the same tree');
});

t.test('interop: skopeo pushes gzip, zstd and multi-arch images; strata pulls and runs them', async (t) => {
  const reg = await registry();
  const s = storeCli(`${base}/interop-b`);
  t.teardown(s.cleanup);
  const files = (platform: string) => [{ 'bin/busybox': { data: busybox, mode: 0o755 }, 'etc/arch': `${platform}\n` }, { 'etc/second': 'second layer\n' }];
  const gz = makeLayout(t, files('amd64'), { tag: 'gz', cmd: ['/bin/busybox', 'cat', '/etc/arch'] });
  pushImage(gz, reg, 'peer/gz:1');
  t.match(s.ok('pull', `${reg.host}/peer/gz:1`), /Pull complete/);
  t.equal(s.ok('run', '--rm', `${reg.host}/peer/gz:1`), 'amd64\n', 'and runs it (its CMD)');
  const zst = makeLayout(t, files('amd64'), { tag: 'z', zstd: true });
  t.match(zst.manifests[0].layers[0].mediaType, /zstd/, 'the layout really holds zstd layers');
  pushImage(zst, reg, 'peer/zstd:1');
  s.ok('pull', `${reg.host}/peer/zstd:1`);
  t.equal(s.ok('run', '--rm', `${reg.host}/peer/zstd:1`, '/bin/busybox', 'cat', '/etc/second'), 'second layer\n', 'a zstd image pulled and run');
  const multi = makeLayout(t, files, { tag: 'm', arches: ['amd64', 'arm64'] });
  pushImage(multi, reg, 'peer/multi:1');
  s.ok('pull', `${reg.host}/peer/multi:1`);
  t.equal(s.ok('run', '--rm', `${reg.host}/peer/multi:1`, '/bin/busybox', 'cat', '/etc/arch'), 'amd64\n', 'the host’s platform from the index');
  s.ok('pull', '--platform', 'linux/arm64', `${reg.host}/peer/multi:1`);
  t.equal(s.ok('run', '--rm', `${reg.host}/peer/multi:1`, '/bin/busybox', 'cat', '/etc/arch'), 'arm64\n', '--platform chooses another');
  const none = s.strata('pull', '--platform', 'linux/s390x', `${reg.host}/peer/multi:1`);
  t.equal(none.status, 1);
  t.equal(none.stderr, 'strata: no image for linux/s390x in the index (it has linux/amd64, linux/arm64); choose one with --platform\n', 'one sentence');
});

t.test('dedup: a second image on the same base pushes and pulls only its new layer (counted at the registry)', async (t) => {
  const reg = await registry();
  const a = storeWithApp('dedup-a');
  a.ok('tag', 'busybox', `${reg.host}/d/base:1`);
  a.ok('push', `${reg.host}/d/base:1`);
  a.ok('tag', 'app:1', `${reg.host}/d/app:1`);
  await reg.settle();
  reg.resetRequests();
  const out = a.ok('push', `${reg.host}/d/app:1`);
  await reg.settle();
  t.equal((out.match(/: Mounted from d\/base$/gm) ?? []).length, 1, 'the base layer is mounted from the other repository');
  t.equal((out.match(/: Pushed$/gm) ?? []).length, 1, 'only the new layer is pushed');
  const uploads = reg.requests().filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/'));
  t.equal(uploads.length, 2, 'the registry received two blobs: the new layer and the config');
  const b = storeCli(`${base}/dedup-b`);
  t.teardown(b.cleanup);
  b.ok('pull', `${reg.host}/d/base:1`);
  await reg.settle();
  reg.resetRequests();
  const pulled = b.ok('pull', `${reg.host}/d/app:1`);
  await reg.settle();
  t.equal((pulled.match(/: Already exists$/gm) ?? []).length, 1, 'pulled: the base is already there');
  const blobGets = reg.requests().filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path));
  t.equal(blobGets.length, 2, 'two blob downloads: the new layer and the config');
  const again = a.ok('push', `${reg.host}/d/app:1`);
  t.equal((again.match(/Layer already exists/g) ?? []).length, 2, 'pushed again, nothing is sent');
});

t.test('pull -a, search and tag listing', async (t) => {
  const reg = await registry();
  const a = storeCli(`${base}/search`);
  t.teardown(a.cleanup);
  a.ok('import', rootfs, '--tag', 'busybox');
  for (const r of ['lib/alpha:1', 'lib/alpha:2', 'lib/beta:1']) {
    a.ok('tag', 'busybox', `${reg.host}/${r}`);
    a.ok('push', `${reg.host}/${r}`);
  }
  const out = a.ok('search', `${reg.host}/lib`);
  t.same(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]),
    ['NAME', `${reg.host}/lib/alpha`, `${reg.host}/lib/beta`],
    "docker's columns, the matching repositories",
  );
  t.same(JSON.parse(a.ok('search', '--format', 'json', '--limit', '1', `${reg.host}/a`)).length, 1, '--limit');
  t.equal(a.ok('search', '--list-tags', `${reg.host}/lib/alpha`), '1\n2\n', '--list-tags');
  const reg2 = new Registry({ host: reg.host, plainHttp: true, credential: null });
  const paged = await reg2.catalog(Infinity, 1);
  t.same(paged, await reg2.catalog(), 'the catalog followed page by page (n=1, Link headers) is the whole catalog');
  t.ok(['lib/alpha', 'lib/beta'].every((r) => paged.includes(r)) && paged.length > 2, 'every repository, one page each');
  reg2.close();
  const b = storeCli(`${base}/search-b`);
  t.teardown(b.cleanup);
  const all = b.ok('pull', '-a', `${reg.host}/lib/alpha`);
  t.match(all, /^1: Pulling from lib\/alpha$/m);
  t.match(all, /^2: Pulling from lib\/alpha$/m);
  t.match(b.ok('images'), /lib\/alpha\s+1[\s\S]*lib\/alpha\s+2|lib\/alpha\s+2[\s\S]*lib\/alpha\s+1/, 'every tag pulled');
  const missing = b.strata('pull', `${reg.host}/lib/alpha:nope`);
  t.equal(
    missing.stderr,
    `strata: ${reg.host} answered 404 for manifest lib/alpha:nope (MANIFEST_UNKNOWN: manifest unknown)\n`,
    "the registry's error, in one sentence",
  );
});
