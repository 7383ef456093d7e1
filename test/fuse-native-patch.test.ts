// Each fix in patches/fuse-native+2.2.6.patch, proven through a real mount. Every assertion here
// fails on an unpatched fuse-native (noted per test).
import t from 'tap';
import fs from 'node:fs';
import { execFileSync, spawnSync, spawn } from 'node:child_process';
import { CLI, mountStrata, tmpdir, waitUntil, isMounted } from './helpers/mount.js';

function setup(t: Parameters<typeof tmpdir>[0]) {
  const d = tmpdir(t);
  fs.chmodSync(d, 0o755); // other users must reach the mount
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  fs.writeFileSync(`${d}/lower/file`, 'lower\n');
  fs.linkSync(`${d}/lower/file`, `${d}/lower/file.hl`);
  fs.mkdirSync(`${d}/lower/pub`, { mode: 0o777 });
  fs.chmodSync(`${d}/lower/pub`, 0o1777);
  fs.writeFileSync(`${d}/lower/rootfile`, 'root only\n', { mode: 0o644 });
  return { d, m: mountStrata(t, { lowers: [`${d}/lower`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt`, args: ['--transport', 'fuse-native'] }) };
}

t.test('utimens delivers mtime (unpatched: mtime is replaced by atime)', async (t) => {
  const { m } = setup(t);
  fs.utimesSync(`${m.mnt}/file`, new Date('2001-01-01T00:00:00Z'), new Date('2002-02-02T00:00:00Z'));
  const st = fs.statSync(`${m.mnt}/file`);
  t.equal(st.atime.toISOString(), '2001-01-01T00:00:00.000Z');
  t.equal(st.mtime.toISOString(), '2002-02-02T00:00:00.000Z');
});

t.test('single-timestamp updates reach the filesystem (unpatched: touch -m is silently dropped)', async (t) => {
  const { m } = setup(t);
  const before = fs.statSync(`${m.mnt}/file`);
  execFileSync('touch', ['-m', '-d', '1999-09-09 09:09:09', `${m.mnt}/file`]);
  const st = fs.statSync(`${m.mnt}/file`);
  t.equal(st.mtime.toISOString(), new Date('1999-09-09T09:09:09').toISOString(), 'mtime set');
  t.equal(st.atimeMs, before.atimeMs, 'atime untouched (UTIME_OMIT honoured)');
});

t.test('timestamps keep nanoseconds (unpatched: milliseconds)', async (t) => {
  const { m } = setup(t);
  execFileSync('touch', ['-m', '-d', '2020-01-01 00:00:00.123456789', `${m.mnt}/file`]);
  const out = execFileSync('stat', ['-c', '%y', `${m.mnt}/file`], { encoding: 'utf8' });
  t.match(out, /\.123456789/);
});

t.test('inode numbers are ours: hard links share one (unpatched, no use_ino: they differ)', async (t) => {
  const { m } = setup(t);
  const a = fs.statSync(`${m.mnt}/file`);
  const b = fs.statSync(`${m.mnt}/file.hl`);
  t.equal(a.ino, b.ino);
  t.equal(fs.statSync(m.mnt).ino, 1, 'root is inode 1');
  const before = a.ino;
  fs.chmodSync(`${m.mnt}/file`, 0o600); // copy-up
  t.equal(fs.statSync(`${m.mnt}/file`).ino, before, 'copy-up keeps the inode number');
});

t.test('unlink of an open file: no .fuse_hidden name anywhere, the fd reads and fstats on', async (t) => {
  const { d, m } = setup(t);
  fs.writeFileSync(`${m.mnt}/open`, 'still readable\n');
  const fd = fs.openSync(`${m.mnt}/open`, 'r');
  fs.unlinkSync(`${m.mnt}/open`);
  t.same(
    fs.readdirSync(m.mnt).filter((n) => n.startsWith('.fuse_hidden')),
    [],
    'no hidden file in the merged dir',
  );
  t.same(
    fs.readdirSync(`${d}/upper`).filter((n) => n.startsWith('.fuse')),
    [],
    'none in the upper dir',
  );
  t.equal(fs.readFileSync(fd, 'utf8'), 'still readable\n', 'the open file reads on');
  t.equal(fs.fstatSync(fd).size, 15, 'fstat of the unlinked file works');
  fs.closeSync(fd);
  // A lower file unlinked while open: whiteout at once, the open fd still reads the lower data.
  const fd2 = fs.openSync(`${m.mnt}/file`, 'r');
  fs.unlinkSync(`${m.mnt}/file`);
  t.notOk(fs.existsSync(`${m.mnt}/file`), 'gone from the merged view');
  t.equal(fs.readFileSync(fd2, 'utf8'), 'lower\n', 'open lower file reads on');
  t.equal(fs.fstatSync(fd2).size, 6);
  fs.closeSync(fd2);
  t.ok(fs.lstatSync(`${d}/upper/file`).isCharacterDevice(), 'a whiteout in the upper dir');
  t.same(
    fs.readdirSync(`${d}/upper`).filter((n) => n.startsWith('.fuse')),
    [],
    'no hidden file left behind',
  );
});

t.test('new files belong to the caller (unpatched: fuse-native gives no caller identity)', async (t) => {
  const { m } = setup(t);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `echo hi > ${m.mnt}/pub/mine && mkdir ${m.mnt}/pub/d`], {
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stderr);
  const st = fs.statSync(`${m.mnt}/pub/mine`);
  t.equal(st.uid, 65534);
  t.equal(st.gid, 65534);
  t.equal(fs.statSync(`${m.mnt}/pub/d`).uid, 65534);
});

t.test('permissions are checked like the kernel does (default_permissions, allow_other)', async (t) => {
  const { d, m } = setup(t);
  const asNobody = (cmd: string) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd], { encoding: 'utf8' });
  t.equal(asNobody(`cat ${m.mnt}/rootfile`).stdout, 'root only\n', 'a non-root user reads a root-owned 0644 file');
  const w = asNobody(`echo x >> ${m.mnt}/rootfile`);
  t.not(w.status, 0, 'but cannot write it');
  t.match(w.stderr, /Permission denied/);
  t.equal(fs.readFileSync(`${d}/lower/rootfile`, 'utf8'), 'root only\n', 'the lower file is untouched');
  t.notOk(fs.existsSync(`${d}/upper/rootfile`), 'and nothing was copied up');
});

t.test('writes arrive in 128 KiB requests (unpatched: 4 KiB, no big_writes)', async (t) => {
  const d = tmpdir(t);
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`);
  const log = fs.openSync(`${d}/debug.log`, 'w');
  const child = spawn(
    process.execPath,
    [CLI, 'mount', '-f', '--debug', '--transport', 'fuse-native', '--lower', `${d}/lower`, '--upper', `${d}/upper`, '--work', `${d}/work`, `${d}/mnt`],
    { stdio: ['ignore', log, log] },
  );
  t.teardown(() => {
    if (isMounted(`${d}/mnt`)) spawnSync('umount', ['-l', `${d}/mnt`]);
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (isMounted(`${d}/mnt`)) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
  });
  execFileSync('dd', ['if=/dev/zero', `of=${d}/mnt/big`, 'bs=1M', 'count=4', 'status=none']);
  spawnSync(process.execPath, [CLI, 'umount', `${d}/mnt`]);
  waitUntil(() => !isMounted(`${d}/mnt`));
  const text = fs.readFileSync(`${d}/debug.log`, 'utf8');
  const sizes = [...text.matchAll(/^write\[\d+\] (\d+) bytes to \d+ flags/gm)].map((x) => Number(x[1]));
  t.ok(sizes.length > 0, 'saw write requests');
  t.equal(Math.max(...sizes), 131072, 'largest write request is 128 KiB');
  t.ok(sizes.length <= 40, `4 MiB took ${sizes.length} requests`);
});
