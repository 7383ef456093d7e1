// native-bindings: each syscall wrapper against a temp dir, including its error values.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT, UTIME_OMIT } from '../src/sys/native.js';

const dir = (t: { teardown(fn: () => void): void }) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-native-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test('xattrs: set, get, list, remove, and their errors', async (t) => {
  const d = dir(t);
  fs.writeFileSync(`${d}/f`, '');
  t.equal(native.lsetxattr(`${d}/f`, 'user.a', Buffer.from('1'), 0), 0);
  t.equal(native.lsetxattr(`${d}/f`, 'trusted.overlay.opaque', Buffer.from('y'), 0), 0);
  t.equal((native.lgetxattr(`${d}/f`, 'user.a') as Buffer).toString(), '1');
  t.same((native.llistxattr(`${d}/f`) as string[]).sort(), ['trusted.overlay.opaque', 'user.a']);
  t.equal(native.lgetxattr(`${d}/f`, 'user.none'), -61, 'ENODATA as a negative errno');
  t.equal(native.lsetxattr(`${d}/f`, 'user.a', Buffer.from('2'), 1), -17, 'XATTR_CREATE on an existing name: EEXIST');
  t.equal(native.lremovexattr(`${d}/f`, 'user.a'), 0);
  t.equal(native.lgetxattr(`${d}/missing`, 'user.a'), -2, 'ENOENT');
  fs.symlinkSync('f', `${d}/l`);
  t.same(native.llistxattr(`${d}/l`), [], 'l-variants do not follow symlinks');
});

t.test('mknod: whiteouts, FIFOs, devices; makedev/major/minor', async (t) => {
  const d = dir(t);
  t.equal(native.mknod(`${d}/wh`, 0o020000, 0), 0);
  const st = fs.lstatSync(`${d}/wh`);
  t.ok(st.isCharacterDevice());
  t.equal(st.rdev, 0);
  const dev = native.makedev(8, 17);
  t.equal(native.major(dev), 8);
  t.equal(native.minor(dev), 17);
  t.equal(native.mknod(`${d}/blk`, 0o060600, dev), 0);
  t.equal(fs.lstatSync(`${d}/blk`).rdev, dev);
  t.equal(native.mknod(`${d}/fifo`, 0o010644, 0), 0);
  t.ok(fs.lstatSync(`${d}/fifo`).isFIFO());
  t.equal(native.mknod(`${d}/fifo`, 0o010644, 0), -17, 'EEXIST');
});

t.test('renameat2: NOREPLACE, EXCHANGE, WHITEOUT', async (t) => {
  const d = dir(t);
  fs.writeFileSync(`${d}/a`, 'a');
  fs.writeFileSync(`${d}/b`, 'b');
  t.equal(native.renameat2(`${d}/a`, `${d}/b`, RENAME_NOREPLACE), -17);
  t.equal(native.renameat2(`${d}/a`, `${d}/b`, RENAME_EXCHANGE), 0);
  t.equal(fs.readFileSync(`${d}/a`, 'utf8'), 'b');
  t.equal(native.renameat2(`${d}/a`, `${d}/c`, RENAME_WHITEOUT), 0);
  const wh = fs.lstatSync(`${d}/a`);
  t.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a whiteout is left at the old name');
  t.equal(fs.readFileSync(`${d}/c`, 'utf8'), 'b');
});

t.test('data copy: FICLONE (or its refusal) and copy_file_range', async (t) => {
  const d = dir(t);
  fs.writeFileSync(`${d}/src`, Buffer.alloc(100000, 9));
  const s = fs.openSync(`${d}/src`, 'r');
  const c = fs.openSync(`${d}/clone`, 'w');
  const r = native.ficlone(c, s);
  t.ok(r === 0 || [-95, -18, -22, -25].includes(r), `FICLONE: 0 or a clear refusal (got ${r})`);
  const dst = fs.openSync(`${d}/dst`, 'w');
  let off = 0;
  while (off < 100000) {
    const n = native.copyFileRange(s, off, dst, off, 100000 - off);
    t.ok(n > 0);
    off += n;
  }
  fs.closeSync(s);
  fs.closeSync(c);
  fs.closeSync(dst);
  t.same(fs.readFileSync(`${d}/dst`), fs.readFileSync(`${d}/src`));
  t.equal(native.copyFileRange(9999, 0, 9998, 0, 1), -9, 'EBADF');
});

