// tag, rmi and prune at the same time as commits, as separate strata processes on one store: no
// tag a command reported is lost (unless a later command removed it), and no layer an image uses
// is removed (every image's layers keep their dir and record; system check finds nothing).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { CLI, ROOT, tmpdir } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';
import { native, LOCK_EX } from '../src/sys/native.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-concurrency-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
const root = `${base}/root`;
const s = storeCli(root);
t.teardown(s.cleanup);

type Result = { args: string[]; code: number | null; out: string; err: string };
const runAll = (argvs: string[][]) =>
  Promise.all(
    argvs.map(
      (args) =>
        new Promise<Result>((resolve) => {
          const p = spawn(process.execPath, [CLI, ...args], { env: s.env });
          let out = '';
          let err = '';
          p.stdout.on('data', (d) => (out += d));
          p.stderr.on('data', (d) => (err += d));
          p.on('close', (code) => resolve({ args, code, out, err }));
        }),
    ),
  );

t.test('tag, rmi and prune beside commits', async (t) => {
  s.ok('import', rootfs, '--tag', 'base');
  s.ok('create', '--name', 'src', 'base', 'true');
  fs.writeFileSync(`${s.upperOf('src')}/file`, 'x'.repeat(1 << 20));
  // An image with the layer the commits will make, named only by tags that rmi removes while a tag is added to it by ID.
  const doomed = s.ok('commit', 'src', 'doomed:1').trim();
  s.ok('tag', doomed, 'doomed:2');
  // Dangling images for prune, sharing the base layer the commits build on.
  for (let i = 0; i < 2; i++) s.ok('import', rootfs);
  const start = Date.now();
  const results = await runAll([
    ['commit', 'src', 'c:1'],
    ['commit', 'src', 'c:2'],
    ['commit', 'src', 'c:3'],
    ['rmi', 'doomed:1'],
    ['rmi', 'doomed:2'],
    ['tag', doomed, 'keep:1'],
    ['tag', 'base', 't:1'],
    ['tag', 'base', 't:2'],
    ['image', 'prune', '-f'],
    ['image', 'prune', '-f'],
    ['tag', 'base', 't:3'],
    ['commit', 'src', 'c:4'],
    // commands that only open the store and read: an open beside a commit could lose it (see below)
    ['images', '-q'],
    ['images', '-q'],
  ]);
  t.ok(Date.now() - start < 40_000, `done in ${Date.now() - start} ms`);
  for (const r of results) {
    // Only `tag doomed keep:1` may fail: when both rmis ran first, the image is gone.
    if (r.args[0] === 'tag' && r.args[1] === doomed && r.code !== 0) t.match(r.err, /no such image/, 'a tag of an image removed just before: refused');
    else t.equal(r.code, 0, `strata ${r.args.join(' ')}: exit 0 ${r.err.trim()}`);
  }
  const tags = new Map<string, string>(
    JSON.parse(s.ok('images', '-a', '--format', 'json')).map((i: { repo: string; tag: string; id: string }) => [`${i.repo}:${i.tag}`, i.id]),
  );
  for (const r of results.filter((r) => r.code === 0 && (r.args[0] === 'tag' || r.args[0] === 'commit'))) {
    const ref = r.args[2].includes(':') ? r.args[2] : `${r.args[2]}:latest`;
    t.ok(tags.has(ref), `${ref}, reported made, exists`);
  }
  const deleted = results.flatMap((r) => [...r.out.matchAll(/^(?:Deleted|deleted): (sha256:[a-f0-9]{64})$/gm)].map((m) => m[1]));
  t.equal(tags.has('keep:1'), !deleted.includes(doomed), 'keep:1 exists exactly when the image it names was not deleted');
  t.notOk(tags.has('doomed:1') || tags.has('doomed:2'), 'the removed tags are gone');
  for (const info of JSON.parse(s.ok('inspect', ...new Set(tags.values())))) {
    for (const d of info.RootFS.Layers as string[])
      t.ok(fs.existsSync(`${root}/layers/${d.slice(7)}`), `image ${info.Id.slice(7, 19)}: layer ${d.slice(7, 19)} has its dir`);
  }
  const check = s.strata('system', 'check', '--no-repair');
  t.equal(check.status, 0, `system check: ${check.stdout.trim()} ${check.stderr.trim()}`);
});

// Opening the LMDB environment sets its shared txnid to the meta page it read, outside LMDB's
// writer mutex (lmdb-js's mdb_env_open2): a commit made in that moment was built over by the next
// writer, and lost (a tag reported made, gone: about 1 run in 12 of the test above on a busy 2-core
// machine). So a command opens the store holding the store lock, under which every write is made:
// here, one that then only reads (history takes no lock of its own) waits while the lock is held.
t.test('opening the store waits for the store lock', async (t) => {
  const fd = fs.openSync(`${root}/lock`, 'a');
  t.equal(native.flock(fd, LOCK_EX), 0, 'the store lock, held here');
  let done = false;
  const run = runAll([['history', 'base']]).then((r) => ((done = true), r[0]));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.notOk(done, 'strata history has not opened the store while the lock is held');
  fs.closeSync(fd);
  const r = await run;
  t.equal(r.code, 0, `then it runs: ${r.err.trim()}`);
});
