// The registry harness itself: a real docker-registry, its auth modes, the fault proxy and the images made
// with umoci/skopeo must behave as the registry-client tests assume, or those tests prove nothing.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { makeLayout, pushImage, request, skopeoInspect, startFaultProxy, startRegistry, type Reg } from './helpers/registry.js';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const sha256 = (b: Buffer) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

interface TarEntry {
  name: string;
  mode: number;
  type: string;
  link: string;
}

/** The entries of an uncompressed tar, checking that it is well-formed (ends in two zero blocks). */
function tarEntries(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  while (off + 512 <= tar.length && tar[off] !== 0) {
    const h = tar.subarray(off, off + 512);
    const str = (a: number, n: number) =>
      h
        .subarray(a, a + n)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const num = (a: number, n: number) => parseInt(str(a, n).trim() || '0', 8);
    const prefix = str(345, 155);
    entries.push({ name: (prefix ? prefix + '/' : '') + str(0, 100), mode: num(100, 8) & 0o7777, type: str(156, 1) || '0', link: str(157, 100) });
    off += 512 + Math.ceil(num(124, 12) / 512) * 512;
  }
  if (tar.length < off + 1024 || tar.subarray(off, off + 1024).some((b) => b !== 0)) throw new Error('tar has no end-of-archive blocks');
  return entries;
}
const tarNames = (tar: Buffer) => tarEntries(tar).map((e) => e.name);

/** A GET that reports how far a body got when the connection breaks. */
function getPartial(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    const done = (error?: string) => resolve({ status, body: Buffer.concat(chunks), error });
    const req = http.get(url, { agent: false, headers }, (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.complete ? done() : done('incomplete')));
      res.on('error', (e) => done(e.message));
      res.on('aborted', () => done('aborted'));
    });
    req.on('error', (e) => done(e.message));
  });
}

const pids: number[] = [];
const track = (r: Reg) => {
  if (r.pid) pids.push(r.pid);
  return r;
};

