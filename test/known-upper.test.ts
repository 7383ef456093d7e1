// The fast paths for upper non-directories (known-upper.ts) against the general path through the
// union: the same attributes and xattrs, the same changes, a clean miss when the upper file is not
// there, and create's node equal to what a resolve gives. No FUSE: plain temp dirs.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Union, ROOT } from '../src/union/union.js';
import { native } from '../src/sys/native.js';
import { toErrno, errnoName } from '../src/sys/errors.js';

function stack(t: { teardown(fn: () => void): void }) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-known-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  for (const x of ['l1', 'upper', 'work']) fs.mkdirSync(`${d}/${x}`);
  fs.writeFileSync(`${d}/l1/lower`, 'from the lower');
  fs.mkdirSync(`${d}/l1/dir`);
  const u = new Union({ lowers: [`${d}/l1`], upper: `${d}/upper`, work: `${d}/work` });
  u.prepareWork();
  return { d, u };
}

t.test('attributes and xattrs of an upper file: the same as through the union', async (t) => {
  const { d, u } = stack(t);
  u.release(u.create('/dir/new', 0o640, fs.constants.O_WRONLY, { uid: 12, gid: 34 }));
  native.lsetxattr(`${d}/upper/dir/new`, 'user.k', Buffer.from('v'), 0);
  t.same(u.known.attr('/dir/new'), u.getattr('/dir/new'));
  t.same(u.known.getxattr('/dir/new', 'user.k'), u.getxattr('/dir/new', 'user.k'));
  t.equal(u.known.getxattr('/dir/new', 'user.none'), null, 'a missing attribute is null, as through the union');
  t.equal(errnoName(toErrno(catching(() => u.known.getxattr('/dir/new', 'trusted.overlay.opaque')))), 'EOPNOTSUPP', 'overlay attributes stay private');
});

t.test('a copied-up file keeps its lower inode number on the fast path too', async (t) => {
  const { u } = stack(t);
  const before = u.getattr('/lower').ino;
  u.chmod('/lower', 0o600); // copies it up
  t.equal(u.known.attr('/lower')?.ino, before);
  t.same(u.known.attr('/lower'), u.getattr('/lower'));
});

t.test('changes in place land where the union reads them', async (t) => {
  const { u } = stack(t);
  u.release(u.create('/f', 0o644, fs.constants.O_WRONLY, ROOT));
  t.ok(u.known.truncate('/f', 3));
  t.ok(u.known.chown('/f', 7, 8));
  t.ok(u.known.chmod('/f', 0o600)); // after chown, as SETATTR orders them
  t.ok(u.known.utimens('/f', 1000, 5, 2000, 6)); // last: the others change mtime or ctime
  const a = u.getattr('/f');
  t.same([a.mode & 0o7777, a.uid, a.gid, a.atimeSec, a.atimeNsec, a.mtimeSec, a.mtimeNsec, a.size], [0o600, 7, 8, 1000, 5, 2000, 6, 3]);
});

t.test('a path with no upper file is a miss, and nothing is changed', async (t) => {
  const { d, u } = stack(t);
  // a lower file that was never copied up, and a name that is nowhere
  for (const p of ['/lower', '/nowhere']) {
    t.equal(u.known.attr(p), undefined, `attr of ${p}`);
    t.equal(u.known.getxattr(p, 'user.k'), undefined, `getxattr of ${p}`);
    t.equal(u.known.chmod(p, 0o600), false, `chmod of ${p}`);
    t.equal(u.known.chown(p, 1, 1), false, `chown of ${p}`);
    t.equal(u.known.utimens(p, 1, 0, 1, 0), false, `utimens of ${p}`);
    t.equal(u.known.truncate(p, 0), false, `truncate of ${p}`);
  }
  t.equal(fs.readFileSync(`${d}/l1/lower`, 'utf8'), 'from the lower', 'the lower file is untouched');
  t.notOk(fs.existsSync(`${d}/upper/lower`), 'and was not copied up');
  // a directory is not a file the fast paths answer for
  fs.mkdirSync(`${d}/upper/updir`);
  t.equal(u.known.attr('/updir'), undefined);
});

t.test("create's node is what a resolve of the new name gives", async (t) => {
  const { u } = stack(t);
  const { fh, node } = u.createNode('/dir/made', 0o600, fs.constants.O_RDWR, { uid: 5, gid: 6 });
  t.same(u.attrOf(node), u.getattr('/dir/made'));
  u.release(fh);
  t.equal(errnoName(toErrno(catching(() => u.create('/dir/made', 0o600, fs.constants.O_RDWR, ROOT)))), 'EEXIST', 'the name is taken now');
  t.equal(errnoName(toErrno(catching(() => u.create('/lower', 0o600, fs.constants.O_RDWR, ROOT)))), 'EEXIST', 'so is a lower name');
  u.unlink('/lower'); // leaves a whiteout
  const again = u.createNode('/lower', 0o600, fs.constants.O_RDWR, ROOT);
  t.same(u.attrOf(again.node), u.getattr('/lower'), 'a create over a whiteout too');
  u.release(again.fh);
});

function catching(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}
