// The build service called in process (no CLI): the layer cache (a rebuild is all cache hits and
// the same image; a changed context file reruns from its COPY), what COPY writes (through the
// snapshot's in-process Union: modes, times, owner, overwriting a lower file), and symlinks on a
// COPY's way followed inside the image, never on the host. No RUN here: that needs a FUSE mount.
// (From src/ the FUSE daemon cannot even start, so these builds show that COPY mounts nothing.)
import t from 'tap';
import { storeWithBusybox } from './helpers/store.js';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
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

/** A context dir of `files` (path → content) under base. */
const contextOf = (name: string, files: Record<string, string>) => {
  const dir = `${base}/${name}`;
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(`${dir}/${p}`), { recursive: true });
    fs.writeFileSync(`${dir}/${p}`, text);
  }
  return dir;
};
const kindsOf = (events: BuildEvent[]) => events.filter((e) => e.type === 'cached' || e.type === 'made').map((e) => e.type);
const buildIn = async (context: string) => {
  const events: BuildEvent[] = [];
  const img = await build(s, k, { context }, (e) => events.push(e));
  return { img, kinds: kindsOf(events) };
};

t.test("COPY/ADD --chown (names from the image's own /etc/passwd and /etc/group at that step) and --chmod (issue 11)", async (t) => {
  const dockerfile = (chmod: string) =>
    `FROM base
COPY passwd group /etc/
COPY --chown=app:staff files/ /owned/
COPY --chown=app one.txt /by-user/
COPY --chown=1234:5678 one.txt /numeric
COPY --chown=77 ["one.txt", "/uid-only"]
COPY --chmod=${chmod} files/ /moded/
ADD --chown=nobody:nogroup --chmod=700 one.txt /added
`;
  const c = contextOf('ctx-chown', {
    passwd: 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
    group: 'root:x:0:\nstaff:x:3456:\nnogroup:x:65534:\n',
    'files/a': 'a\n',
    'files/sub/b': 'b\n',
    'one.txt': 'one\n',
    Dockerfile: dockerfile('0640'),
  });
  const first = await buildIn(c);
  const st = (p: string) => fs.lstatSync(fileIn(first.img.layers, p)!);
  const owner = (p: string) => `${st(p).uid}:${st(p).gid}`;
  t.equal(owner('/owned/a'), '1234:3456', 'USER:GROUP names from the files an earlier step copied into the image');
  t.equal(owner('/owned/sub'), '1234:3456', 'dirs copied too');
  t.equal(owner('/owned/sub/b'), '1234:3456');
  t.equal(owner('/owned'), '1234:3456', 'and the dir made for them');
  t.equal(owner('/by-user/one.txt'), '1234:1000', "a user name alone: its primary group from the image's /etc/passwd");
  t.equal(owner('/numeric'), '1234:5678', 'numbers as they are');
  t.equal(owner('/uid-only'), '77:77', 'a number alone is the group too; flags before a JSON form');
  t.equal(owner('/moded/a'), '0:0', 'no --chown: root');
  t.equal(st('/moded/a').mode & 0o7777, 0o640, '--chmod sets the mode of the files copied');
  t.equal(st('/moded/sub').mode & 0o7777, 0o640, 'and of the dirs (as BuildKit does)');
  t.equal(st('/moded/sub/b').mode & 0o7777, 0o640);
  t.equal(owner('/added'), '65534:65534', 'ADD --chown');
  t.equal(st('/added').mode & 0o7777, 0o700, 'ADD --chmod');

  t.same((await buildIn(c)).kinds, Array(7).fill('cached'), 'a rebuild is all cache hits');
  fs.writeFileSync(`${c}/Dockerfile`, dockerfile('0600'));
  const remoded = await buildIn(c);
  t.same(remoded.kinds, ['cached', 'cached', 'cached', 'cached', 'cached', 'made', 'made'], 'another --chmod is another cache key: that step runs again');
  t.equal(fs.statSync(fileIn(remoded.img.layers, '/moded/a')!).mode & 0o7777, 0o600, 'with the new mode');
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY passwd group /etc/\nCOPY --chown=nobody one.txt /x\n');
  t.same((await buildIn(c)).kinds, ['cached', 'made']);
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY passwd group /etc/\nCOPY --chown=app one.txt /x\n');
  t.same((await buildIn(c)).kinds, ['cached', 'made'], 'and so is another --chown');

  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY passwd group /etc/\n\nCOPY --chown=daemon one.txt /x\n');
  await t.rejects(
    build(s, k, { context: c }),
    { code: 'invalid', message: "Dockerfile, line 4: COPY --chown=daemon: no user daemon in the image's /etc/passwd" },
    "a user only the host has: one sentence with the line (the host's /etc/passwd is never read)",
  );
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nADD --chown=app:wheel one.txt /x\n');
  await t.rejects(
    build(s, k, { context: c }),
    { code: 'invalid', message: "Dockerfile, line 2: ADD --chown=app:wheel: no user app in the image's /etc/passwd" },
    'names are looked up at that step: before the COPY of /etc/passwd, busybox has no app',
  );
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY passwd group /etc/\nCOPY --chown=app:wheel one.txt /x\n');
  await t.rejects(
    build(s, k, { context: c }),
    { message: "Dockerfile, line 3: COPY --chown=app:wheel: no group wheel in the image's /etc/group" },
    'an unknown group',
  );
  t.same(k.list({ all: true }), [], 'no build container is left');
});

