// Faults between strata and a real registry: 500s and 429s (retried), a corrupted blob (refused),
// a dropped download (resumed with Range), the registry killed mid-pull and restarted, and strata
// itself SIGKILLed mid-pull and mid-push (the next command cleans up; system check stays clean).
import t from 'tap';

import type { Test } from 'tap';
type Tap = Test;
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { storeCli } from './helpers/store.js';
import { CLI, ROOT, tmpdir } from './helpers/mount.js';
import { startFaultProxy, startRegistry } from './helpers/registry.js';

const base = tmpdir(t, 'strata-regfault-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
// A layer of random bytes (gzip cannot shrink it), big enough to be caught mid-transfer.
const bigDir = `${base}/big`;
fs.mkdirSync(bigDir);
fs.writeFileSync(`${bigDir}/random.bin`, crypto.randomBytes(12 << 20));

/** A registry holding `big:1` (busybox + the random layer) pushed by a first store; returns its layer digests. */
async function seeded(tt: Tap) {
  const reg = await startRegistry(tt);
  const s = storeCli(`${base}/seed-${crypto.randomBytes(3).toString('hex')}`);
  tt.teardown(s.cleanup);
  s.ok('import', rootfs, '--tag', `${reg.host}/f/small:1`);
  s.ok('create', '--name', 'big', `${reg.host}/f/small:1`, 'true');
  fs.copyFileSync(`${bigDir}/random.bin`, `${s.upperOf('big')}/random.bin`);
  s.ok('commit', 'big', `${reg.host}/f/big:1`); // busybox below, the random file above
  s.ok('push', `${reg.host}/f/big:1`);
  s.ok('push', `${reg.host}/f/small:1`);
  const manifest = JSON.parse(
    execFileSync('curl', ['-s', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', `http://${reg.host}/v2/f/big/manifests/1`], { encoding: 'utf8' }),
  );
  return { reg, layer: manifest.layers[1].digest as string, size: manifest.layers[1].size as number };
}

// One seeded registry for the whole file (seeding pushes 12 MiB): the proxy tests leave it as it
// was, and the test that kills it restarts it with its data.
let seed: ReturnType<typeof seeded> | null = null;
const shared = () => (seed ??= seeded(t));

/** An empty store, and a check that it holds no image, no stray layer, no temp file and passes system check. */
function emptyStore(tt: Tap, name: string) {
  const s = storeCli(`${base}/${name}`);
  tt.teardown(s.cleanup);
  const clean = (what: string) => {
    const check = s.strata('system', 'check', '--no-repair');
    tt.equal(check.status, 0, `${what}: system check is clean ${check.stdout}${check.stderr}`);
    tt.same(fs.readdirSync(`${s.env.STRATA_ROOT}/layers`), [], `${what}: no layer is left`);
    tt.same(fs.readdirSync(`${s.env.STRATA_ROOT}/tmp`), [], `${what}: no temp file is left`);
    tt.equal(s.ok('images', '-q'), '', `${what}: no image`);
  };
  return { ...s, clean };
}

t.test('500s and a 429 with Retry-After are retried; the pull then succeeds', async (t) => {
  const { reg } = await shared();
  const proxy = await startFaultProxy(t, reg.host);
  const s = emptyStore(t, 'retry');
  proxy.failNext(2, 500);
  const r1 = s.strata('pull', `${proxy.host}/f/small:1`);
  t.equal(r1.status, 0, r1.stderr);
  t.equal((r1.stderr.match(/HTTP 500: retrying/g) ?? []).length, 2, 'two retries, each said on stderr');
  s.ok('rmi', `${proxy.host}/f/small:1`);
  proxy.throttleNext(1, 1);
  const start = Date.now();
  const r2 = s.strata('pull', `${proxy.host}/f/small:1`);
  t.equal(r2.status, 0, r2.stderr);
  t.match(r2.stderr, /HTTP 429: retrying in 1\.0 s/, 'Retry-After is honoured');
  t.ok(Date.now() - start >= 1000, 'and waited for');
  const faults = proxy.requests().filter((r) => r.fault);
  t.equal(faults.length, 3, 'the proxy injected all three');
});

t.test('a blob corrupted on the way is refused, and nothing is kept', async (t) => {
  const { reg, layer } = await shared();
  const proxy = await startFaultProxy(t, reg.host);
  proxy.corruptBlob(layer);
  const s = emptyStore(t, 'corrupt');
  const r = s.strata('pull', `${proxy.host}/f/big:1`);
  t.equal(r.status, 1);
  t.match(
    r.stderr,
    /^strata: blob sha256:[a-f0-9]{12}… from 127\.0\.0\.1:\d+ does not match its digest \(its bytes hash to sha256:[a-f0-9]{12}…\)\n$/,
    'one sentence',
  );
  s.clean('after the refused pull');
});

t.test('a download dropped midway resumes with a Range request', async (t) => {
  const { reg, layer, size } = await shared();
  const proxy = await startFaultProxy(t, reg.host);
  proxy.dropBlobAfter(layer, 5 << 20);
  const s = emptyStore(t, 'resume');
  const r = s.strata('pull', `${proxy.host}/f/big:1`);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`${layer.slice(7, 19)}: Resuming download at byte \\d+`), 'said so');
  const gets = proxy.requests().filter((q) => q.method === 'GET' && q.path.endsWith(layer));
  t.equal(gets.length, 2, 'the blob was asked for twice: the second time from where the first broke off');
  const layers = JSON.parse(s.ok('inspect', `${proxy.host}/f/big:1`))[0].RootFS.Layers as string[];
  t.equal(fs.statSync(`${s.env.STRATA_ROOT}/layers/${layers[1].slice(7)}/random.bin`).size, 12 << 20, 'the whole file arrived');
  t.ok(size > 12 << 20, 'through the resumed blob (the gzip of the random file)');
});

t.test('the registry killed mid-pull and restarted: the pull retries and finishes, or fails cleanly', async (t) => {
  const { reg } = await shared();
  const s = emptyStore(t, 'killreg');
  const p = spawn(process.execPath, [CLI, 'pull', `${reg.host}/f/big:1`], { env: s.env });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  const closed = new Promise<number | null>((r) => p.on('close', r));
  const guard = setTimeout(() => p.kill('SIGKILL'), 90_000); // a hung pull fails the test, it does not hang it
  t.teardown(() => clearTimeout(guard));
  await new Promise((r) => setTimeout(r, 300));
  await reg.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 700));
  await reg.restart();
  const code = await closed;
  if (code === 0) {
    t.pass('the pull finished after the restart');
    t.equal(
      fs.statSync(`${s.env.STRATA_ROOT}/layers/${JSON.parse(s.ok('inspect', `${reg.host}/f/big:1`))[0].RootFS.Layers[1].slice(7)}/random.bin`).size,
      12 << 20,
      'whole',
    );
    t.equal(s.strata('system', 'check', '--no-repair').status, 0, 'system check is clean');
  } else {
    t.match(err, /^strata: .+\n$/, `failed in one sentence: ${err}`);
    s.clean('after the failed pull');
  }
});

