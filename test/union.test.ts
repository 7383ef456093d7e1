// union/ on plain temp dirs, no FUSE: the overlay rules as functions.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Union, ROOT } from '../src/union/union.js';
import { FsError, toErrno, errnoName, E } from '../src/sys/errors.js';
import { native } from '../src/sys/native.js';
import { isOpaque, getRedirect } from '../src/sys/overlay-format.js';

process.umask(0);

function stack(t: { teardown(fn: () => void): void }) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-union-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  for (const x of ['l1', 'l2', 'upper', 'work']) fs.mkdirSync(`${d}/${x}`);
  fs.writeFileSync(`${d}/l2/a`, 'a from l2');
  fs.writeFileSync(`${d}/l1/a`, 'a from l1');
  fs.mkdirSync(`${d}/l2/dir/sub`, { recursive: true });
  fs.writeFileSync(`${d}/l2/dir/one`, '1');
  fs.writeFileSync(`${d}/l2/dir/sub/two`, '2');
  fs.mkdirSync(`${d}/l1/dir`);
  fs.writeFileSync(`${d}/l1/dir/three`, '3');
  fs.writeFileSync(`${d}/l2/meta`, 'meta', { mode: 0o640 });
  fs.chownSync(`${d}/l2/meta`, 1000, 1001);
  native.lsetxattr(`${d}/l2/meta`, 'user.k', Buffer.from('v'), 0);
  native.lutimens(`${d}/l2/meta`, 1000000000, 1, 1100000000, 123456789);
  const u = new Union({ lowers: [`${d}/l1`, `${d}/l2`], upper: `${d}/upper`, work: `${d}/work` });
  u.prepareWork();
  return { d, u };
}

const errno = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return errnoName(toErrno(e));
  }
  return 'ok';
};

t.test('lookup: topmost layer answers, dirs merge', async (t) => {
  const { u } = stack(t);
  const fh = u.open('/a', fs.constants.O_RDONLY);
  const buf = Buffer.alloc(64);
  t.equal(buf.toString('utf8', 0, u.read(fh, buf, 64, 0)), 'a from l1');
  u.release(fh);
  t.same(
    u
      .readdir('/dir')
      .map((e) => e.name)
      .sort(),
    ['one', 'sub', 'three'],
  );
  t.equal(u.getattr('/dir').nlink, 1, 'merged dirs report nlink 1, as overlayfs');
  t.equal(u.getattr('/').ino, 1);
  t.equal(
    errno(() => u.getattr('/nope')),
    'ENOENT',
  );
  t.equal(
    errno(() => u.getattr('/a/x')),
    'ENOTDIR',
  );
});

t.test('copy-up keeps data, mode, owner, times (ns), xattrs; parents first; work dir left empty', async (t) => {
  const { d, u } = stack(t);
  const before = u.getattr('/meta');
  u.chmod('/meta', 0o600);
  const st = fs.lstatSync(`${d}/upper/meta`, { bigint: true });
  t.equal(Number(st.mode & 0o7777n), 0o600);
  t.equal(Number(st.uid), 1000);
  t.equal(Number(st.gid), 1001);
  t.equal(st.mtimeNs, 1100000000123456789n, 'mtime to the nanosecond');
  t.equal(fs.readFileSync(`${d}/upper/meta`, 'utf8'), 'meta');
  t.equal((native.lgetxattr(`${d}/upper/meta`, 'user.k') as Buffer).toString(), 'v');
  t.equal(u.getattr('/meta').ino, before.ino, 'inode number survives copy-up');
  t.equal(fs.readFileSync(`${d}/l2/meta`, 'utf8'), 'meta', 'lower untouched');
  t.equal(fs.lstatSync(`${d}/l2/meta`).mode & 0o7777, 0o640, 'lower mode untouched');
  u.truncate('/dir/sub/two', 0);
  t.ok(fs.statSync(`${d}/upper/dir/sub`).isDirectory(), 'parents copied up');
  t.same(fs.readdirSync(`${d}/work/work`), [], 'nothing left in work/');
});