t.test('.dockerignore: ignored files are not sent, change no cache key; the Dockerfile is read anyway (issue 11)', async (t) => {
  const c = contextOf('ctx-ignore', {
    '.dockerignore': '# not sent\n*.log\nsecret/\n!secret/public.pem\n**/node_modules\nDockerfile\n.dockerignore\n',
    'app.txt': 'app\n',
    'debug.log': 'noise\n',
    'sub/trace.log': 'kept: *.log is the root only\n',
    'secret/key': 'private\n',
    'secret/public.pem': 'public\n',
    'node_modules/x/index.js': 'x\n',
    'sub/node_modules/y': 'y\n',
    Dockerfile: 'FROM base\nCOPY . /ctx/\n',
  });
  const first = await buildIn(c);
  const layer = s.layerDir(first.img.layers.at(-1)!);
  const listing = execFileSync('find', ['.', '-mindepth', '1'], { cwd: `${layer}/ctx`, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .sort();
  t.same(
    listing,
    ['./app.txt', './secret', './secret/public.pem', './sub', './sub/trace.log'],
    'COPY . leaves out what .dockerignore names, the Dockerfile and itself too',
  );
  t.equal(fs.statSync(`${layer}/ctx/secret`).mode & 0o7777, 0o755, 'a dir sent only for an exception below it is made 0755, as docker unpacks it');

  fs.writeFileSync(`${c}/debug.log`, 'more noise\n');
  fs.writeFileSync(`${c}/secret/key`, 'rotated\n');
  fs.writeFileSync(`${c}/node_modules/x/index.js`, 'changed\n');
  t.same((await buildIn(c)).kinds, ['cached'], 'changing ignored files changes no cache key');
  fs.writeFileSync(`${c}/app.txt`, 'app v2\n');
  t.same((await buildIn(c)).kinds, ['made'], 'a file that is sent does');

  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY debug.log /x\n');
  await t.rejects(
    build(s, k, { context: c }),
    { code: 'invalid', message: 'Dockerfile, line 2: file not found in the build context or excluded by .dockerignore: debug.log' },
    'naming an ignored file: as docker says it',
  );
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY secret/key /x\n');
  await t.rejects(build(s, k, { context: c }), { message: /excluded by \.dockerignore: secret\/key$/ }, 'a file under an ignored dir');
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY *.log /x/\n');
  await t.rejects(
    build(s, k, { context: c }),
    { message: 'Dockerfile, line 2: no file in the build context matches *.log' },
    'a wildcard matches only what is sent',
  );
  fs.writeFileSync(`${c}/.dockerignore`, 'ok\n[oops\n');
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nCOPY app.txt /x\n');
  await t.rejects(
    build(s, k, { context: c }),
    { code: 'invalid', message: '.dockerignore, line 2: syntax error in pattern: [oops' },
    'a bad pattern: one sentence with its line',
  );
});

t.test('ADD URL: fetched from a loopback server, 0600, mtime from Last-Modified, never unpacked; the bytes are the cache key (issue 11)', async (t) => {
  let hello = 'hello v1\n';
  let requests = 0;
  const tgz = execFileSync('tar', ['-cz', '-C', `${ctx}/files`, 'a']);
  const server = http.createServer((req, res) => {
    requests++;
    if (req.url === '/files/hello.txt') res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }).end(hello);
    else if (req.url === '/plain') res.writeHead(200).end('no date\n');
    else if (req.url === '/moved') res.writeHead(302, { location: '/files/hello.txt' }).end();
    else if (req.url === '/payload.tgz') res.writeHead(200).end(tgz);
    else res.writeHead(404).end('nope\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = contextOf('ctx-url', {
    Dockerfile: `FROM base\nADD ${url}/plain /named\nADD ${url}/payload.tgz /tgz/\nADD --chmod=644 ${url}/moved /redirected.txt\nADD ${url}/files/hello.txt /downloads/\n`,
  });
  const first = await buildIn(c);
  const at = (p: string) => fileIn(first.img.layers, p)!;
  t.equal(fs.readFileSync(at('/downloads/hello.txt'), 'utf8'), 'hello v1\n', 'DEST/ takes the name from the URL');
  t.equal(fs.statSync(at('/downloads/hello.txt')).mode & 0o7777, 0o600, 'mode 0600, as docker');
  t.equal(fs.statSync(at('/downloads/hello.txt')).mtime.toISOString(), '2015-10-21T07:28:00.000Z', 'mtime from Last-Modified');
  t.equal(fs.statSync(at('/named')).mtime.getTime(), 0, 'without Last-Modified: the epoch, as docker');
  t.equal(fs.readFileSync(at('/named'), 'utf8'), 'no date\n', 'DEST without a slash is the file');
  t.equal(fs.readFileSync(at('/redirected.txt'), 'utf8'), 'hello v1\n', 'a redirect is followed');
  t.equal(fs.statSync(at('/redirected.txt')).mode & 0o7777, 0o644, '--chmod');
  t.same(fs.readFileSync(at('/tgz/payload.tgz')), tgz, 'a tar from a URL is never unpacked');
  t.notOk(fileIn(first.img.layers, '/tgz/a'), 'nothing of it is extracted');

  const before = requests;
  t.same((await buildIn(c)).kinds, ['cached', 'cached', 'cached', 'cached'], 'the same bytes: every step from the cache');
  t.ok(requests > before, 'though each URL was fetched again to know');
  hello = 'hello v2\n';
  const changed = await buildIn(c);
  t.same(changed.kinds, ['cached', 'cached', 'made', 'made'], 'changed bytes: the steps that fetched them run again');
  t.equal(fs.readFileSync(fileIn(changed.img.layers, '/downloads/hello.txt')!, 'utf8'), 'hello v2\n', 'with the new bytes');

  fs.writeFileSync(`${c}/Dockerfile`, `FROM base\nADD ${url}/missing /x\n`);
  await t.rejects(
    build(s, k, { context: c }),
    { code: 'failed', message: `ADD could not fetch ${url}/missing: the server answered 404 Not Found` },
    'a 404: one sentence',
  );
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  fs.writeFileSync(`${c}/Dockerfile`, `FROM base\nADD ${dead} /x\n`);
  await t.rejects(
    build(s, k, { context: c }),
    { code: 'failed', message: `ADD could not fetch ${dead}: connection refused` },
    'a refused connection: one sentence',
  );
  t.same(
    fs.readdirSync(`${base}/root/tmp`).filter((n) => n.startsWith('add-')),
    [],
    'no fetched file is left in the store',
  );
  t.same(k.list({ all: true }), [], 'no build container is left');
});
