// The store under faults, as users meet them: a disk that fills up during a commit, a container
// whose filesystem daemon was killed, several strata commands at once on one store, and the
// leftovers of a killed command. Each ends in one sentence and a consistent store.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { CLI, ROOT, tmpdir, isMounted, waitUntil } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';

t.setTimeout(300_000);
const base = tmpdir(t, 'strata-faults-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);

const store = storeCli;

t.test('an image without a command: create refuses and leaves no container', async (t) => {
  const s = store(`${base}/nocmd`);
  t.teardown(s.cleanup);
  s.ok('import', rootfs, '--tag', 'bare');
  const r = s.strata('create', '--name', 'x', 'bare');
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /^strata: no command given and the image has none \(CMD\)\n$/, 'one sentence');
  t.equal(s.ok('ps', '-a', '--format', 'json').trim(), '[]', 'no container was made');
  t.equal(s.strata('create', '--name', 'x', 'bare', 'true').status, 0, 'so the name is still free');
});

t.test('a disk that fills up during commit: one sentence, nothing stored, the store still works', async (t) => {
  const full = `${base}/full`;
  fs.mkdirSync(full);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', full]);
  const s = store(`${full}/root`);
  t.teardown(() => {
    s.cleanup();
    spawnSync('umount', ['-l', full]);
  });
  s.ok('import', rootfs, '--tag', 'base');
  s.ok('create', '--name', 'fat', 'base', 'true');
  const upper = s.upperOf('fat');
  // 60 MiB in the container layer: the commit needs twice that (the blob and the layer dir), the disk has less.
  execFileSync('dd', ['if=/dev/urandom', `of=${upper}/big`, 'bs=1M', 'count=60', 'status=none']);
  const before = {
    layers: fs.readdirSync(`${full}/root/layers`).sort(),
    blobs: fs.readdirSync(`${full}/root/blobs/sha256`).sort(),
    images: s.ok('images', '-q'),
  };
  const r = s.strata('commit', 'fat', 'fat:1');
  t.equal(r.status, 1, 'commit fails with exit 1');
  t.match(r.stderr, /^strata: no space left on the device that holds the store \(.*\/full\/root\)[^\n]*\n$/, `in one sentence: ${r.stderr.trim()}`);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  t.same(fs.readdirSync(`${full}/root/tmp`), [], 'its temp blob and layer dir are gone');
  t.same(fs.readdirSync(`${full}/root/layers`).sort(), before.layers, 'no layer dir was added');
  t.same(fs.readdirSync(`${full}/root/blobs/sha256`).sort(), before.blobs, 'no blob was added');
  t.equal(s.ok('images', '-q'), before.images, 'no image was added');
  const check = s.strata('system', 'check', '--no-repair');
  t.equal(check.status, 0, `system check finds the store consistent: ${check.stdout.trim()} ${check.stderr.trim()}`);
  fs.rmSync(`${upper}/big`);
  fs.writeFileSync(`${upper}/small`, 'fits\n');
  t.match(s.ok('commit', 'fat', 'fat:2'), /^sha256:[a-f0-9]{64}\n$/, 'once there is room, the same container commits');
  t.equal(s.ok('run', '--rm', 'fat:2', 'cat', '/small'), 'fits\n', 'and its image runs');
});

t.test('a container whose filesystem daemon was killed', async (t) => {
  const root = `${base}/dead`;
  const s = store(root);
  t.teardown(s.cleanup);
  s.ok('import', rootfs, '--tag', 'base');
  s.ok('create', '--name', 'victim', 'base', 'sleep', '1000');
  s.ok('start', 'victim');
  const info = JSON.parse(s.ok('inspect', 'victim'))[0];
  const merged: string = info.GraphDriver.Data.MergedDir;
  fs.writeFileSync(`${info.GraphDriver.Data.UpperDir}/kept`, 'state\n');
  const daemon = execFileSync('pgrep', ['-f', `daemon-main.js mount ${merged} `], { encoding: 'utf8' }).trim();
  t.match(daemon, /^\d+$/, 'the container has one daemon');
  process.kill(Number(daemon), 'SIGKILL');
  waitUntil(() => spawnSync('pgrep', ['-f', `daemon-main.js mount ${merged} `]).status === 1);
  t.match(s.ok('ps'), /Up (?:Less than a second|\d+ seconds?|About a minute) \(filesystem daemon died\)\s+victim/, 'ps says so');
  const e = s.strata('exec', 'victim', 'true');
  t.equal(e.status, 1, 'exec refuses');
  t.match(e.stderr, /^strata: the filesystem daemon of container victim has died: restart the container \(strata restart victim\)\n$/, 'and says what to do');
  t.match(s.ok('diff', 'victim'), /^A \/kept\n$/, 'diff still reads the upper dir');
  t.match(s.ok('commit', 'victim', 'saved:1'), /^sha256:/, 'commit still saves it');
  const r = s.strata('restart', '-t', '1', 'victim');
  t.equal(r.status, 0, `restart: ${r.stderr.trim()}`);
  t.equal(s.ok('exec', 'victim', 'cat', '/kept'), 'state\n', 'the restarted container sees its files');
  t.match(s.ok('ps'), /Up (?:Less than a second|\d+ seconds?|About a minute)\s+victim/, 'and is Up');
  s.ok('rm', '-f', 'victim');
  t.notOk(isMounted(merged), 'rm -f leaves no mount behind');
  t.equal(s.ok('run', '--rm', 'saved:1', 'cat', '/kept'), 'state\n', 'the image committed from the dead mount is whole');

  // A merged view mounted by hand (strata mount CONTAINER) whose daemon is killed is mounted again on the next use.
  s.ok('create', '--name', 'byhand', 'saved:1', 'true');
  const where = s.ok('mount', 'byhand').trim();
  const pid = execFileSync('pgrep', ['-f', `daemon-main.js mount ${where} `], { encoding: 'utf8' }).trim();
  process.kill(Number(pid), 'SIGKILL');
  waitUntil(() => spawnSync('pgrep', ['-f', `daemon-main.js mount ${where} `]).status === 1);
  const again = s.strata('mount', 'byhand');
  t.equal(again.status, 0, 'mount again: exit 0');
  t.equal(again.stderr, 'strata: the filesystem daemon of container byhand had died; mounting its merged view again\n', 'with one warning');
  t.equal(execFileSync('cat', [`${where}/kept`], { encoding: 'utf8' }), 'state\n', 'and the view answers again');
  s.ok('umount', 'byhand');
  t.notOk(isMounted(where), 'umount leaves nothing behind');
});