t.test('times with nanoseconds; UTIME_OMIT; lstat/fstat into a Float64Array', async (t) => {
  const d = dir(t);
  fs.writeFileSync(`${d}/f`, 'x');
  t.equal(native.lutimens(`${d}/f`, 1000, 111, 2000, 222222222), 0);
  t.equal(native.lutimens(`${d}/f`, 5, UTIME_OMIT, 3000, 333), 0);
  const out = new Float64Array(16);
  t.equal(native.lstat(`${d}/f`, out), 0);
  t.same([out[10], out[11], out[12], out[13]], [1000, 111, 3000, 333], 'atime kept by UTIME_OMIT, mtime set to the ns');
  t.equal(out[7], 1, 'size');
  const fd = fs.openSync(`${d}/f`, 'r');
  t.equal(native.fstat(fd, out), 0);
  t.equal(out[1], fs.statSync(`${d}/f`).ino);
  fs.closeSync(fd);
  t.equal(native.lstat(`${d}/nope`, out), -2);
  t.equal(native.lstat(`${d}/f`, new Float64Array(2)), -22, 'a too-small array is EINVAL, not a crash');
  t.equal(native.lstat('x'.repeat(5000), out), -36, 'ENAMETOOLONG');
  const vfs = new Float64Array(11);
  t.equal(native.statvfs(d, vfs), 0);
  t.ok(vfs[0] > 0 && vfs[10] >= 255);
  t.equal(native.umount2(d, 0), -22, 'umount2 of a non-mountpoint: EINVAL');
  t.equal(native.link(`${d}/f`, `${d}/f2`), 0);
  t.equal(fs.statSync(`${d}/f`).nlink, 2);
});

