// The image store and container commands, run as a user runs them, on a real busybox rootfs:
// import, run (namespaces, chroot, exit codes), diff, commit (an OCI layer with whiteouts),
// history, images, ps -s, rmi, prune, inspect; and their answers to bad input.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { CLI, ROOT, tmpdir } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';
import { isFrozen } from '../src/container/freezer.js';

t.setTimeout(300_000);
const base = tmpdir(t, 'strata-store-');
const root = `${base}/root`;
// A failed run may leave containers running in the background: the teardown removes them (rm -f kills their PID 1).
const { env, strata, ok, cleanup } = storeCli(root);
t.teardown(cleanup);
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);

t.test('import, run, diff, commit, history: the seed story', async (t) => {
  const id = ok('import', rootfs, '--tag', 'busybox:1', '-m', 'base', '-c', 'CMD ["/bin/sh"]').trim();
  t.match(id, /^sha256:[a-f0-9]{64}$/, 'import prints the image ID');
  const imgs = JSON.parse(ok('images', '--format', 'json'));
  t.same(
    imgs.map((i: { repo: string; tag: string }) => `${i.repo}:${i.tag}`),
    ['busybox:1'],
    'images lists it',
  );
  t.match(
    ok('images'),
    /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nbusybox\s+1\s+[a-f0-9]{12}\s+.* ago\s+\d+(\.\d+)?MB\n$/,
    'in docker columns, with a human size',
  );

  const r = strata(
    'run',
    '--name',
    'seed',
    'busybox:1',
    'sh',
    '-c',
    'mkdir /data && dd if=/dev/zero of=/data/one bs=1M count=1 2>/dev/null && chmod -R 0777 /data && dd if=/dev/zero of=/data/two bs=1M count=1 2>/dev/null && rm /data/one && echo changed >> /etc/group && echo renamed > /etc/hostname && rm /etc/os-release && echo pid=$$ host=$(hostname) && exit 7',
  );
  t.equal(r.status, 7, "run exits with the command's exit code");
  t.match(r.stdout, /pid=1 host=[a-f0-9]{12}/, 'the command is PID 1 of a new PID namespace, with its own hostname');
  t.same(
    ok('diff', 'seed').trim().split('\n'),
    ['A /data', 'A /data/two', 'C /etc', 'C /etc/group', 'D /etc/os-release'],
    "diff gives docker's A/C/D lines (/etc/hostname is the container's own, bound over the image's, as in docker: never in diff)",
  );
  t.match(ok('ps', '-a', '-s'), /seed\s+1\.05MB \(virtual \d+(\.\d+)?MB\)/, 'ps -s shows the container layer and the virtual size');

  const newId = ok('commit', '-a', 'Ada <ada@example.com>', '-m', 'add data', 'seed', 'mine:v1').trim();
  t.match(newId, /^sha256:/, 'commit prints the new image ID');
  const hist = ok('history', 'mine:v1');
  t.match(
    hist,
    /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[a-f0-9]{12}\s+.*1\.05MB\s+add data\n[a-f0-9]{12}\s+.*strata import .*base\n$/,
    "history: the new layer with its comment, then the base (the container's image, its parent, with its ID as docker shows it)",
  );
  const info = JSON.parse(ok('inspect', 'mine:v1'))[0];
  t.equal(info.Author, 'Ada <ada@example.com>', 'inspect shows the author');
  t.equal(info.RootFS.Layers.length, 2, 'and two layers');
  const layerHex = info.RootFS.Layers[1].replace('sha256:', '');
  const names = execFileSync('tar', ['-tf', `${root}/blobs/sha256/${layerHex}`], { encoding: 'utf8' }).split('\n');
  t.ok(names.includes('etc/.wh.os-release'), 'the committed layer deletes with a .wh. entry');
  t.notOk(
    names.some((n) => n.includes('one')),
    'a file made and removed in the container is not in the layer',
  );
  t.notOk(names.includes('data/.wh..wh..opq'), 'a new dir nothing below has gets no opaque marker');
  const digest = execFileSync('sha256sum', [`${root}/blobs/sha256/${layerHex}`], { encoding: 'utf8' }).split(' ')[0];
  t.equal(digest, layerHex, 'the blob is stored under its own sha256 (the diffID)');

  const run2 = strata('run', '--rm', 'mine:v1', 'sh', '-c', 'tail -n 1 /etc/group; ls /data; test ! -e /etc/os-release && echo gone; cat /etc/hostname');
  t.match(run2.stdout, /^changed\ntwo\ngone\n[a-f0-9]{12}\n$/, 'a container of the new image sees the committed changes, and its own hostname');
  t.notMatch(ok('ps', '-a'), /mine:v1/, 'run --rm removed its container');

  const df = ok('system', 'df', '-v');
  t.match(df, /busybox\s+1\s+[a-f0-9]{12}\s+.* ago\s+(\S+)\s+(\S+)\s+0B\s+1\n/, 'system df -v: the base layer is all shared, nothing unique');
  t.match(df, /mine\s+v1\s+[a-f0-9]{12}\s+.* ago\s+\S+\s+\S+\s+1\.05MB\s+0\n/, 'the committed image adds 1.05MB of its own');
  t.match(
    df,
    /[a-f0-9]{12}\s+busybox:1\s+0\s+1\.05MB\s+.* ago\s+Exited \(7\) (?:Less than a second|\d+ seconds?|About a minute) ago\s+seed\n/,
    'and the container, with its layer size and the STATUS ps shows',
  );
  t.match(ok('system', 'df'), /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+2\s+1\s+/, 'system df sums it up, as docker');
  const exported = spawnSync(process.execPath, [CLI, 'export', 'seed'], { env, maxBuffer: 64 << 20 });
  t.equal(exported.status, 0, 'export writes a tar');
  fs.writeFileSync(`${base}/export.tar`, exported.stdout);
  const exportedNames = execFileSync('tar', ['-tf', `${base}/export.tar`], { encoding: 'utf8' }).split('\n');
  t.ok(exportedNames.includes('data/two') && exportedNames.includes('bin/busybox'), 'of the merged filesystem');
  t.notOk(exportedNames.includes('etc/os-release') || exportedNames.some((n) => n.includes('.wh.')), 'without what was deleted, and without whiteouts');

  const denied = strata('rmi', 'busybox:1');
  t.equal(denied.status, 1, 'rmi refuses an image a container uses');
  t.match(denied.stderr, /^strata: image busybox:1 is used by container [a-f0-9]{12} \(seed\)/, 'and says which');
  ok('rm', 'seed');
  t.match(ok('rmi', 'mine:v1'), /Untagged: mine:v1\nDeleted: sha256:/, 'rmi untags and deletes an unused image');
  const asked = spawnSync(process.execPath, [CLI, 'image', 'prune', '-a'], { env, input: 'n\n', encoding: 'utf8' });
  t.equal(
    asked.stdout,
    'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] \n',
    'image prune asks first, as docker does',
  );
  t.ok(fs.readdirSync(`${root}/layers`).length > 0, 'and "n" removes nothing');
  const yes = spawnSync(process.execPath, [CLI, 'image', 'prune', '-a'], { env, input: 'y\n', encoding: 'utf8' });
  t.match(
    yes.stdout,
    /\[y\/N\] \nDeleted Images:\nuntagged: busybox:1\ndeleted: sha256:[a-f0-9]{64}\n\nTotal reclaimed space: \d+(\.\d+)?MB\n$/,
    'and "y" removes the rest, saying how much it freed',
  );
  t.equal(fs.readdirSync(`${root}/layers`).length, 0, 'no layer dir is left');
});