t.test('a plain registry: skopeo push and inspect, the blobs, requests(), stop and restart', async (t) => {
  const reg = track(await startRegistry(t));
  t.match(reg.host, /^127\.0\.0\.1:\d+$/);
  t.equal(reg.url, `http://${reg.host}`);
  const img = makeLayout(t, [
    { '/etc/hello.txt': 'hello\n', '/etc/gone': 'x', '/srv/': '', '/bin/tool': { data: '#!/bin/sh\n', mode: 0o755 }, '/bin/link': { symlink: 'tool' } },
    { '/etc/gone': null },
  ]);
  t.equal(img.manifests.length, 1);
  t.equal(img.manifests[0].layers.length, 2, 'one layer per record');
  t.equal(pushImage(img, reg, 'test/hello:v1'), img.digest, 'pushed under the layout digest');

  const info = skopeoInspect(reg, 'test/hello:v1');
  t.equal(info.Digest, img.digest);
  t.same(
    info.Layers,
    img.manifests[0].layers.map((l) => l.digest),
  );
  t.equal(info.Architecture, 'amd64');

  const m = await request(`${reg.url}/v2/test/hello/manifests/v1`, { headers: { accept: ACCEPT } });
  t.equal(m.status, 200);
  t.equal(m.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');
  t.equal(sha256(m.body), img.digest, 'the manifest is the layout one, byte for byte');
  const [l1, l2] = img.manifests[0].layers;
  const b1 = await request(`${reg.url}/v2/test/hello/blobs/${l1.digest}`);
  t.equal(sha256(b1.body), l1.digest);
  const entries = tarEntries(zlib.gunzipSync(b1.body));
  t.same(entries.map((e) => e.name).sort(), ['.', 'bin/', 'bin/link', 'bin/tool', 'etc/', 'etc/gone', 'etc/hello.txt', 'srv/'], 'a well-formed repack layer');
  t.match(
    entries.find((e) => e.name === 'bin/tool'),
    { type: '0', mode: 0o755 },
  );
  t.match(
    entries.find((e) => e.name === 'etc/hello.txt'),
    { type: '0', mode: 0o644 },
  );
  t.match(
    entries.find((e) => e.name === 'bin/link'),
    { type: '2', link: 'tool' },
  );
  const b2 = await request(`${reg.url}/v2/test/hello/blobs/${l2.digest}`);
  t.ok(tarNames(zlib.gunzipSync(b2.body)).includes('etc/.wh.gone'), 'a null entry becomes a whiteout');

  await reg.settle();
  const seen = reg.requests();
  t.ok(
    seen.some((r) => r.method === 'PUT' && r.path === '/v2/test/hello/manifests/v1' && r.status === 201),
    'the push is in the access log',
  );
  t.ok(seen.some((r) => r.method === 'PUT' && r.path.startsWith('/v2/test/hello/blobs/uploads/') && r.query.includes('digest=')));
  t.same(
    seen.filter((r) => r.path.includes('/blobs/sha256:') && r.method === 'GET').map((r) => [r.path, r.status]),
    [
      [`/v2/test/hello/blobs/${img.manifests[0].config.digest}`, 200], // skopeo inspect reads the config
      [`/v2/test/hello/blobs/${l1.digest}`, 200],
      [`/v2/test/hello/blobs/${l2.digest}`, 200],
    ],
  );
  reg.resetRequests();
  t.same(reg.requests(), []);
  t.equal((await request(`${reg.url}/v2/no/such/manifests/x`, { headers: { accept: ACCEPT } })).status, 404);
  t.equal((await request(`${reg.url}/v2/_catalog?n=5`)).text().trim(), '{"repositories":["test/hello"]}');
  await reg.settle();
  t.same(reg.requests(), [
    { method: 'GET', path: '/v2/no/such/manifests/x', query: '', status: 404 },
    { method: 'GET', path: '/v2/_catalog', query: '?n=5', status: 200 },
  ]);

  const pid = reg.pid!;
  await reg.stop();
  t.equal(reg.pid, undefined);
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the registry process is gone');
  await t.rejects(request(`${reg.url}/v2/`), { code: 'ECONNREFUSED' });
  await reg.restart();
  track(reg);
  const again = await request(`${reg.url}/v2/test/hello/manifests/v1`, { headers: { accept: ACCEPT } });
  t.equal(again.status, 200, 'same port, same data after restart');
  t.equal(sha256(again.body), img.digest);
});

t.test('htpasswd: 401 with a Basic challenge without or with wrong credentials, 200 with them', async (t) => {
  const reg = track(await startRegistry(t, { htpasswd: { alice: 's3cret', bob: 'hunter2' } }));
  const none = await request(`${reg.url}/v2/`);
  t.equal(none.status, 401);
  t.equal(none.headers['www-authenticate'], 'Basic realm="strata-test"');
  t.match(none.json(), { errors: [{ code: 'UNAUTHORIZED' }] });
  t.equal((await request(`${reg.url}/v2/`, { basic: ['alice', 'wrong'] })).status, 401);
  t.equal((await request(`${reg.url}/v2/`, { basic: ['alice', 's3cret'] })).status, 200);
  t.equal((await request(`${reg.url}/v2/_catalog`, { basic: ['bob', 'hunter2'] })).status, 200);

  const img = makeLayout(t, { '/a': 'a' });
  t.throws(() => pushImage(img, reg, 'p/a:1'), /unauthorized|authentication required/i, 'skopeo without credentials is refused');
  t.equal(pushImage(img, reg, 'p/a:1', { creds: 'alice:s3cret' }), img.digest);
  t.equal(skopeoInspect(reg, 'p/a:1', { creds: 'bob:hunter2' }).Digest, img.digest);
  await reg.settle();
  t.same(
    reg
      .requests()
      .slice(0, 4)
      .map((r) => r.status),
    [401, 401, 200, 200],
    'refused requests are in the access log too',
  );
});

t.test('token auth: a Bearer challenge, tokens from the token server, scopes enforced', async (t) => {
  const reg = track(await startRegistry(t, { token: true, tokenUsers: { alice: 's3cret' }, anonymousPull: true }));
  t.match(reg.tokenUrl, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
  const ch = await request(`${reg.url}/v2/`);
  t.equal(ch.status, 401);
  t.equal(ch.headers['www-authenticate'], `Bearer realm="${reg.tokenUrl}",service="strata-test-registry"`);
  const pullCh = await request(`${reg.url}/v2/tok/img/manifests/v1`, { headers: { accept: ACCEPT } });
  t.match(pullCh.headers['www-authenticate'], /,scope="repository:tok\/img:pull"$/);

  const token = async (scope: string[], basic?: [string, string]) => {
    const u = new URL(reg.tokenUrl!);
    u.searchParams.set('service', 'strata-test-registry');
    for (const s of scope) u.searchParams.append('scope', s);
    return request(u.href, { basic });
  };
  t.equal((await token([], ['alice', 'nope'])).status, 401, 'wrong password');
  t.equal((await token([], ['mallory', 's3cret'])).status, 401, 'unknown user');
  t.equal(reg.tokensIssued, 0);
  const blocked = spawnSync('curl', ['-s', '-u', 'alice:s3cret', `${reg.tokenUrl}?service=strata-test-registry`], { encoding: 'utf8' });
  t.match(JSON.parse(blocked.stdout), { token: /^ey/ }, 'the token server answers while this process is blocked in spawnSync');
  t.equal(reg.tokensIssued, 1, 'and counts it at once');

  const r = await token(['repository:tok/img:pull,push', 'registry:catalog:*'], ['alice', 's3cret']);
  t.equal(r.status, 200);
  const body = r.json() as { token: string; access_token: string; expires_in: number; issued_at: string };
  t.equal(body.token, body.access_token);
  t.equal(body.expires_in, 300);
  t.ok(Date.parse(body.issued_at) <= Date.now());
  const [h, c] = body.token
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>);
  t.match(h, { typ: 'JWT', alg: 'RS256', kid: /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/ });
  t.match(c, {
    iss: 'strata-test-issuer',
    aud: 'strata-test-registry',
    sub: 'alice',
    access: [
      { type: 'repository', name: 'tok/img', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ],
  });
  t.equal((await request(`${reg.url}/v2/`, { bearer: body.token })).status, 200, 'the registry takes the token');
  t.equal((await request(`${reg.url}/v2/_catalog`, { bearer: body.token })).status, 200);
  t.equal((await request(`${reg.url}/v2/tok/img/blobs/uploads/`, { method: 'POST', bearer: body.token })).status, 202);
  const bad = await request(`${reg.url}/v2/`, { bearer: body.token.slice(0, -4) + 'AAAA' });
  t.equal(bad.status, 401);
  t.match(bad.headers['www-authenticate'], /error="invalid_token"/);
  t.equal(reg.tokensIssued, 2);

  // Anonymous: pull only, whatever is asked for.
  const anon = await token(['repository:tok/img:pull,push']);
  t.equal(anon.status, 200);
  const anonTok = (anon.json() as { token: string }).token;
  const push = await request(`${reg.url}/v2/tok/img/blobs/uploads/`, { method: 'POST', bearer: anonTok });
  t.equal(push.status, 401);
  t.match(push.headers['www-authenticate'], /error="insufficient_scope"/);
  t.equal((await request(`${reg.url}/v2/_catalog`, { bearer: anonTok })).status, 401, 'no catalog for anonymous');

  const img = makeLayout(t, { '/t': 'token' });
  t.equal(pushImage(img, reg, 'tok/img:v1', { creds: 'alice:s3cret' }), img.digest, 'skopeo pushes through the token server');
  const before = reg.tokensIssued;
  t.equal(skopeoInspect(reg, 'tok/img:v1').Digest, img.digest, 'and pulls anonymously');
  t.ok(reg.tokensIssued > before);
  const last = reg.tokenRequests().at(-1)!;
  t.match(last, { user: undefined, service: 'strata-test-registry', status: 200, access: [{ type: 'repository', name: 'tok/img', actions: ['pull'] }] });
  t.same(
    reg
      .tokenRequests()
      .filter((q) => q.status === 401)
      .map((q) => q.user),
    ['alice', 'mallory'],
  );
});

t.test('TLS: trusted with the CA, refused without it', async (t) => {
  const reg = track(await startRegistry(t, { tls: true }));
  t.equal(reg.url, `https://${reg.host}`);
  const ca = fs.readFileSync(reg.caFile!);
  t.equal((await request(`${reg.url}/v2/`, { ca })).status, 200);
  t.equal((await request(`https://localhost:${reg.host.split(':')[1]}/v2/`, { ca })).status, 200, 'the certificate names localhost too');
  await t.rejects(request(`${reg.url}/v2/`), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  const plain = await request(`http://${reg.host}/v2/`);
  t.equal(plain.status, 400, 'plain http to the TLS port');
  const img = makeLayout(t, { '/s': 'secure' });
  t.equal(pushImage(img, reg, 'sec/img:1'), img.digest, 'skopeo verifies against the CA');
  t.equal(skopeoInspect(reg, 'sec/img:1').Digest, img.digest);
});

t.test('the fault proxy: pass-through with Locations rewritten, 500, 429, corrupt and dropped blobs', async (t) => {
  const reg = track(await startRegistry(t));
  const proxy = await startFaultProxy(t, reg.host);
  t.not(proxy.host, reg.host);
  // Incompressible, so the layer is large enough to come in several chunks.
  const img = makeLayout(t, { '/big': crypto.randomBytes(300_000) });
  t.equal(pushImage(img, proxy, 'px/img:1'), img.digest, 'a push through the proxy');
  const up = proxy.requests().filter((r) => r.path.startsWith('/v2/px/img/blobs/uploads/') && r.method !== 'POST');
  t.ok(up.length >= 2, 'the upload continued at the proxy, so its Location pointed there');
  await reg.settle();
  t.equal(reg.requests().length, proxy.requests().length, 'every request reached the registry');

  // Tests run strata with spawnSync, which blocks this process: the proxy must answer all the same.
  proxy.failNext(1, 502);
  const blocked = ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${proxy.url}/v2/`];
  t.same([spawnSync('curl', blocked, { encoding: 'utf8' }).stdout, spawnSync('curl', blocked, { encoding: 'utf8' }).stdout], ['502', '200']);

  const loc = await request(`${proxy.url}/v2/px/img/blobs/uploads/`, { method: 'POST' });
  t.equal(loc.status, 202);
  t.ok(loc.headers.location?.startsWith(`${proxy.url}/v2/px/img/blobs/uploads/`), String(loc.headers.location));

  const layer = img.manifests[0].layers[0];
  const blobUrl = `${proxy.url}/v2/px/img/blobs/${layer.digest}`;
  const good = await request(`${reg.url}/v2/px/img/blobs/${layer.digest}`);
  t.equal(sha256(good.body), layer.digest);

  await reg.settle();
  proxy.resetRequests();
  reg.resetRequests();
  proxy.failNext(1, 500);
  const f = await request(`${proxy.url}/v2/`);
  t.equal(f.status, 500);
  t.equal(f.headers['docker-distribution-api-version'], 'registry/2.0');
  t.match(f.json(), { errors: [{ code: 'UNKNOWN', message: /injected/ }] });
  t.equal((await request(`${proxy.url}/v2/`)).status, 200, 'only the next one');

  proxy.throttleNext(2, 7);
  for (let i = 0; i < 2; i++) {
    const r = await request(`${proxy.url}/v2/px/img/tags/list`);
    t.equal(r.status, 429);
    t.equal(r.headers['retry-after'], '7');
    t.match(r.json(), { errors: [{ code: 'TOOMANYREQUESTS' }] });
  }
  t.same((await request(`${proxy.url}/v2/px/img/tags/list`)).json(), { name: 'px/img', tags: ['1'] });

  proxy.failNext(1, 503, /^GET \/v2\/.*\/blobs\//);
  t.equal((await request(`${proxy.url}/v2/`)).status, 200, 'a match lets other requests through');
  t.equal((await request(blobUrl)).status, 503);

  proxy.corruptBlob(layer.digest);
  const bad = await request(blobUrl);
  t.equal(bad.status, 200);
  t.equal(bad.body.length, layer.size, 'same length');
  t.not(sha256(bad.body), layer.digest, 'but the digest no longer matches');
  t.equal(
    bad.body.reduce((n, b, i) => n + (b !== good.body[i] ? 1 : 0), 0),
    1,
    'one byte flipped',
  );
  t.equal((await request(blobUrl, { method: 'HEAD' })).headers['content-length'], String(layer.size));
  proxy.clearFaults();
  t.equal(sha256((await request(blobUrl)).body), layer.digest, 'cleared');

  proxy.dropBlobAfter(layer.digest, 100_000);
  const cut = await getPartial(blobUrl);
  t.equal(cut.status, 200);
  t.ok(cut.error, `the download breaks (${cut.error})`);
  t.equal(cut.body.length, 100_000, 'after exactly that many bytes');
  t.same(cut.body, good.body.subarray(0, 100_000));
  const rest = await getPartial(blobUrl, { range: 'bytes=100000-' });
  t.equal(rest.status, 206, 'the next request (a resume) goes through');
  t.equal(rest.error, undefined);
  t.equal(sha256(Buffer.concat([cut.body, rest.body])), layer.digest);

  proxy.dropBlobAfter(layer.digest, 0, 2);
  for (let i = 0; i < 2; i++) t.same((await getPartial(blobUrl)).body.length, 0, 'dropped before the body');
  t.equal(sha256((await getPartial(blobUrl)).body), layer.digest, 'times=2 means two');

  await reg.settle();
  const faults = proxy.requests().map((r) => r.fault ?? '-');
  t.same(faults, ['fail', '-', 'throttle', 'throttle', '-', '-', 'fail', 'corrupt', '-', '-', 'drop', '-', 'drop', 'drop', '-']);
  // Sorted: a dropped download's line is logged when the registry notices, maybe after the next request's.
  const key = (r: { method: string; path: string; status: number }) => `${r.method} ${r.path} ${r.status}`;
  t.same(
    proxy
      .requests()
      .filter((r) => r.fault !== 'fail' && r.fault !== 'throttle')
      .map(key)
      .sort(),
    reg.requests().map(key).sort(),
    'faulted requests never reached the registry; the rest did, with the same status',
  );
});

t.test('multi-arch and zstd layouts push as an index and as zstd layers', async (t) => {
  const reg = track(await startRegistry(t));
  const multi = makeLayout(t, (arch) => ({ '/etc/arch': arch }), { arches: ['amd64', 'arm64'], tag: 'multi' });
  t.equal(multi.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.same(
    multi.manifests.map((m) => m.platform),
    ['amd64', 'arm64'],
  );
  t.equal(pushImage(multi, reg, 'ma/img:multi'), multi.digest);
  const idx = await request(`${reg.url}/v2/ma/img/manifests/multi`, { headers: { accept: ACCEPT } });
  t.equal(sha256(idx.body), multi.digest);
  t.match(idx.json(), {
    manifests: [
      { digest: multi.manifests[0].digest, platform: { architecture: 'amd64', os: 'linux' } },
      { digest: multi.manifests[1].digest, platform: { architecture: 'arm64', os: 'linux' } },
    ],
  });
  for (const m of multi.manifests) {
    const cfg = await request(`${reg.url}/v2/ma/img/blobs/${m.config.digest}`);
    t.equal((cfg.json() as { architecture: string }).architecture, m.platform);
    const layer = await request(`${reg.url}/v2/ma/img/blobs/${m.layers[0].digest}`);
    const tar = zlib.gunzipSync(layer.body);
    t.ok(tar.includes(Buffer.from(m.platform)), `the ${m.platform} image has its own files`);
  }

  const z = makeLayout(t, { '/z': 'zstd '.repeat(1000) }, { zstd: true });
  const zl = z.manifests[0].layers[0];
  t.equal(zl.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  t.equal(pushImage(z, reg, 'z/img:1'), z.digest);
  const zb = await request(`${reg.url}/v2/z/img/blobs/${zl.digest}`);
  t.same([...zb.body.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'a zstd frame');
  t.match(skopeoInspect(reg, 'z/img:1', { raw: true }), { layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] });

  const zm = makeLayout(t, (arch) => ({ '/a': arch }), { arches: ['amd64', 'arm/v7'], zstd: true });
  t.same(
    zm.manifests.map((m) => [m.platform, m.layers[0].mediaType]),
    [
      ['amd64', 'application/vnd.oci.image.layer.v1.tar+zstd'],
      ['arm/v7', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    ],
  );

  const v2 = pushImage(makeLayout(t, { '/d': 'docker' }), reg, 'd/img:1', { format: 'v2s2' });
  const dm = await request(`${reg.url}/v2/d/img/manifests/1`, { headers: { accept: ACCEPT } });
  t.equal(dm.headers['content-type'], 'application/vnd.docker.distribution.manifest.v2+json');
  t.equal(sha256(dm.body), v2);
});

t.test('a registry that cannot start fails at once with its stderr', async (t) => {
  const reg = track(await startRegistry(t));
  await reg.stop();
  // Its port taken by someone else: restart() must say so, not hang.
  const squatter = http.createServer();
  await new Promise<void>((r) => squatter.listen(Number(reg.host.split(':')[1]), '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => squatter.close(() => r())));
  const t0 = Date.now();
  await t.rejects(reg.restart(), /docker-registry exited at start .*\n[^]*address already in use/);
  t.ok(Date.now() - t0 < 5000, 'quickly');
  t.equal(reg.pid, undefined);
});

t.test('no registry process is left', async (t) => {
  t.ok(pids.length >= 6);
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} is gone`);
});
