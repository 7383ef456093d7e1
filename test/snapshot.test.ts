// The snapshotter in process: prepare → mounts → write through the in-process view → commit →
// remove, on a store with a real busybox image. The mount description is checked by mounting it
// with the kernel's overlayfs, which must show what the in-process view wrote.
import t from 'tap';
import { storeWithBusybox } from './helpers/store.js';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir, mountKernel } from './helpers/mount.js';
import { parseRef } from '../src/store/store.js';
import { LocalSnapshotter } from '../src/container/snapshot-local.js';
import { StrataError, FsError, E } from '../src/sys/errors.js';
import { ROOT as CALLER } from '../src/union/union.js';
import { isWhiteout } from '../src/sys/overlay-format.js';
import { lstat } from '../src/sys/stat.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-snap-');
const { s, img } = await storeWithBusybox(t, base, 'busybox');
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof StrataError ? err.code : err instanceof FsError ? err.errno : 'other';
  }
  return 'none';
};

t.test('prepare, mounts, commit, remove', async (t) => {
  const sn = new LocalSnapshotter(s);
  const key = 'a'.repeat(64);
  const m = sn.prepare(key, img);
  const d = s.containerPaths(key);
  // the busybox rootfs has no /etc/hosts: the image's init layer gives it one, over its layers
  const lowers = [s.initPath(img.id), ...s.lowers(img)];
  t.same(m.lowers, lowers, "the lowers are the image's init layer, then its layers, top first");
  t.ok(fs.statSync(`${s.initPath(img.id)}/etc/hosts`).isFile(), 'the init layer holds what the image lacks');
  t.equal(m.upper, d.upper, 'an upper dir of its own');
  t.same(m.options, [`lowerdir=${lowers.join(':')}`, `upperdir=${d.upper}`, `workdir=${d.work}`], 'as overlayfs options');
  t.same(sn.mounts(key), m, 'mounts() describes the same');
  t.same(sn.stat(key), { key, kind: 'active', parent: img.id, init: true }, 'stat: active, on the image, over its init layer');
  t.equal(
    code(() => sn.prepare(key, img)),
    'conflict',
    'a key is prepared once',
  );
  t.same(fs.readdirSync(d.upper), [], 'nothing is written yet');

  const u = sn.open(key);
  const fh = u.create('/hello', 0o640, fs.constants.O_WRONLY, CALLER);
  u.write(fh, Buffer.from('hi\n'), 3, 0);
  u.release(fh);
  u.unlink('/etc/os-release');
  t.equal(fs.readFileSync(`${d.upper}/hello`, 'utf8'), 'hi\n', 'a new file lands in the upper dir');
  t.ok(isWhiteout(lstat(`${d.upper}/etc/os-release`)), 'a deleted lower file leaves a whiteout');

  const mnt = `${base}/kmnt`;
  fs.mkdirSync(mnt);
  const k = mountKernel(t, { lowers: m.lowers, upper: m.upper, work: m.work, mnt });
  t.equal(fs.readFileSync(`${mnt}/hello`, 'utf8'), 'hi\n', "the kernel's overlayfs, mounted as mounts() says, shows the new file");
  t.notOk(fs.existsSync(`${mnt}/etc/os-release`), 'and not the deleted one');
  t.ok(fs.existsSync(`${mnt}/bin/busybox`), 'over the image');
  k.umount();

  const cfg = s.config(img);
  const made = sn.commit(key, cfg, { tag: parseRef('snap:1') });
  t.equal(made.layers.length, 2, 'commit adds one layer');
  const names = execFileSync('tar', ['-tf', s.blobPath(made.layers[1])], { encoding: 'utf8' }).split('\n');
  t.ok(names.includes('hello') && names.includes('etc/.wh.os-release'), `the layer: the file and a .wh. whiteout (${names.filter(Boolean).join(' ')})`);
  t.equal(s.image('snap:1').id, made.id, 'tagged as asked');

  sn.remove(key);
  t.notOk(fs.existsSync(d.dir), 'remove leaves nothing of the snapshot');
  t.equal(sn.stat(key), undefined, 'its key is unknown again');
  t.equal(
    code(() => sn.mounts(key)),
    'not-found',
    'mounts of an unknown key: not-found',
  );
  t.equal(
    code(() => sn.commit(key, cfg)),
    'not-found',
    'and commit',
  );
});

t.test('a view is read-only', async (t) => {
  const sn = new LocalSnapshotter(s);
  const key = 'b'.repeat(64);
  const m = sn.view(key, img);
  t.equal(m.upper, undefined, 'a view has no upper dir');
  t.same(m.options, [`lowerdir=${s.lowers(img).join(':')}`], 'only lowerdir');
  const u = sn.open(key);
  t.equal(u.readlink('/bin/sh'), '/bin/busybox', 'it reads the image');
  t.equal(
    code(() => u.mkdir('/x', 0o755, CALLER)),
    E.EROFS,
    'and writes nothing (EROFS)',
  );
  t.equal(
    code(() => sn.commit(key, s.config(img))),
    'invalid',
    'a view has nothing to commit',
  );
  sn.remove(key);
  t.notOk(fs.existsSync(s.containerPaths(key).dir), 'removed, nothing is left');
});
