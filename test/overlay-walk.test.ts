// The one overlay walk, and its users (the index build and verify, the chain index, the tar
// writer, dirSize), over a tree 3,000 levels deep: far deeper than a path the kernel takes in one
// syscall, and deep enough to overflow any walk that recursed.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import tar from 'tar-stream';
import { walkOverlay } from '../src/sys/overlay-walk.js';
import { native } from '../src/sys/native.js';
import { dirSize } from '../src/store/usage.js';
import { IndexDb } from '../src/index/db.js';
import { ensureLayerIndex } from '../src/index/layer-index.js';
import { verifyLayer } from '../src/index/verify.js';
import { chainReader, prepareChain } from '../src/index/mount-index.js';
import { writeTree } from '../src/oci/tar-write.js';
import { treeEntries } from '../src/oci/tree-entries.js';

const DEPTH = 3000;

/** A fresh dir, removed with rm(1), which unlike fs.rmSync copes with paths longer than PATH_MAX. */
function scratch(t: Test, prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => void spawnSync('rm', ['-rf', d]));
  return d;
}

/** d/d/…/d, DEPTH dirs deep, a file in every 500th dir and a symlink, a whiteout and a file at the bottom. Built from inside, by chdir. */
function deepTree(root: string): { bytes: number; files: number } {
  const cwd = process.cwd();
  let bytes = 0;
  let files = 0;
  try {
    process.chdir(root);
    for (let i = 1; i <= DEPTH; i++) {
      fs.mkdirSync('d');
      process.chdir('d');
      if (i % 500 === 0) {
        fs.writeFileSync('f', `level ${i}\n`);
        bytes += `level ${i}\n`.length;
        files++;
      }
    }
    fs.writeFileSync('bottom', 'the bottom\n');
    bytes += 'the bottom\n'.length;
    fs.symlinkSync('bottom', 'link');
    bytes += 'bottom'.length;
    if (native.mknod('gone', 0o020000, 0) !== 0) throw new Error('mknod whiteout');
    files += 3;
  } finally {
    process.chdir(cwd);
  }
  return { bytes, files };
}

t.test('a tree 3,000 levels deep: walked, sized, indexed, verified and written as a tar', async (t) => {
  const base = scratch(t, 'strata-deep-');
  fs.mkdirSync(base + '/tree');
  const { bytes, files } = deepTree(base + '/tree');

  let dirs = 0;
  let deepest = 0;
  let whiteouts = 0;
  for (const e of walkOverlay(base + '/tree')) {
    if (e.dir) dirs++;
    if (e.whiteout) whiteouts++;
    deepest = Math.max(deepest, e.depth);
    if (e.name === 'bottom') t.equal(fs.readFileSync(e.real, 'utf8'), 'the bottom\n', 'the deepest file is readable through its `real` path during the walk');
  }
  t.equal(dirs, DEPTH, 'every level walked');
  t.equal(deepest, DEPTH + 1, 'down to the bottom');
  t.equal(whiteouts, 1, 'the whiteout at the bottom told apart');
  t.equal(dirSize(base + '/tree'), bytes, 'dirSize counts every file and link, the whiteout as nothing');

  const db = IndexDb.open(base + '/root');
  t.teardown(() => db.close());
  const m = ensureLayerIndex(db, base + '/tree');
  t.equal(m.entries, DEPTH + files, 'every entry indexed');
  t.equal(ensureLayerIndex(db, base + '/tree').num, m.num, 'the fingerprint of dirs that deep is checked, and matches');
  t.same(verifyLayer(db, m), [], 'verify finds no difference');
  const chain = prepareChain(db, [base + '/tree']);
  const reader = chainReader(db, chain.chainId, 0)!;
  const bottom = reader.resolve('/d'.repeat(DEPTH) + '/bottom');
  t.equal(bottom?.st.size, 'the bottom\n'.length, 'the chain index resolves the deepest file');
  t.equal(reader.resolve('/d'.repeat(DEPTH) + '/gone'), null, 'and applies the whiteout');

  const names: string[] = [];
  const pack = tar.pack();
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    names.push(h.name);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => extract.on('finish', () => resolve()).on('error', reject));
  pack.pipe(extract);
  const written = await writeTree(base + '/tree', pack, { overlay: true });
  await done;
  t.equal(written.entries, DEPTH + files, 'every entry written to the tar');
  t.equal(names.length, written.entries, 'and read back');
  const deep = 'd/'.repeat(DEPTH);
  const bottomDir = names.filter((n) => n.startsWith(deep) && n !== deep).map((n) => n.slice(deep.length));
  t.same(bottomDir, ['.wh.gone', 'bottom', 'f', 'link'], 'the bottom dir: whiteout first, then by name, under its full path');
});

t.test('walk order: depth first, sorted, whiteouts first, descend = false skips a dir', async (t) => {
  const base = scratch(t, 'strata-walk-');
  for (const d of ['b/x', 'a', 'c']) fs.mkdirSync(`${base}/${d}`, { recursive: true });
  fs.writeFileSync(base + '/b/x/f', 'f');
  fs.writeFileSync(base + '/b/z', 'z');
  fs.writeFileSync(base + '/c/skipped', 's');
  if (native.mknod(base + '/b/y', 0o020000, 0) !== 0) throw new Error('mknod whiteout');
  const seen: string[] = [];
  for (const e of walkOverlay(base, { sorted: true, whiteoutsFirst: true })) {
    seen.push(e.rel);
    if (e.name === 'c') e.descend = false;
  }
  t.same(seen, ['/a', '/b', '/b/y', '/b/x', '/b/x/f', '/b/z', '/c'], 'each dir before its contents, whiteouts first');
  const plain = [...walkOverlay(base, { sorted: true, overlay: false })].find((e) => e.rel === '/b/y')!;
  t.notOk(plain.whiteout, 'a plain walk takes 0/0 for a device');
  const tarNames = [...treeEntries(base, { overlay: true })].map((e) => e.h.name);
  t.same(tarNames, ['a/', 'b/', 'b/.wh.y', 'b/x/', 'b/x/f', 'b/z', 'c/', 'c/skipped'], 'the tar writer follows the same order');
});