t.test('strata SIGKILLed mid-pull and mid-push: the next command cleans up', async (t) => {
  const { reg } = await shared();
  const s = emptyStore(t, 'killpull');
  const p = spawn(process.execPath, [CLI, 'pull', `${reg.host}/f/big:1`], { env: s.env, stdio: 'ignore' });
  // Kill it once the base layer is stored and the big one is on its way: the base is then a layer
  // no image uses, which the next command must drop (the pull noted it before adding it).
  const busy = (root: string, prefix: string) => fs.existsSync(`${root}/tmp`) && fs.readdirSync(`${root}/tmp`).some((n) => n.startsWith(prefix));
  const stored = (root: string) => fs.existsSync(`${root}/layers`) && fs.readdirSync(`${root}/layers`).length > 0;
  for (let i = 0; i < 400 && !(busy(s.env.STRATA_ROOT!, 'layer-') && stored(s.env.STRATA_ROOT!)); i++) await new Promise((r) => setTimeout(r, 25));
  const pClosed = new Promise((r) => p.on('close', r));
  p.kill('SIGKILL');
  await pClosed;
  t.ok(fs.readdirSync(`${s.env.STRATA_ROOT}/tmp`).length > 0, 'killed with work in progress');
  t.equal(fs.readdirSync(`${s.env.STRATA_ROOT}/layers`).length, 1, 'and the base layer stored, for no image');
  s.clean('the next commands after the killed pull');

  const pusher = storeCli(`${base}/killpush`);
  t.teardown(pusher.cleanup);
  pusher.ok('import', bigDir, '--tag', `${reg.host}/f/pushed:1`);
  const q = spawn(process.execPath, [CLI, 'push', `${reg.host}/f/pushed:1`], { env: pusher.env, stdio: ['ignore', 'pipe', 'ignore'] });
  let said = '';
  q.stdout.on('data', (d) => (said += d));
  // Kill it while the layer is being gzipped and sent.
  for (let i = 0; i < 400 && !said.includes('Preparing'); i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 200));
  const qClosed = new Promise((r) => q.on('close', r));
  q.kill('SIGKILL');
  await qClosed;
  t.notMatch(said, /digest:/, 'killed before the push finished');
  const check = pusher.strata('system', 'check', '--no-repair');
  t.equal(check.status, 0, `system check is clean after the killed push ${check.stdout}${check.stderr}`);
  t.same(fs.readdirSync(`${pusher.env.STRATA_ROOT}/tmp`), [], 'its temp file is gone');
  t.match(pusher.ok('push', `${reg.host}/f/pushed:1`), /digest: sha256:/, 'and the push works again');
});
