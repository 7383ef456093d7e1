// Faults: a daemon killed in the middle of a copy-up, a full upper filesystem, concurrent
// writers and readers compared with kernel overlayfs.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { CLI, isMounted, mountKernel, mountStrata, tmpdir, waitUntil, forceUnmountUnder } from './helpers/mount.js';
import { snapshot } from './helpers/tree.js';

const sha = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');

t.test('SIGKILL during a copy-up: after remount the file is whole, old or new; work/ is cleaned', async (t) => {
  const d = tmpdir(t);
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  execFileSync('sh', ['-c', `head -c 268435456 /dev/urandom > ${d}/lower/big`]);
  const lowerSha = sha(`${d}/lower/big`);
  const daemon = spawn(process.execPath, [CLI, 'mount', '-f', '--lower', `${d}/lower`, '--upper', `${d}/upper`, '--work', `${d}/work`, `${d}/mnt`], {
    stdio: 'ignore',
  });
  const daemonExit = new Promise((r) => daemon.on('exit', r));
  t.teardown(() => daemon.kill('SIGKILL'));
  waitUntil(() => isMounted(`${d}/mnt`));
  // The append copies 256 MiB up first; kill the daemon while that is under way.
  const writer = spawn('sh', ['-c', `echo tail >> ${d}/mnt/big`], { stdio: 'ignore' });
  const writerExit = new Promise((r) => writer.on('exit', r)); // listen now: it may exit any time
  await new Promise((r) => setTimeout(r, 150));
  const midCopy = fs.readdirSync(`${d}/work/work`).length > 0;
  daemon.kill('SIGKILL');
  await daemonExit;
  forceUnmountUnder(`${d}/mnt`); // aborts the dead connection, freeing the writer
  await writerExit;
  t.comment(midCopy ? 'killed with a copy-up in work/' : 'copy-up had already finished when killed');
  t.equal(fs.readFileSync(`${d}/lower/big`).length, 268435456, 'lower file untouched (size)');
  t.equal(sha(`${d}/lower/big`), lowerSha, 'lower file untouched (content)');
  const m = mountStrata(t, { lowers: [`${d}/lower`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` });
  t.same(fs.readdirSync(`${d}/work/work`), [], 'work/ leftovers cleaned at mount');
  const now = fs.readFileSync(`${m.mnt}/big`);
  const whole =
    now.length === 268435456
      ? sha(`${m.mnt}/big`) === lowerSha
      : now.length === 268435456 + 5 &&
        crypto.createHash('sha256').update(now.subarray(0, 268435456)).digest('hex') === lowerSha &&
        now.subarray(-5).toString() === 'tail\n';
  t.ok(whole, `file is whole: ${now.length} bytes`);
  m.umount();
});

t.test('a full upper filesystem: ENOSPC to the writer, lower untouched, nothing half-copied', async (t) => {
  const d = tmpdir(t);
  for (const x of ['lower', 'small', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', `${d}/small`]);
  t.teardown(() => spawnSync('umount', ['-l', `${d}/small`]));
  fs.mkdirSync(`${d}/small/upper`);
  fs.mkdirSync(`${d}/small/work`);
  execFileSync('sh', ['-c', `head -c 16777216 /dev/urandom > ${d}/lower/big`]);
  const lowerSha = sha(`${d}/lower/big`);
  const m = mountStrata(t, { lowers: [`${d}/lower`], upper: `${d}/small/upper`, work: `${d}/small/work`, mnt: `${d}/mnt` });
  t.throws(() => fs.appendFileSync(`${m.mnt}/big`, 'x'), { code: 'ENOSPC' });
  t.equal(sha(`${d}/lower/big`), lowerSha, 'lower untouched');
  t.notOk(fs.existsSync(`${d}/small/upper/big`), 'no partial copy in the upper dir');
  t.same(fs.readdirSync(`${d}/small/work/work`), [], 'no leftovers in work/');
  t.equal(sha(`${m.mnt}/big`), lowerSha, 'the merged view still shows the lower file');
  fs.writeFileSync(`${m.mnt}/small`, 'still usable\n');
  t.equal(fs.readFileSync(`${m.mnt}/small`, 'utf8'), 'still usable\n', 'small writes still work');
  m.umount();
});

t.test('8 concurrent writers and readers give the same result as kernel overlayfs', async (t) => {
  const base = tmpdir(t);
  const mk = (name: string) => {
    const d = `${base}/${name}`;
    for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
    for (let i = 0; i < 8; i++) fs.writeFileSync(`${d}/lower/f${i}`, Buffer.alloc(1 << 20, i));
    fs.writeFileSync(`${d}/lower/shared`, Buffer.alloc(8 << 20, 0x2e));
    execFileSync('touch', ['-d', '2020-01-01', ...fs.readdirSync(`${d}/lower`).map((n) => `${d}/lower/${n}`)]);
    return { lowers: [`${d}/lower`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` };
  };
  const k = mountKernel(t, mk('kernel'));
  const s = mountStrata(t, mk('strata'));
  // Each worker: rewrites its own file, writes its own 1 MiB region of the shared file, reads both.
  const script = (root: string, i: number) =>
    `dd if=/dev/urandom of=/dev/null bs=1 count=0 status=none; ` +
    `yes ${i} | head -c 1048576 | dd of=${root}/f${i} conv=notrunc status=none && ` +
    `yes w${i} | head -c 1048576 | dd of=${root}/shared bs=1048576 seek=${i} conv=notrunc status=none && ` +
    `cat ${root}/shared ${root}/f${(i + 1) % 8} > /dev/null`;
  const run = (root: string) =>
    Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => new Promise<number | null>((resolve) => spawn('sh', ['-c', script(root, i)], { stdio: 'ignore' }).on('exit', resolve)),
      ),
    );
  t.same(await run(k.mnt), Array(8).fill(0), 'kernel: all workers succeed');
  t.same(await run(s.mnt), Array(8).fill(0), 'strata: all workers succeed');
  const since = Date.now() - 60000;
  t.same(snapshot(s.mnt, { since }), snapshot(k.mnt, { since }), 'identical merged trees');
});
