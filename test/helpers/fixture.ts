// A layered fixture in the kernel overlayfs format: two lower layers and a pre-populated upper,
// with files, dirs, symlinks, FIFOs, devices, hard links, xattrs, whiteouts and opaque dirs.
import fs from 'node:fs';
import { native } from '../../src/sys/native.js';
import { copyTree } from './mount.js';

export const OLD = 1577836800; // 2020-01-01, so times a test did not set are recognizable

function w(p: string, data: string | Buffer, mode = 0o644) {
  fs.writeFileSync(p, data, { mode });
  fs.chmodSync(p, mode);
}
function mk(p: string, mode = 0o755) {
  fs.mkdirSync(p, { recursive: true });
  fs.chmodSync(p, mode);
}
function whiteout(p: string) {
  if (native.mknod(p, 0o020000, 0) !== 0) throw new Error('mknod whiteout failed: ' + p);
}
function xattr(p: string, name: string, v: string) {
  if (native.lsetxattr(p, name, Buffer.from(v), 0) !== 0) throw new Error(`setxattr ${name} on ${p} failed`);
}

/** Set every entry's times to fixed old values (nanoseconds included). */
export function ageTree(root: string): void {
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(p + '/' + n);
    native.lutimens(p, OLD, 123456789, OLD + 60, 987654321);
  };
  walk(root);
}

export function buildFixture(base: string): { lowers: string[]; upper: string } {
  const L1 = base + '/l1';
  const L2 = base + '/l2';
  const U = base + '/upper';
  for (const d of [L1, L2, U]) mk(d);

  // bottom layer
  w(L2 + '/f2', 'file in l2\n');
  w(L2 + '/shared', 'shared: l2 version\n');
  mk(L2 + '/dir/sub');
  w(L2 + '/dir/a', 'a\n');
  w(L2 + '/dir/b', 'b\n', 0o600);
  w(L2 + '/dir/sub/deep', 'deep\n');
  mk(L2 + '/dir2');
  w(L2 + '/dir2/x', 'x\n');
  mk(L2 + '/emptydir');
  w(L2 + '/hl1', 'hard linked\n');
  fs.linkSync(L2 + '/hl1', L2 + '/hl2');
  fs.symlinkSync('f2', L2 + '/sym');
  fs.symlinkSync('/nonexistent/target', L2 + '/dangling');
  if (native.mknod(L2 + '/fifo', 0o010644, 0) !== 0) throw new Error('mkfifo');
  if (native.mknod(L2 + '/chr', 0o020644, native.makedev(1, 3)) !== 0) throw new Error('mknod chr');
  if (native.mknod(L2 + '/blk', 0o060640, native.makedev(7, 0)) !== 0) throw new Error('mknod blk');
  w(L2 + '/xattr_f', 'with xattrs\n');
  xattr(L2 + '/xattr_f', 'user.color', 'red');
  xattr(L2 + '/xattr_f', 'user.shape', 'round');
  mk(L2 + '/ren_dir/nested');
  w(L2 + '/ren_dir/one', '1\n');
  w(L2 + '/ren_dir/two', '2\n');
  w(L2 + '/ren_dir/nested/three', '3\n');
  w(L2 + '/gone', 'deleted by l1\n');
  mk(L2 + '/opq');
  w(L2 + '/opq/old1', 'old1\n');
  w(L2 + '/opq/old2', 'old2\n');
  mk(L2 + '/mergedir');
  w(L2 + '/mergedir/l2file', 'l2file\n');
  w(L2 + '/hidden_by_upper', 'upper deleted me\n');
  mk(L2 + '/uopq');
  w(L2 + '/uopq/old', 'old\n');
  w(L2 + '/big', Buffer.alloc(1 << 20, 7));
  w(L2 + '/exec', '#!/bin/sh\necho hi\n', 0o4755);
  fs.chownSync(L2 + '/exec', 1000, 1000);
  fs.chmodSync(L2 + '/exec', 0o4755);
  w(L2 + '/owned', 'owned by 1000\n', 0o640);
  fs.chownSync(L2 + '/owned', 1000, 100);

  // top lower layer
  w(L1 + '/shared', 'shared: l1 version\n');
  mk(L1 + '/mergedir');
  w(L1 + '/mergedir/l1file', 'l1file\n');
  whiteout(L1 + '/gone');
  mk(L1 + '/opq');
  xattr(L1 + '/opq', 'trusted.overlay.opaque', 'y');
  w(L1 + '/opq/new1', 'new1\n');
  w(L1 + '/l1only', 'only in l1\n');
  mk(L1 + '/dir');
  w(L1 + '/dir/c', 'c from l1\n');

  // upper
  w(U + '/uonly', 'only in upper\n');
  mk(U + '/mergedir');
  w(U + '/mergedir/ufile', 'ufile\n');
  whiteout(U + '/hidden_by_upper');
  mk(U + '/uopq');
  xattr(U + '/uopq', 'trusted.overlay.opaque', 'y');
  w(U + '/uopq/fresh', 'fresh\n');
  mk(U + '/updir');
  w(U + '/updir/u1', 'u1\n');

  for (const d of [L1, L2, U]) ageTree(d);
  return { lowers: [L1, L2], upper: U };
}

export interface LayerDirs {
  lowers: string[];
  upper: string;
  work: string;
  mnt: string;
}

/**
 * An exact copy of a built fixture at `dir`, with empty `extra` dirs (work, mountpoints) beside
 * it: the same layers for each system a test compares.
 */
export function copyFixture(fixtureDir: string, fixture: { lowers: string[] }, dir: string, extra = ['work', 'mnt']): LayerDirs {
  fs.mkdirSync(dir, { recursive: true });
  copyTree(fixtureDir, dir);
  for (const x of extra) fs.mkdirSync(`${dir}/${x}`);
  return { lowers: fixture.lowers.map((l) => l.replace(fixtureDir, dir)), upper: `${dir}/upper`, work: `${dir}/work`, mnt: `${dir}/mnt` };
}