t.test('copyUpFile: one call, relative to layer-root fds, builds the copy, renames it into place and restores the parent', async (t) => {
  const d = dir(t);
  for (const x of ['lower', 'upper', 'work']) fs.mkdirSync(`${d}/${x}`);
  fs.writeFileSync(`${d}/lower/f`, 'data');
  fs.chmodSync(`${d}/lower/f`, 0o4751);
  t.equal(native.lsetxattr(`${d}/lower/f`, 'user.k', Buffer.from('v'), 0), 0);
  t.equal(native.lsetxattr(`${d}/lower/f`, 'trusted.overlay.origin', Buffer.from('x'), 0), 0);
  const many = Array.from({ length: 40 }, (_, i) => `user.name-${i}`);
  for (const n of many) t.equal(native.lsetxattr(`${d}/lower/f`, n, Buffer.from(n), 0), 0);
  t.equal(native.lutimens(`${d}/upper`, 10, 1, 20, 2), 0);
  const out = new Float64Array(16);
  const at = (p: string) => native.open(p, 0o10000000 | 0o200000, 0); // O_PATH | O_DIRECTORY
  const [lower, work, upper] = [at(`${d}/lower`), at(`${d}/work`), at(`${d}/upper`)];
  t.teardown(() => [lower, work, upper].forEach((fd) => native.close(fd)));
  const r = native.copyUpFile(lower, 'f', work, '#t', upper, 'f', '', 4, 0o104751, 1234, 5678, 100, 7, 200, 9, 3, out);
  t.equal(r, 0);
  const st = fs.lstatSync(`${d}/upper/f`, { bigint: true });
  t.equal(fs.readFileSync(`${d}/upper/f`, 'utf8'), 'data');
  t.equal(Number(st.mode & 0o7777n), 0o4751, 'setuid kept: the mode is set after the owner');
  t.same([Number(st.uid), Number(st.gid)], [1234, 5678]);
  t.equal(st.mtimeNs, 200000000009n, 'mtime to the nanosecond');
  t.equal(st.atimeNs, 100000000007n);
  t.equal(out[1], Number(st.ino), 'the new file is what `out` describes');
  t.equal(out[7], 4);
  t.equal((native.lgetxattr(`${d}/upper/f`, 'user.k') as Buffer).toString(), 'v');
  t.same(
    many.map((n) => (native.lgetxattr(`${d}/upper/f`, n) as Buffer).toString()),
    many,
    'every one of many xattrs',
  );
  t.equal(native.lgetxattr(`${d}/upper/f`, 'trusted.overlay.origin'), -61, "the overlay's own xattrs stay behind");
  const p = fs.lstatSync(`${d}/upper`, { bigint: true });
  t.same([p.atimeNs, p.mtimeNs], [10000000001n, 20000000002n], "the parent's times are restored");
  t.same(fs.readdirSync(`${d}/work`), [], 'nothing left in the work dir');

  t.equal(native.copyUpFile(lower, 'f', work, '#e', upper, 'f', '', 0, 0o100644, 0, 0, 0, 0, 0, 0, 0, out), 0, 'size 0: no data');
  t.equal(fs.readFileSync(`${d}/upper/f`, 'utf8'), '', 'an existing name is replaced, as rename does');
  const bad = native.copyUpFile(lower, 'f', work, '#b', upper, 'nodir/f', '', 4, 0o100644, 0, 0, 0, 0, 0, 0, 0, out);
  t.equal(bad, -2, 'a failed rename: ENOENT');
  t.same(fs.readdirSync(`${d}/work`), [], 'and its temp file is removed');
  t.equal(native.copyUpFile(lower, 'nope', work, '#n', upper, 'n', '', 4, 0o100644, 0, 0, 0, 0, 0, 0, 0, out), -2, 'a missing source');
  t.same(fs.readdirSync(`${d}/work`), []);
  t.equal(
    native.copyUpFile(lower, 'f', work, '#l', upper, 'l', '', 1 << 20, 0o100644, 0, 0, 0, 0, 0, 0, 0, out),
    -22,
    'more than 64 KiB: EINVAL (the general path copies those)',
  );
  t.equal(native.copyUpFile(lower, 'f', work, '#s', upper, 's', '', 4, 0o100644, 0, 0, 0, 0, 0, 0, 0, new Float64Array(2)), -22, 'a too-small array is EINVAL');
});

