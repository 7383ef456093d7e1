// `strata bench IMAGE -- COMMAND` (issue 12): the user's workload over every union filesystem
// here, through the CLI: a row per implementation available, the same upper dir on each, and its
// refusals. It mounts and unmounts itself; the teardown checks that nothing stays mounted.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, tmpdir } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';
import { availableImpls } from '../src/container/union-bench.js';
import { mounts } from '../src/fuse/mounts.js';

t.setTimeout(180_000);
const base = tmpdir(t, 'strata-ubench-');
const { strata, ok, cleanup } = storeCli(`${base}/root`);
t.teardown(cleanup);
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [`${base}/busybox.tar`]);
ok('import', `${base}/busybox.tar`, '--tag', 'busybox');
const busyboxSize = fs.statSync('/bin/busybox').size;

t.test('chmod -R 777 /bin: a row for each implementation, the same upper dir on each', async (t) => {
  const out = ok('bench', '-n', '2', 'busybox', '--', 'sh', '-c', 'chmod -R 777 /bin');
  const impls = availableImpls();
  t.ok(impls.includes('overlayfs') && impls.includes('strata') && impls.includes('strata-fuse-native'));
  t.match(out, /^busybox: sh -c chmod -R 777 \/bin \(median of 2 rounds\)\n\nIMPLEMENTATION +WALL +\/ KERNEL +UPPER BYTES +COPIED UP/);
  for (const impl of impls) t.match(out, new RegExp(`\\n${impl} +\\d+(\\.\\d+)? m?s +\\d+\\.\\d\\dx +\\S+ +1 +`), `a row for ${impl}, one file copied up`);
  t.match(out, /\noverlayfs +\S+ ms +1\.00x/, 'the kernel is the unit');
  const json = JSON.parse(ok('bench', '-n', '1', '--format', 'json', '--chart', `${base}/chart.svg`, 'busybox', '--', 'sh', '-c', 'chmod -R 777 /bin'));
  t.equal(json.runs.length, impls.length, 'one run per implementation a round');
  t.same(
    json.rows.map((r: { impl: string }) => r.impl),
    impls,
  );
  for (const r of json.rows) {
    t.equal(r.upperBytes, busyboxSize, `${r.impl}: the upper dir holds the busybox binary, copied up for its mode`);
    t.equal(r.copiedUp, 1);
    t.same(r.exitCodes, [0]);
    if (r.impl.startsWith('strata')) {
      t.ok(r.requests > 10, `${r.impl}: its daemon's request count (${r.requests})`);
      t.ok(r.copyUpMs > 0, `${r.impl}: and its copy-up time (${r.copyUpMs} ms)`);
    } else t.notOk('requests' in r, `${r.impl}: no daemon to ask`);
  }
  const svg = fs.readFileSync(`${base}/chart.svg`, 'utf8');
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.equal(svg.match(/<rect /g)?.length, impls.length, 'a bar per implementation');
  t.same(
    mounts().filter((m) => m.mountpoint.startsWith(`${base}/`)),
    [],
    'nothing left mounted',
  );
  t.same(fs.readdirSync(`${base}/root/tmp`), [], 'nor any run dir');
});

t.test('a workload that writes: upper bytes follow what it wrote, on each', async (t) => {
  const json = JSON.parse(
    ok('bench', '-n', '1', '--format', 'json', '--impl', 'overlayfs,strata', 'busybox', 'dd', 'if=/dev/zero', 'of=/tmp/x', 'bs=64k', 'count=16'),
  );
  t.same(
    json.rows.map((r: { impl: string; upperBytes: number; copiedUp: number }) => [r.impl, r.upperBytes, r.copiedUp]),
    [
      ['overlayfs', 1 << 20, 0],
      ['strata', 1 << 20, 0],
    ],
  );
});

t.test("run --trace and run -d --trace: the container's copy-ups, as JSON lines", async (t) => {
  const trace = `${base}/run.jsonl`;
  ok('run', '--rm', '--trace', trace, 'busybox', 'sh', '-c', 'chmod 700 /bin/busybox && rm /etc/os-release');
  const lines = fs
    .readFileSync(trace, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const ups = lines.filter((l) => l.event === 'copy-up' && !l.parent);
  t.same(
    ups.map((l) => [l.path, l.reason, l.bytes, l.comm]),
    [['/bin/busybox', 'metadata', busyboxSize, 'chmod']],
  );
  t.same(
    lines.filter((l) => l.event === 'whiteout').map((l) => [l.path, l.comm]),
    [['/etc/os-release', 'rm']],
  );
  const detached = `${base}/detached.jsonl`;
  const id = ok('run', '-d', '--trace', detached, 'busybox', 'sh', '-c', 'echo more >> /etc/passwd').trim();
  for (let i = 0; i < 100 && !/"\/etc\/passwd"/.test(fs.existsSync(detached) ? fs.readFileSync(detached, 'utf8') : ''); i++)
    await new Promise((r) => setTimeout(r, 100));
  t.match(fs.readFileSync(detached, 'utf8'), /"path":"\/etc\/passwd".*"reason":"write"/, "the supervisor's mount writes the trace");
  ok('rm', '-f', id);
});

t.test('--cold drops the page cache before each run', async (t) => {
  const out = ok('bench', '-n', '1', '--cold', '--impl', 'overlayfs', 'busybox', 'true');
  t.match(out, /\(median of 1 rounds, page cache dropped before each run\)/);
  t.match(out, /\noverlayfs +\S+ m?s +1\.00x +0B +0 /);
});

t.test('refusals', async (t) => {
  const r = strata('bench', '--impl', 'zfs', 'busybox', 'true');
  t.equal(r.status, 1);
  t.match(r.stderr, /zfs is not available here \(available: overlayfs/);
  t.match(strata('bench', '-n', '0', 'busybox', 'true').stderr, /-n 0: the number of rounds must be a whole number, at least 1/);
  t.match(strata('bench', 'nosuchimage', 'true').stderr, /no such image/);
});