t.test('unlink and rmdir leave whiteouts; mkdir over one is opaque', async (t) => {
  const { d, u } = stack(t);
  u.unlink('/a');
  const wh = fs.lstatSync(`${d}/upper/a`);
  t.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0/0 char device');
  t.equal(
    errno(() => u.getattr('/a')),
    'ENOENT',
  );
  t.equal(
    errno(() => u.rmdir('/dir')),
    'ENOTEMPTY',
  );
  for (const n of ['one', 'three']) u.unlink('/dir/' + n);
  u.unlink('/dir/sub/two');
  u.rmdir('/dir/sub');
  u.rmdir('/dir');
  t.ok(fs.lstatSync(`${d}/upper/dir`).isCharacterDevice());
  u.mkdir('/dir', 0o755, ROOT);
  t.ok(isOpaque(`${d}/upper/dir`), 'opaque');
  t.same(u.readdir('/dir'), []);
  t.same(
    u
      .readdir('/')
      .map((e) => e.name)
      .sort(),
    ['dir', 'meta'],
  );
});

t.test('rename of a lower dir sets a redirect and keeps the merged contents', async (t) => {
  const { d, u } = stack(t);
  u.rename('/dir', '/moved');
  t.equal(getRedirect(`${d}/upper/moved`), '/dir');
  t.ok(fs.lstatSync(`${d}/upper/dir`).isCharacterDevice(), 'old name whited out');
  t.same(
    u
      .readdir('/moved')
      .map((e) => e.name)
      .sort(),
    ['one', 'sub', 'three'],
  );
  t.equal(u.getattr('/moved/sub/two').size, 1);
  u.mkdir('/x', 0o755, ROOT);
  u.rename('/moved/sub', '/x/sub');
  t.same(
    u.readdir('/x/sub').map((e) => e.name),
    ['two'],
  );
});

t.test('creation belongs to the caller; setgid dirs pass on their group', async (t) => {
  const { d, u } = stack(t);
  u.mkdir('/g', 0o2775, { uid: 0, gid: 777 });
  fs.chownSync(`${d}/upper/g`, 0, 777);
  fs.chmodSync(`${d}/upper/g`, 0o2775);
  u.resolver.invalidate();
  const fh = u.create('/g/f', 0o644, fs.constants.O_WRONLY, { uid: 1234, gid: 99 });
  u.release(fh);
  const st = fs.statSync(`${d}/upper/g/f`);
  t.equal(st.uid, 1234);
  t.equal(st.gid, 777, 'group from the setgid parent');
  u.mkdir('/g/sub', 0o755, { uid: 1234, gid: 99 });
  t.ok(fs.statSync(`${d}/upper/g/sub`).mode & 0o2000, 'setgid bit inherited by dirs');
});

t.test('the overlay xattrs are private', async (t) => {
  const { u } = stack(t);
  u.mkdir('/p', 0o755, ROOT);
  t.equal(
    errno(() => u.setxattr('/p', 'trusted.overlay.opaque', Buffer.from('y'), 0)),
    'EOPNOTSUPP',
  );
  t.equal(
    errno(() => u.getxattr('/p', 'trusted.overlay.opaque')),
    'EOPNOTSUPP',
  );
  t.notOk(u.listxattr('/dir').some((n) => n.startsWith('trusted.overlay.')));
  t.equal(u.getxattr('/meta', 'user.k')!.toString(), 'v');
  t.equal(u.getxattr('/meta', 'user.none'), null);
});

t.test('read-only stack: every change is EROFS', async (t) => {
  const { d } = stack(t);
  const ro = new Union({ lowers: [`${d}/l1`, `${d}/l2`] });
  for (const fn of [
    () => ro.unlink('/a'),
    () => ro.mkdir('/n', 0o755, ROOT),
    () => ro.chmod('/a', 0),
    () => ro.open('/a', fs.constants.O_RDWR),
    () => ro.rename('/a', '/b'),
  ]) {
    t.equal(errno(fn), 'EROFS');
  }
});

t.test('prepareWork discards what a killed daemon left half-done', async (t) => {
  const { d, u } = stack(t);
  fs.writeFileSync(`${d}/work/work/#leftover`, 'half a copy');
  u.prepareWork();
  t.same(fs.readdirSync(`${d}/work/work`), []);
});

t.test('errors are values', async (t) => {
  const e = new FsError(E.ENOENT);
  t.equal(e.code, 'ENOENT');
  t.equal(toErrno(e), E.ENOENT);
  t.equal(toErrno({ errno: -13 }), 13, "Node's negative errno");
  t.equal(toErrno(new Error('x')), E.EIO);
});