t.test('open and close: an fd or a negative errno', async (t) => {
  const d = dir(t);
  const fd = native.open(`${d}/new`, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
  t.ok(fd > 2);
  t.equal(fs.fstatSync(fd).mode & 0o777, 0o640 & ~process.umask());
  t.equal(native.close(fd), 0);
  t.equal(native.close(fd), -9, 'EBADF');
  t.equal(native.open(`${d}/new`, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640), -17, 'EEXIST');
  t.equal(native.open(`${d}/none/x`, fs.constants.O_RDONLY, 0), -2, 'ENOENT');
});

const AT_FDCWD = -100;

t.test('setattrAt and setattrFd: owner, mode and times, each only when asked, and the stat after', async (t) => {
  const d = dir(t);
  fs.writeFileSync(`${d}/f`, 'x');
  fs.chownSync(`${d}/f`, 5, 6);
  fs.chmodSync(`${d}/f`, 0o4755);
  const out = new Float64Array(16);
  t.equal(native.setattrAt(AT_FDCWD, `${d}/f`, -1, -1, -1, 0, UTIME_OMIT, 0, UTIME_OMIT, out), 0, 'nothing asked');
  t.same([out[4], out[5], out[2] & 0o7777], [5, 6, 0o4755], 'nothing changed, and the stat says so');
  t.equal(native.setattrAt(AT_FDCWD, `${d}/f`, 7, -1, 0o4711, 0, UTIME_OMIT, 1234, 5, out), 0);
  t.same([out[4], out[5], out[2] & 0o7777, out[12], out[13]], [7, 6, 0o4711, 1234, 5], 'uid, mode (after the chown) and mtime; gid and atime left');
  const fd = fs.openSync(`${d}/f`, 'r');
  t.teardown(() => fs.closeSync(fd));
  t.equal(native.setattrFd(fd, -1, 9, 0o640, 77, 8, 0, UTIME_OMIT, out), 0);
  const st = fs.statSync(`${d}/f`, { bigint: true });
  t.same([Number(st.uid), Number(st.gid), Number(st.mode & 0o7777n), st.atimeNs, st.mtimeNs], [7, 9, 0o640, 77000000008n, 1234000000005n], 'through the fd');
  t.equal(out[5], 9);
  t.equal(native.setattrAt(AT_FDCWD, `${d}/nope`, 1, 1, -1, 0, UTIME_OMIT, 0, UTIME_OMIT, out), -2, 'ENOENT');
  // Relative to a dir's O_PATH fd, as the union calls it; a symlink is changed itself, not followed.
  fs.symlinkSync('f', `${d}/l`);
  const at = native.open(d, 0o10000000 | 0o200000, 0); // O_PATH | O_DIRECTORY
  t.teardown(() => native.close(at));
  t.equal(native.setattrAt(at, 'l', 21, 22, -1, 0, UTIME_OMIT, 55, 0, out), 0, 'through a dir fd');
  const link = fs.lstatSync(`${d}/l`);
  t.same([link.uid, link.gid, Math.floor(link.mtimeMs / 1000), out[4]], [21, 22, 55, 21], "the symlink's own owner and mtime, and its stat");
  t.equal(fs.statSync(`${d}/f`).uid, 7, 'its target untouched');
  t.equal(native.setattrFd(9999, 1, 1, -1, 0, UTIME_OMIT, 0, UTIME_OMIT, out), -9, 'EBADF');
  t.equal(native.setattrFd(fd, -1, -1, -1, 0, UTIME_OMIT, 0, UTIME_OMIT, new Float64Array(3)), -22, 'a too-small array is EINVAL');
});

t.test('openAt and lstatAt: relative to a dir fd, and the dir itself for an empty path', async (t) => {
  const d = dir(t);
  fs.mkdirSync(`${d}/sub`);
  fs.writeFileSync(`${d}/sub/f`, 'abc');
  fs.symlinkSync('f', `${d}/sub/l`);
  const at = native.open(d, 0o10000000 | 0o200000, 0); // O_PATH | O_DIRECTORY
  t.teardown(() => native.close(at));
  const out = new Float64Array(16);
  t.equal(native.lstatAt(at, 'sub/f', out), 0);
  t.equal(out[7], 3, 'the size of sub/f');
  t.equal(native.lstatAt(at, 'sub/l', out), 0);
  t.equal(out[2] & 0o170000, 0o120000, 'a symlink is not followed');
  t.equal(native.lstatAt(at, '', out), 0);
  t.equal(out[1], fs.statSync(d).ino, "'' is the dir itself");
  t.equal(native.lstatAt(at, 'sub/none', out), -2, 'ENOENT');
  const fd = native.openAt(at, 'sub/f', fs.constants.O_RDONLY, 0);
  t.ok(fd > 2);
  t.equal(fs.readFileSync(fd, 'utf8'), 'abc');
  native.close(fd);
  const excl = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;
  const made = native.openAt(at, 'sub/new', excl, 0o600);
  t.ok(made > 2, 'created relative to the dir fd');
  native.close(made);
  t.ok(fs.existsSync(`${d}/sub/new`));
  t.equal(native.openAt(at, 'sub/new', excl, 0o600), -17, 'EEXIST the second time');
});