t.test('bad input: one sentence, exit 1, store untouched', async (t) => {
  ok('import', rootfs, '--tag', 'base');
  const before = fs.readdirSync(`${root}/layers`).sort();
  const cases: [string[], RegExp][] = [
    [['run', 'nosuch:image', 'true'], /^strata: no such image: nosuch:image\n$/],
    [['diff', 'nosuchcontainer'], /^strata: no such container: nosuchcontainer\n$/],
    [['tag', 'base', 'Bad:Name'], /not a valid image name/],
    [['import', rootfs, '--tag', 'ok:bad tag'], /invalid tag/],
    [['import', `${base}/missing.tar`], /does not exist/],
  ];
  for (const [args, re] of cases) {
    const r = strata(...args);
    t.equal(r.status, 1, `${args.join(' ')}: exit 1`);
    t.match(r.stderr, re, `${args.join(' ')}: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const cut = `${base}/cut.tar`;
  fs.writeFileSync(cut, fs.readFileSync(rootfs).subarray(0, 300_000));
  const r = strata('import', cut);
  t.equal(r.status, 1, 'a truncated tar fails the import');
  t.match(r.stderr, /corrupt|unexpected end/i, `and says so: ${r.stderr.trim()}`);
  t.same(fs.readdirSync(`${root}/layers`).sort(), before, 'no layer was added');
  t.same(fs.readdirSync(`${root}/tmp`), [], 'and no temp file is left');
});

t.test('image waste: a deleted file and a chmod copy-up still weigh in their earlier layer', async (t) => {
  ok('import', rootfs, '--tag', 'wbase');
  ok('run', '--name', 'w1', 'wbase', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1k count=500 2>/dev/null; echo x > /keep');
  ok('commit', 'w1', 'w:1');
  ok('run', '--name', 'w2', 'w:1', 'sh', '-c', 'rm /big; chmod 600 /keep');
  ok('commit', 'w2', 'w:2');
  const w = JSON.parse(ok('image', 'waste', '--format', 'json', 'w:2'));
  t.same(
    w.layers.map((l: { wasted: number }) => l.wasted),
    [0, 512002, 0],
    'layer 1 wastes the deleted 500 KiB file and the 2-byte file copied up by chmod',
  );
  t.same(
    w.items.map((i: { path: string; how: string; by: number }) => `${i.path} ${i.how} ${i.by}`),
    ['/big deleted 2', '/keep overwritten 2'],
    'and says which and why',
  );
  t.ok(w.efficiency > 0.7 && w.efficiency < 0.85, `efficiency ${w.efficiency.toFixed(3)}`);
  t.match(ok('image', 'waste', 'w:2'), /Wasted space: 512kB of 2\.\d+MB\nImage efficiency: \d+\.\d%\n$/, 'the summary, dive-style');
  ok('rm', 'w1', 'w2');
});

t.test('system check: finds a damaged blob, repairs what needs no guessing', async (t) => {
  const own = { ...env, STRATA_ROOT: `${base}/checkroot` };
  const st = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: own, timeout: 60_000 });
  t.equal(st('import', rootfs, '--tag', 'c:1').status, 0, 'an image to check');
  const clean = st('system', 'check');
  t.equal(clean.status, 0, 'a fresh store passes');
  t.match(clean.stdout, /the store is consistent/, 'and says so');
  const info = JSON.parse(st('inspect', 'c:1').stdout)[0];
  const blob = `${base}/checkroot/blobs/sha256/${info.RootFS.Layers[0].replace('sha256:', '')}`;
  const fd = fs.openSync(blob, 'r+');
  fs.writeSync(fd, Buffer.from('X'), 0, 1, 600);
  fs.closeSync(fd);
  fs.mkdirSync(`${base}/checkroot/layers/${'e'.repeat(64)}`);
  const r = st('system', 'check');
  t.equal(r.status, 1, 'a damaged blob fails the check');
  t.match(r.stdout, /problem: blob sha256:[a-f0-9]{64} does not match its digest/, 'naming the blob');
  t.match(r.stdout, /problem: image c:1: the tar of layer sha256:[a-f0-9]{12} is missing or damaged/, 'and the image that needs it');
  t.match(r.stdout, /repaired: layer dir eeeeeeeeeeee belongs to no image: removed/, 'an orphan layer dir is removed');
  t.notOk(fs.existsSync(`${base}/checkroot/layers/${'e'.repeat(64)}`), 'really removed');
  t.match(r.stderr, /^strata: the store has 2 problem\(s\) that need a person/, 'one sentence on stderr');
});

t.test('an image with no /dev, /proc, /sys or /etc/hosts still runs: the init layer (issue 11)', async (t) => {
  const dir = `${base}/bare`;
  for (const d of ['bin', 'etc', 'tmp']) fs.mkdirSync(`${dir}/${d}`, { recursive: true });
  fs.copyFileSync('/bin/busybox', `${dir}/bin/busybox`);
  fs.chmodSync(`${dir}/bin/busybox`, 0o755);
  for (const a of ['sh', 'dd', 'ls', 'cat', 'test', 'hostname']) fs.symlinkSync('busybox', `${dir}/bin/${a}`);
  fs.writeFileSync(`${dir}/etc/passwd`, 'root:x:0:0:root:/:/bin/sh\n');
  fs.chmodSync(`${dir}/etc`, 0o750);
  execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', `${base}/bare.tar`, '.']);
  ok('import', `${base}/bare.tar`, '--tag', 'bare');
  const r = strata(
    'run',
    '--name',
    'bare1',
    'bare',
    'sh',
    '-c',
    'dd if=/dev/zero of=/x bs=1M count=1 2>/dev/null && ls /dev && test -e /proc/self/stat && test -d /sys/kernel && cat /etc/hostname && test -s /etc/hosts && echo ok',
  );
  t.equal(r.status, 0, `dd from /dev/zero works (${r.stderr.trim()})`);
  t.match(r.stdout, /\bnull\b[\s\S]*\bzero\b/, 'ls /dev lists the devices');
  t.match(r.stdout, /\n[a-f0-9]{12}\nok\n$/, "/proc and /sys are mounted, /etc/hostname and /etc/hosts are the container's");
  t.same(ok('diff', 'bare1').trim().split('\n'), ['A /x'], 'the mountpoints and files are in no diff');
  ok('commit', 'bare1', 'bare:2');
  const layer = JSON.parse(ok('inspect', 'bare:2'))[0].RootFS.Layers[1].replace('sha256:', '');
  const names = execFileSync('tar', ['-tf', `${root}/blobs/sha256/${layer}`], { encoding: 'utf8' })
    .trim()
    .split('\n');
  t.same(names, ['x'], 'and in no commit');
  const etc = fs.statSync(`${root}/init/${JSON.parse(ok('inspect', 'bare'))[0].Id.replace('sha256:', '')}/etc`);
  t.equal(etc.mode & 0o7777, 0o750, "the init layer keeps the image's own /etc as it is");
  ok('rm', 'bare1');
});

t.test('run -d: in the background, the full ID printed; with --rm, removed when it exits (issue 11)', async (t) => {
  ok('import', rootfs, '--tag', 'dbase');
  const id = ok('run', '-d', '--name', 'bg', 'dbase', 'sh', '-c', 'echo started; while true; do sleep 0.1; done');
  t.match(id, /^[a-f0-9]{64}\n$/, 'run -d prints the full ID and returns');
  t.match(ok('ps', '-f', 'name=^bg$'), /Up (?:Less than a second|\d+ seconds?)\s+bg\n$/, 'it runs');
  for (let i = 0; i < 100 && !ok('logs', 'bg').includes('started'); i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(ok('logs', 'bg'), 'started\n', 'its output goes to its log');
  ok('stop', '-t', '1', 'bg');
  t.match(ok('ps', '-a', '-f', 'name=^bg$'), /Exited \(\d+\)/, 'stopped');
  ok('rm', 'bg');
  const rmId = ok('run', '-d', '--rm', '--name', 'brief', 'dbase', 'true').trim();
  let gone = false;
  for (let i = 0; i < 200 && !gone; i++) {
    gone = ok('ps', '-a', '-q', '-f', 'name=^brief$') === '' && strata('inspect', rmId).status !== 0;
    if (!gone) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(gone, 'run -d --rm: the container is removed once it exits');
});

t.test('container prune and system prune (issue 11)', async (t) => {
  ok('import', rootfs, '--tag', 'prunebase');
  const a = ok('create', '--name', 'p1', 'prunebase', 'true').trim();
  ok('run', '--name', 'p2', 'prunebase', 'sh', '-c', 'echo data > /file');
  const b = JSON.parse(ok('inspect', 'p2'))[0].Id;
  const r = ok('container', 'prune', '-f');
  t.match(
    r,
    new RegExp(`^Deleted Containers:\\n(${a}\\n${b}|${b}\\n${a})\\n\\nTotal reclaimed space: \\d+B\\n$`),
    'every stopped container goes, with their layers counted',
  );
  t.equal(ok('ps', '-a', '-q', '-f', 'name=^p[12]$'), '', 'none is left');
  const c3 = ok('create', '--name', 'p3', 'prunebase', 'true').trim();
  const img = JSON.parse(ok('inspect', 'prunebase'))[0].Id;
  ok('rmi', '-f', 'prunebase'); // the image stays for its container, untagged
  const sys = ok('system', 'prune', '-f');
  t.match(
    sys,
    new RegExp(`^Deleted Containers:\\n${c3}\\n\\nDeleted Images:\\n(deleted: \\S+\\n)*deleted: ${img}\\n`),
    'system prune: the container, then the image it held',
  );
  t.match(sys, /\n\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$/, 'and the space (its layer is shared with the other images: maybe none)');
  const none = ok('system', 'prune', '-f');
  t.equal(none, 'Total reclaimed space: 0B\n', 'a second time: nothing');
});

t.test("docker's management forms are the same commands (issue 11)", async (t) => {
  ok('image', 'import', rootfs, '--tag', 'mgmt:1');
  t.equal(ok('image', 'ls', '-q', '-f', 'reference=mgmt'), ok('images', '-q', '-f', 'reference=mgmt'), 'image ls is images');
  t.match(ok('image', 'ls', '-f', 'reference=mgmt'), /^REPOSITORY\s+TAG[\s\S]*\nmgmt\s+1\s+/);
  t.equal(ok('container', 'run', '--rm', 'mgmt:1', 'echo', 'hi'), 'hi\n', 'container run is run');
  const id = ok('container', 'create', '--name', 'mg', 'mgmt:1', 'true').trim();
  t.equal(ok('container', 'ls', '-a', '-q', '-f', 'name=^mg$'), id.slice(0, 12) + '\n', 'container ls is ps');
  t.equal(ok('container', 'ps', '-a', '-q', '-f', 'name=^mg$'), id.slice(0, 12) + '\n', 'and so is container ps');
  t.same(JSON.parse(ok('container', 'inspect', 'mg'))[0].Id, id, 'container inspect');
  t.equal(ok('container', 'rm', 'mg'), 'mg\n', 'container rm');
  t.equal(ok('image', 'tag', 'mgmt:1', 'mgmt:2'), '', 'image tag');
  t.match(ok('image', 'history', 'mgmt:2'), /strata import/, 'image history');
  t.equal(ok('image', 'rm', 'mgmt:2'), 'Untagged: mgmt:2\n', 'image rm is rmi');
  t.match(ok('image', 'rm', 'mgmt:1'), /^Untagged: mgmt:1\nDeleted: sha256:/, 'the last name: the image goes');
  const info = ok('info');
  t.match(
    info,
    /^Containers: \d+\n Running: \d+\n Paused: \d+\n Stopped: \d+\nImages: \d+\nServer Version: [\d.]+\nStorage Driver: strata\n Backing Filesystem: /,
    "info: docker's server section",
  );
  t.match(info, new RegExp(`\\nStrata Root Dir: ${root}\\n$`), 'ending with the root dir');
  t.equal(ok('system', 'info', '--format', 'json'), ok('info', '--format', 'json'), 'system info is info');
  const bad = strata('images', '-f', 'colour=red');
  t.equal(bad.status, 1, 'a bad filter fails');
  t.match(bad.stderr, /^strata: invalid filter 'colour' \(known: dangling, reference, before, since, label\)\n$/, 'in one sentence');
});

t.test('start, exec, stop: a container in the background', async (t) => {
  ok('import', rootfs, '--tag', 'svcbase');
  ok('create', '--name', 'svc', 'svcbase', 'sh', '-c', 'echo started; trap "echo got TERM; exit 42" TERM; while true; do sleep 0.1; done');
  t.equal(ok('start', 'svc'), 'svc\n', 'start returns once it runs');
  t.match(ok('ps'), /svcbase:latest\s+"sh -c 'echo started…"\s+.* ago\s+Up (?:Less than a second|\d+ seconds?|About a minute)\s+svc/, 'ps shows it Up');
  const e = strata('exec', 'svc', 'sh', '-c', 'echo $(hostname); tr "\\0" " " < /proc/1/cmdline; exit 5');
  t.equal(e.status, 5, "exec exits with the command's exit code");
  t.match(e.stdout, /^[a-f0-9]{12}\nsh -c echo started;/, "inside the container's UTS and PID namespaces: PID 1 is the container's command");
  ok('stop', 'svc');
  t.match(
    ok('ps', '-a'),
    /Exited \(42\) (?:Less than a second|\d+ seconds?|About a minute) ago\s+svc/,
    'stop sends SIGTERM to PID 1; its handler decides the exit code',
  );
  const id = JSON.parse(ok('inspect', 'svc'))[0].Id;
  t.equal(fs.readFileSync(`${root}/containers/${id}/log`, 'utf8'), 'started\ngot TERM\n', 'its output went to the log');
  t.equal(ok('logs', 'svc'), 'started\ngot TERM\n', 'logs prints it');
  t.equal(ok('logs', '--tail', '1', 'svc'), 'got TERM\n', 'logs --tail 1: the last line');
  t.equal(ok('logs', '-n', '0', 'svc'), '', 'logs -n 0: nothing');
  t.match(strata('logs', '--tail', 'x', 'svc').stderr, /^strata: --tail takes a number of lines or "all", not "x"\n$/, 'a bad --tail: one sentence');
  t.match(strata('exec', 'svc', 'true').stderr, /^strata: container svc is not running\n$/, 'exec into a stopped container: one sentence');

  ok('create', '--name', 'deaf', 'svcbase', 'sleep', '1000');
  ok('start', 'deaf');
  const t0 = Date.now();
  ok('stop', '-t', '1', 'deaf');
  t.ok(Date.now() - t0 < 8000, 'a PID 1 without a TERM handler is killed after the grace time');
  t.match(ok('ps', '-a'), /Exited \(137\) (?:Less than a second|\d+ seconds?|About a minute) ago\s+deaf/, 'exit 137, as docker');
  ok('create', '--name', 'once', 'svcbase', 'sh', '-c', 'echo once; exit 3');
  const a = strata('start', '-a', 'once');
  t.equal(a.stdout, 'once\n', 'start -a runs it in the foreground');
  t.equal(a.status, 3, 'and exits with its exit code');
  t.equal(strata('start', '-a', 'once').stdout, 'once\n', 'a stopped container starts again');
  ok('create', '--name', 'ticker', 'svcbase', 'sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done');
  ok('start', 'ticker');
  const f = strata('logs', '-f', 'ticker');
  t.equal(f.stdout, 'tick 1\ntick 2\ntick 3\n', 'logs -f follows the log until the container stops');
  ok('rm', 'svc', 'deaf', 'once', 'ticker');
});

t.test('pause, unpause, and commit pausing a running container', async (t) => {
  ok('import', rootfs, '--tag', 'pausebase');
  ok('create', '--name', 'busy', 'pausebase', 'sh', '-c', 'while :; do echo x >> /grow; done');
  ok('start', 'busy');
  const upper = JSON.parse(ok('inspect', 'busy'))[0].GraphDriver.Data.UpperDir;
  const size = () => fs.statSync(`${upper}/grow`).size;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(300);
  ok('pause', 'busy');
  t.match(ok('ps'), /Up (?:Less than a second|\d+ seconds?|About a minute) \(Paused\)\s+busy/, 'ps shows it paused');
  const a = size();
  await sleep(400);
  t.equal(size(), a, 'a paused container writes nothing');
  t.match(
    strata('exec', 'busy', 'true').stderr,
    /^strata: container busy is paused: unpause it first \(strata unpause busy\)\n$/,
    'exec into it: one sentence',
  );
  t.match(strata('pause', 'busy').stderr, /already paused/, 'pausing twice: one sentence');
  ok('unpause', 'busy');
  await sleep(300);
  t.ok(size() > a, 'unpaused, it writes again');
  // 256 MiB in the layer, so that the commit lasts long enough to be watched from outside.
  execFileSync('dd', ['if=/dev/zero', `of=${upper}/bulk`, 'bs=1M', 'count=256', 'status=none']);
  const busyId = JSON.parse(ok('inspect', 'busy'))[0].Id;
  /**
   * Commit while watching the container's freezer state (what ps reads for "(Paused)", shown above)
   * every 5 ms: whether it was seen paused meanwhile. Polling `strata ps` itself cost a CLI start-up
   * (~0.3 s of CPU) per look, which slowed the commit it watched.
   */
  const watchCommit = async (...args: string[]) => {
    const c = spawn(process.execPath, [CLI, 'commit', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => c.on('close', r));
    let done = false;
    void exited.then(() => (done = true));
    let seen = false;
    while (!done) {
      if (isFrozen(busyId)) seen = true;
      await sleep(5);
    }
    return { code: await exited, out, seen };
  };
  const paused = await watchCommit('busy', 'busy:snap');
  t.equal(paused.code, 0, 'commit of the running container');
  t.ok(paused.seen, 'it was paused while its layer was read (as docker commit)');
  t.match(ok('ps'), /Up (?:Less than a second|\d+ seconds?|About a minute)\s+busy\n/, 'and runs on, unpaused, after the commit');
  const unpaused = await watchCommit('--pause=false', 'busy', 'busy:snap2');
  t.equal(unpaused.code, 0, 'commit --pause=false');
  t.notOk(unpaused.seen, 'leaves it running throughout');
  ok('pause', 'busy');
  ok('stop', '-t', '1', 'busy');
  t.match(
    ok('ps', '-a'),
    /Exited \(137\) (?:Less than a second|\d+ seconds?|About a minute) ago\s+busy/,
    'a paused container stops (thawed to take the signal)',
  );
  ok('rm', 'busy');
});