t.test('several strata commands at once on one store', async (t) => {
  const root = `${base}/busy`;
  const s = store(root);
  t.teardown(s.cleanup);
  s.ok('import', rootfs, '--tag', 'base');
  s.ok('create', '--name', 'src', 'base', 'true');
  fs.writeFileSync(`${s.upperOf('src')}/file`, 'x'.repeat(1 << 20));
  const runAll = (argvs: string[][]) =>
    Promise.all(
      argvs.map(
        (args) =>
          new Promise<{ args: string[]; code: number | null; out: string; err: string }>((resolve) => {
            const p = spawn(process.execPath, [CLI, ...args], { env: s.env });
            let out = '',
              err = '';
            p.stdout.on('data', (d) => (out += d));
            p.stderr.on('data', (d) => (err += d));
            p.on('close', (code) => resolve({ args, code, out, err }));
          }),
      ),
    );
  const results = await runAll([
    ['import', rootfs, '--tag', 'a:1'],
    ['import', rootfs, '--tag', 'a:2'],
    ['import', rootfs, '--tag', 'a:3'],
    ['commit', 'src', 'c:1'],
    ['commit', 'src', 'c:2'],
    ['commit', 'src', 'c:3'],
    ['create', '--name', 'n1', 'base', 'true'],
    ['create', '--name', 'n2', 'base', 'true'],
    ['images'],
    ['ps', '-a'],
    ['system', 'df'],
  ]);
  for (const r of results) t.equal(r.code, 0, `strata ${r.args.join(' ')}: exit 0 ${r.err.trim()}`);
  const tags = JSON.parse(s.ok('images', '--format', 'json'))
    .map((i: { repo: string; tag: string }) => `${i.repo}:${i.tag}`)
    .sort();
  t.same(tags, ['a:1', 'a:2', 'a:3', 'base:latest', 'c:1', 'c:2', 'c:3'], 'every tag landed');
  const layerOf = (ref: string) => JSON.parse(s.ok('inspect', ref))[0].RootFS.Layers as string[];
  t.same(layerOf('c:1'), layerOf('c:3'), 'the three commits made the same layers');
  t.equal(fs.readdirSync(`${root}/layers`).length, 2, 'stored once each: the base layer and the committed one');
  t.same(fs.readdirSync(`${root}/tmp`), [], 'no temp file is left');
  const check = s.strata('system', 'check', '--no-repair');
  t.equal(check.status, 0, `system check: consistent ${check.stderr.trim()}`);
  t.equal(s.ok('run', '--rm', 'c:2', 'wc', '-c', '/file').trim(), `${1 << 20} /file`, 'a committed image runs');
});

t.test("a killed command's temp files go; a running command's stay", async (t) => {
  const root = `${base}/tmpclean`;
  const s = store(root);
  t.teardown(s.cleanup);
  s.ok('images');
  const sleeper = spawn('sleep', ['30']);
  t.teardown(() => sleeper.kill());
  const dead = spawnSync('true').pid!;
  fs.mkdirSync(`${root}/tmp/layer-${dead}-aaaaaaaaaaaa`);
  fs.writeFileSync(`${root}/tmp/layer.tar-${dead}-bbbbbbbbbbbb`, 'half');
  fs.mkdirSync(`${root}/tmp/layer-${sleeper.pid}-cccccccccccc`);
  s.ok('images');
  t.same(fs.readdirSync(`${root}/tmp`), [`layer-${sleeper.pid}-cccccccccccc`], "only the live command's temp dir is kept");
});
