// Copy-up you can see (issue 12): the union core's counters (requests by opcode, copy-ups by reason
// and method, whiteouts, redirects), `strata stats` reading them from a daemon's control socket,
// and `strata mount --trace` listing exactly the copy-ups a scripted workload causes. The counters
// are unit-tested on the union with no FUSE, then read through both transports.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { CLI, ROOT, mountKernel, mountStrata, tmpdir, waitUntil } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';
import { Union } from '../src/union/union.js';
import { MountStats, bucketLow, bucketOf, now, type TraceEvent } from '../src/union/stats.js';
import { controlSocket, realMountpoint } from '../src/fuse/control.js';

t.setTimeout(240_000);
const O = fs.constants;

/** A lower layer: d/{a,b,c} (5, 1000 and 70,000 bytes), e (4 bytes), f, and a dir dir2 with a file. */
function lowerLayer(dir: string): void {
  fs.mkdirSync(`${dir}/d`, { recursive: true });
  fs.writeFileSync(`${dir}/d/a`, 'hello');
  fs.writeFileSync(`${dir}/d/b`, Buffer.alloc(1000, 1));
  fs.writeFileSync(`${dir}/d/c`, Buffer.alloc(70_000, 2));
  fs.writeFileSync(`${dir}/e`, 'eeee');
  fs.writeFileSync(`${dir}/f`, 'f');
  fs.mkdirSync(`${dir}/dir2`);
  fs.writeFileSync(`${dir}/dir2/inside`, 'x');
}
const SIZES = 5 + 1000 + 70_000;

t.test('the latency histogram: exact below 16 µs, then buckets at most 1/8 of their value wide', async (t) => {
  for (let v = 0; v < 16; v++) t.equal(bucketOf(v + 0.5), v, `${v} µs has a bucket of its own`);
  let worst = 0;
  for (let v = 16; v < 2 ** 31; v = Math.ceil(v * 1.07)) {
    const b = bucketOf(v);
    if (!(bucketLow(b) <= v && v < bucketLow(b + 1))) t.fail(`${v} is outside its bucket [${bucketLow(b)}, ${bucketLow(b + 1)})`);
    worst = Math.max(worst, (bucketLow(b + 1) - bucketLow(b)) / v);
  }
  t.ok(worst <= 1 / 8, `no bucket wider than 1/8 of its values (${worst.toFixed(3)})`);
  t.equal(bucketOf(1e12), bucketOf(2 ** 31 - 1), 'anything longer lands in the last bucket');
  t.equal(bucketOf(-1), 0);
});

t.test('requests: count, mean, p99 and max per opcode; the table stays bounded', async (t) => {
  const s = new MountStats();
  for (let i = 0; i < 98; i++) s.request('LOOKUP', now() - 0.01); // ~10 µs
  for (let i = 0; i < 2; i++) s.request('LOOKUP', now() - 5); // ~5 ms
  s.request('READ', now() - 0.2);
  const r = s.snapshot().requests;
  t.equal(r.LOOKUP.count, 100);
  t.ok(r.LOOKUP.meanUs >= 109 && r.LOOKUP.meanUs < 130, `mean of 98 × 10 µs and 2 × 5 ms is ~110 µs (${r.LOOKUP.meanUs})`);
  t.ok(r.LOOKUP.p99Us >= 4400 && r.LOOKUP.p99Us <= r.LOOKUP.maxUs, `p99 is the 5 ms bucket (${r.LOOKUP.p99Us} µs)`);
  t.ok(r.LOOKUP.maxUs >= 5000 && r.LOOKUP.maxUs < 6000, `max (${r.LOOKUP.maxUs} µs)`);
  t.ok(r.READ.p99Us >= 200 && r.READ.p99Us <= r.READ.maxUs, 'one request: its p99 is itself');
  t.same(Object.keys(r), ['LOOKUP', 'READ'], 'busiest first');
  for (let i = 0; i < 500; i++) s.request(`OP${i}`, now());
  t.ok(Object.keys(s.snapshot().requests).length <= 97, 'unknown opcodes beyond 96 are lumped as OTHER');
  t.ok(s.snapshot().requests.OTHER.count > 400);
});

