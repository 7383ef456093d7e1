// `strata mount` / `strata umount` as users run them: bad mounts fail with one sentence and leave
// nothing mounted; the mount.fuse form works; read-only without an upper; busy unmounts say so.
import t from 'tap';
import fs from 'node:fs';
import { spawnSync, spawn, execFileSync } from 'node:child_process';
import { CLI, isMounted, mountStrata, tmpdir, waitUntil } from './helpers/mount.js';

const strata = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20000 });

function dirs(t: Parameters<typeof tmpdir>[0]) {
  const d = tmpdir(t);
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  fs.writeFileSync(`${d}/lower/hello`, 'hello\n');
  return d;
}

t.test('failed mounts: one clear sentence, non-zero exit, nothing mounted', async (t) => {
  const d = dirs(t);
  fs.mkdirSync(`${d}/other`);
  const cases: [string, string[], RegExp][] = [
    ['missing lower', ['--lower', `${d}/nope`], /lower dir .*nope does not exist/],
    ['upper without work', ['--lower', `${d}/lower`, '--upper', `${d}/upper`], /--upper and --work go together/],
    ['upper inside a lower', ['--lower', `${d}/lower`, '--upper', `${d}/lower/up`, '--work', `${d}/work`], /does not exist|overlap/],
    ['work inside upper', ['--lower', `${d}/lower`, '--upper', `${d}/upper`, '--work', `${d}/upper`], /must not be inside one another/],
    ['work on another filesystem', ['--lower', `${d}/lower`, '--upper', `${d}/upper`, '--work', '/dev/shm'], /different filesystems/],
    ['mountpoint missing', ['--lower', `${d}/lower`], /mountpoint .* does not exist/],
  ];
  fs.mkdirSync(`${d}/lower/up`);
  for (const [what, args, msg] of cases) {
    const mnt = what === 'mountpoint missing' ? `${d}/nomnt` : `${d}/mnt`;
    const r = strata('mount', ...args, mnt);
    t.not(r.status, 0, `${what}: exit code`);
    t.match(r.stderr, msg, `${what}: message`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.notOk(isMounted(mnt), `${what}: nothing mounted`);
  }
});

t.test('mountpoint busy: refuses to stack a second mount', async (t) => {
  const d = dirs(t);
  mountStrata(t, { lowers: [`${d}/lower`], mnt: `${d}/mnt` });
  const r = strata('mount', '--lower', `${d}/lower`, `${d}/mnt`);
  t.not(r.status, 0);
  t.match(r.stderr, /busy/);
});

t.test('without an upper dir the mount is read-only (EROFS)', async (t) => {
  const d = dirs(t);
  const m = mountStrata(t, { lowers: [`${d}/lower`], mnt: `${d}/mnt` });
  t.equal(fs.readFileSync(`${m.mnt}/hello`, 'utf8'), 'hello\n');
  t.throws(() => fs.writeFileSync(`${m.mnt}/new`, 'x'), { code: 'EROFS' });
  t.throws(() => fs.unlinkSync(`${m.mnt}/hello`), { code: 'EROFS' });
  m.umount();
  t.notOk(isMounted(m.mnt));
});

t.test('mount -t fuse.strata (the mount.fuse form) and fstab-style options', async (t) => {
  const d = dirs(t);
  const r = spawnSync('mount', ['-t', 'fuse.strata', 'strata', `${d}/mnt`, '-o', `lowerdir=${d}/lower,upperdir=${d}/upper,workdir=${d}/work`], {
    encoding: 'utf8',
  });
  t.teardown(() => spawnSync('umount', ['-l', `${d}/mnt`]));
  t.equal(r.status, 0, r.stderr);
  t.ok(isMounted(`${d}/mnt`));
  fs.writeFileSync(`${d}/mnt/new`, 'via mount(8)\n');
  t.equal(fs.readFileSync(`${d}/upper/new`, 'utf8'), 'via mount(8)\n');
  t.equal(strata('umount', `${d}/mnt`).status, 0);
  waitUntil(() => !isMounted(`${d}/mnt`));
});

t.test('strata SOURCE MOUNTPOINT -o ... is accepted directly', async (t) => {
  const d = dirs(t);
  const r = strata('strata', `${d}/mnt`, '-o', `lowerdir=${d}/lower,ro`);
  t.teardown(() => spawnSync('umount', ['-l', `${d}/mnt`]));
  t.equal(r.status, 0, r.stderr);
  t.equal(fs.readFileSync(`${d}/mnt/hello`, 'utf8'), 'hello\n');
  t.throws(() => fs.writeFileSync(`${d}/mnt/x`, 'x'), { code: 'EROFS' });
  strata('umount', `${d}/mnt`);
});

t.test('unmounting a busy mount says so; --lazy detaches; the daemon exits after', async (t) => {
  const d = dirs(t);
  const m = mountStrata(t, { lowers: [`${d}/lower`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` });
  const holder = spawn('sh', ['-c', 'exec sleep 30'], { cwd: m.mnt, stdio: 'ignore' });
  t.teardown(() => holder.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 200));
  const r = strata('umount', m.mnt);
  t.equal(r.status, 1);
  t.match(r.stderr, /is busy/);
  t.ok(isMounted(m.mnt), 'still mounted');
  holder.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(strata('umount', m.mnt).status, 0);
  waitUntil(() => !isMounted(m.mnt));
  const daemons = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`main.js mount ${m.mnt}`));
  waitUntil(() => !execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(`main.js mount ${m.mnt} `), 5000);
  t.ok(daemons.length <= 1, 'one daemon served it, and it exits once unmounted');
});

t.test('SIGTERM to the daemon unmounts cleanly', async (t) => {
  const d = dirs(t);
  const child = spawn(process.execPath, [CLI, 'mount', '-f', '--lower', `${d}/lower`, '--upper', `${d}/upper`, '--work', `${d}/work`, `${d}/mnt`], {
    stdio: 'ignore',
  });
  t.teardown(() => child.kill('SIGKILL'));
  waitUntil(() => isMounted(`${d}/mnt`));
  fs.writeFileSync(`${d}/mnt/x`, 'x');
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit code 0');
  t.notOk(isMounted(`${d}/mnt`), 'nothing left mounted');
  t.equal(fs.readFileSync(`${d}/upper/x`, 'utf8'), 'x');
});

t.test('a killed daemon: umount --force frees the mountpoint', async (t) => {
  const d = dirs(t);
  const child = spawn(process.execPath, [CLI, 'mount', '-f', '--lower', `${d}/lower`, `${d}/mnt`], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  waitUntil(() => isMounted(`${d}/mnt`));
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  const r = strata('umount', '--force', `${d}/mnt`);
  t.equal(r.status, 0, r.stderr);
  t.notOk(isMounted(`${d}/mnt`));
});

t.test('the path index cannot be written (a full disk): the mount goes ahead by probing, and says so', async (t) => {
  const d = dirs(t);
  for (let i = 0; i < 300; i++) fs.writeFileSync(`${d}/lower/file-with-a-long-name-${i}`, 'x');
  const full = `${d}/fullroot`;
  fs.mkdirSync(full);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', full]);
  t.teardown(() => spawnSync('umount', ['-l', full]));
  const m = mountStrata(t, {
    lowers: [`${d}/lower`],
    upper: `${d}/upper`,
    work: `${d}/work`,
    mnt: `${d}/mnt`,
    env: { STRATA_ROOT: full },
    allowWarnings: true,
  });
  t.match(
    m.stderr,
    /^strata: mounting without the path index: only \d+ KiB free in .*fullroot\/index; the path index wants 64 MiB\n$/,
    'one warning line with the reason',
  );
  t.notOk(
    fs.readdirSync(full).some((n) => n.startsWith('index.damaged')),
    'a full disk is not mistaken for a damaged index',
  );
  t.equal(fs.readdirSync(`${d}/mnt`).length, 301, 'and the merged view is whole');
  t.equal(fs.readFileSync(`${d}/mnt/hello`, 'utf8'), 'hello\n', 'and reads work');
  m.umount();
});