t.test('the union core counts copy-ups by reason and method, whiteouts, opaque dirs and redirects (no FUSE)', async (t) => {
  const d = tmpdir(t, 'strata-stats-union-');
  for (const x of ['l1', 'upper', 'work']) fs.mkdirSync(`${d}/${x}`);
  lowerLayer(`${d}/l1`);
  const u = new Union({ lowers: [`${d}/l1`], upper: `${d}/upper`, work: `${d}/work` });
  u.prepareWork();
  const events: TraceEvent[] = [];
  u.stats.onEvent = (e) => events.push(e);
  for (const f of ['/d/a', '/d/b', '/d/c']) u.chmod(f, 0o600);
  u.release(u.open('/e', O.O_WRONLY | O.O_APPEND));
  u.unlink('/f');
  u.rename('/dir2', '/dir3');
  u.release(u.open('/d/a', O.O_WRONLY | O.O_TRUNC)); // already up: no copy-up
  u.mkdir('/d/new', 0o755, { uid: 0, gid: 0 }); // in a merged dir: opaque
  const s = u.stats.snapshot();
  const r = s.copyUps.byReason;
  t.same([r.metadata.count, r.metadata.bytes], [3, SIZES], '3 metadata copy-ups, bytes equal to the files’ sizes');
  t.same([r.write.count, r.write.bytes], [1, 4], 'an append: 1 write copy-up of the 4-byte file');
  t.same([r['rename-dir'].count, r['rename-dir'].bytes], [1, 0], 'a lower dir renamed: 1 rename-dir copy-up, no data');
  t.same([r.parent.count, r.parent.bytes], [1, 0], 'the parent dir d, copied up for the first chmod');
  t.same([r.truncate.count, r.link.count, r['rename-file'].count], [0, 0, 0]);
  t.same([s.copyUps.count, s.copyUps.bytes], [6, SIZES + 4], 'the totals');
  const m = s.copyUps.byMethod;
  t.equal(m['metadata-only'].count, 2, 'the two dirs copied no data');
  t.equal(m.ficlone.count + m.copy_file_range.count + m['read-write'].count, 4, 'the four files, each by one method');
  t.equal(m.ficlone.bytes + m.copy_file_range.bytes + m['read-write'].bytes, SIZES + 4);
  t.same([s.whiteouts, s.redirects, s.opaqueDirs], [2, 1, 1], 'whiteouts at /f and /dir2, the redirect of /dir3, the opaque /d/new');
  t.same(
    events.map((e) => (e.event === 'copy-up' ? `${e.copy.path} ${e.copy.reason}${e.copy.parent ? ' (parent)' : ''} ${e.copy.bytes}` : `${e.event} ${e.path}`)),
    [
      '/d metadata (parent) 0',
      '/d/a metadata 5',
      '/d/b metadata 1000',
      '/d/c metadata 70000',
      '/e write 4',
      'whiteout /f',
      '/dir2 rename-dir 0',
      'redirect /dir3',
      'whiteout /dir2',
      'opaque /d/new',
    ],
    'every event, in order',
  );
  const first = (events[1] as Extract<TraceEvent, { event: 'copy-up' }>).copy;
  t.same(first.layer, { index: 0, dir: `${d}/l1` }, 'the layer it came from');
  t.ok(first.us > 0, 'with its duration');
  // O_TRUNC and truncate(2) count as truncate, with no data; link as link
  fs.writeFileSync(`${d}/l1/g`, 'gg');
  fs.writeFileSync(`${d}/l1/h`, 'hhh');
  const u2 = new Union({ lowers: [`${d}/l1`], upper: `${d}/upper2`, work: `${d}/work2` }, null);
  fs.mkdirSync(`${d}/upper2`);
  fs.mkdirSync(`${d}/work2`);
  u2.prepareWork();
  u2.release(u2.open('/g', O.O_WRONLY | O.O_TRUNC));
  u2.truncate('/h', 1);
  u2.link('/e', '/e2');
  const r2 = u2.stats.snapshot().copyUps.byReason;
  t.same([r2.truncate.count, r2.truncate.bytes, r2.link.count, r2.link.bytes], [2, 3, 1, 4], 'O_TRUNC copies no data; truncate to 1 copies the file first');
  t.end();
});

/** `strata ARGS` with this test's STRATA_ROOT. */
const cli = (root: string, ...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, STRATA_ROOT: root }, timeout: 20_000 });

/** The workload, as a user runs it: chmod of three lower files, an append, an rm, a dir renamed. */
function workload(mnt: string): void {
  execFileSync('chmod', ['600', `${mnt}/d/a`, `${mnt}/d/b`, `${mnt}/d/c`]);
  execFileSync('sh', ['-c', `echo x >> ${mnt}/e`]);
  execFileSync('rm', [`${mnt}/f`]);
  execFileSync('mv', [`${mnt}/dir2`, `${mnt}/dir3`]);
}

function mountWithTrace(t: Test, transport: string) {
  const d = tmpdir(t, 'strata-stats-');
  fs.chmodSync(d, 0o755); // so that another user could reach the run dir but for its own mode
  const root = `${d}/root`;
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chmodSync(root, 0o755);
  for (const x of ['l1', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  lowerLayer(`${d}/l1`);
  const trace = `${d}/trace.jsonl`;
  const m = mountStrata(t, {
    lowers: [`${d}/l1`],
    upper: `${d}/upper`,
    work: `${d}/work`,
    mnt: `${d}/mnt`,
    args: ['--transport', transport, '--trace', trace],
    env: { STRATA_ROOT: root },
  });
  return { d, root, trace, m, sock: path.join(root, 'run', path.basename(controlSocket(realMountpoint(m.mnt)))) };
}

for (const transport of ['kernel', 'fuse-native']) {
  t.test(`${transport} transport: strata stats and the trace give exactly the workload's copy-ups`, { timeout: 90_000 }, async (t) => {
    const { root, trace, m, sock } = mountWithTrace(t, transport);
    workload(m.mnt);
    const r = cli(root, 'stats', m.mnt, '--format', 'json');
    t.equal(r.status, 0, `strata stats exits 0 ${r.stderr}`);
    const s = JSON.parse(r.stdout);
    t.equal(s.mountpoint, realMountpoint(m.mnt));
    t.equal(s.settings.transport, transport);
    t.equal(s.settings.index, true);
    const by = s.copyUps.byReason;
    t.same([by.metadata.count, by.metadata.bytes], [3, SIZES], 'chmod of three lower files: 3 metadata copy-ups, bytes equal to their sizes');
    t.same([by.write.count, by.write.bytes], [1, 4], 'an append: 1 write copy-up');
    t.equal(by['rename-dir'].count, 1, 'a lower dir renamed: 1 rename-dir copy-up');
    t.equal(by.parent.count, 1, 'and the parent dir d');
    t.equal(s.copyUps.count, 6, 'nothing else was copied up');
    t.same([s.whiteouts, s.redirects, s.opaqueDirs], [2, 1, 0], 'rm: 1 whiteout; the rename: a redirect and a whiteout at the old name');
    t.equal(s.openHandles, 0);
    t.ok(s.lowers.indexHits > 0, 'lookups answered by the index');
    t.equal(s.lowers.probeFallbacks, 0);
    const setattr = transport === 'kernel' ? s.requests.SETATTR : s.requests.CHMOD;
    t.ok(setattr?.count >= 3 && setattr.meanUs > 0 && setattr.p99Us >= 0, 'requests by opcode, with latencies');
    t.equal(s.trace.file, trace);
    const human = cli(root, 'stats', m.mnt);
    t.match(human.stdout, /COPY-UP REASON +COUNT +BYTES +TIME\nwrite +1 +4B /, 'the human form: docker-like tables');
    t.match(human.stdout, /\nmetadata +3 +71kB /);
    t.match(human.stdout, /\nwhiteouts +2\n/);

    // the socket: root's, 0600 in a 0700 dir; another user is refused even where the dir would let it through
    const st = fs.statSync(sock);
    t.same([st.isSocket(), st.mode & 0o777, st.uid, fs.statSync(path.dirname(sock)).mode & 0o777], [true, 0o600, 0, 0o700]);
    const asNobody = () =>
      spawnSync(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          '-e',
          `require('net').connect(${JSON.stringify(sock)}).on('connect', () => (console.log('connected'), process.exit(0))).on('error', (e) => console.log(e.code))`,
        ],
        { encoding: 'utf8', timeout: 10_000 },
      ).stdout.trim();
    t.equal(asNobody(), 'EACCES', 'nobody cannot connect');
    fs.chmodSync(path.dirname(sock), 0o755);
    t.equal(asNobody(), 'EACCES', 'not even with the run dir opened up: the socket itself is 0600');
    fs.chmodSync(path.dirname(sock), 0o700);

    m.umount();
    waitUntil(() => !fs.existsSync(sock));
    t.pass('the socket goes away at unmount');
    const dirSize = fs.statSync(path.dirname(trace) + '/l1/d').size;
    const lines = fs
      .readFileSync(trace, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.same(
      lines.map((e) =>
        e.event === 'copy-up' ? `${e.path} ${e.reason}${e.parent ? ' (parent)' : ''} ${e.bytes}/${e.size} by ${e.comm}` : `${e.event} ${e.path} by ${e.comm}`,
      ),
      [
        `/d metadata (parent) 0/${dirSize} by chmod`,
        '/d/a metadata 5/5 by chmod',
        '/d/b metadata 1000/1000 by chmod',
        '/d/c metadata 70000/70000 by chmod',
        '/e write 4/4 by sh',
        'whiteout /f by rm',
        `/dir2 rename-dir 0/${dirSize} by mv`,
        'redirect /dir3 by mv',
        'whiteout /dir2 by mv',
      ],
      'the trace lists exactly those copy-ups and whiteouts, with who caused them, written out at unmount',
    );
    const c = lines[1];
    t.same(Object.keys(c), ['time', 'event', 'path', 'layer', 'size', 'bytes', 'method', 'reason', 'parent', 'us', 'pid', 'comm']);
    t.ok(!Number.isNaN(Date.parse(c.time)) && c.pid > 0 && Number.isInteger(c.us), 'an ISO time, the pid, the duration in µs');
    t.same(c.layer, { index: 0, dir: path.dirname(trace) + '/l1' });
    t.ok(['ficlone', 'copy_file_range', 'read-write'].includes(c.method));
    t.equal(lines[0].method, 'metadata-only');
  });
}

t.test('strata stats --watch prints a snapshot a second until interrupted', { timeout: 30_000 }, async (t) => {
  const { root, m } = mountWithTrace(t, 'kernel');
  const p = spawn(process.execPath, [CLI, 'stats', m.mnt, '--watch', '--format', 'json'], { env: { ...process.env, STRATA_ROOT: root } });
  let out = '';
  p.stdout.on('data', (b) => (out += b));
  const start = Date.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (out.split('\n').length > 2 || Date.now() - start > 10_000) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
  p.kill('SIGINT');
  const snaps = out
    .trimEnd()
    .split('\n')
    .slice(0, 2)
    .map((l) => JSON.parse(l));
  t.equal(snaps.length, 2, 'two snapshots, one JSON line each');
  t.ok(snaps[1].uptimeSec > snaps[0].uptimeSec, 'a second apart');
});

t.test('strata stats on what is not a strata mount: one sentence, exit 1', { timeout: 30_000 }, async (t) => {
  const d = tmpdir(t, 'strata-stats-not-');
  for (const x of ['l1', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  const one = (r: ReturnType<typeof cli>, re: RegExp, what: string) => {
    t.equal(r.status, 1, `${what}: exit 1`);
    t.match(r.stderr, new RegExp(`^strata: ${re.source}\\n$`), `${what}: one sentence`);
  };
  one(cli(d, 'stats', d), /\S+ is not a strata mount/, 'a plain dir');
  const k = mountKernel(t, { lowers: [`${d}/l1`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` });
  one(cli(d, 'stats', k.mnt), /\S+ is not a strata mount/, 'a kernel overlayfs mount');
  k.umount();
  one(cli(d, 'stats', 'nosuchcontainer'), /no such container: nosuchcontainer/, 'a name that is no container');
});

t.test('a container: strata stats while it runs, StrataStats in inspect; a stopped one gets one sentence', { timeout: 120_000 }, async (t) => {
  const base = tmpdir(t, 'strata-stats-ctr-');
  const root = `${base}/root`;
  const { ok, strata, cleanup } = storeCli(root);
  t.teardown(cleanup);
  execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [`${base}/busybox.tar`]);
  ok('import', `${base}/busybox.tar`, '--tag', 'bb');
  ok('create', '--name', 'idle', 'bb', 'true');
  const idle = strata('stats', 'idle');
  t.equal(idle.status, 1);
  t.equal(idle.stderr, 'strata: container idle is not running: its filesystem is not mounted\n', 'a stopped container: one sentence');
  t.notOk('StrataStats' in JSON.parse(ok('inspect', 'idle'))[0], 'no StrataStats while it does not run');
  ok('run', '-d', '--name', 'busy', 'bb', 'sh', '-c', 'chmod 700 /bin/busybox; sleep 60');
  type Counted = { copyUps: { byReason: Record<string, { count: number; bytes: number }> } } | null;
  const inspected = (): Counted => JSON.parse(ok('inspect', 'busy'))[0].StrataStats;
  waitUntil(() => (inspected()?.copyUps.byReason.metadata.count ?? 0) >= 1, 30_000);
  const stats = inspected()!;
  t.equal(
    stats.copyUps.byReason.metadata.bytes,
    fs.statSync('/bin/busybox').size,
    'inspect shows the chmod of /bin/busybox: a metadata copy-up of the whole binary',
  );
  const s = JSON.parse(ok('stats', 'busy', '--format', 'json'));
  t.equal(s.copyUps.byReason.metadata.count, stats.copyUps.byReason.metadata.count, 'strata stats NAME reads the same daemon');
  ok('rm', '-f', 'busy');
});
