// The lower views on their own, with no Resolver and no FUSE: probing the layer dirs and reading a
// chain index answer every question alike over the same layers, and the fallback wrapper hands
// over from a failing index to probing once, re-resolving dirs the index made.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { buildFixture } from './helpers/fixture.js';
import { tmpdir } from './helpers/mount.js';
import { LayerStack } from '../src/union/layers.js';
import { ProbeLowers } from '../src/union/probe-lowers.js';
import { IndexLowers } from '../src/union/index-lowers.js';
import { FallbackLowers } from '../src/union/fallback-lowers.js';
import type { Entry, LowerView } from '../src/union/lower-view.js';
import { IndexDb } from '../src/index/db.js';
import { chainReader, prepareChain } from '../src/index/mount-index.js';
import { FsError } from '../src/sys/errors.js';

const PATHS = ['/dir', '/dir/sub', '/mergedir', '/opq', '/ren_dir/nested', '/uopq', '/emptydir'];
const NAMES = ['a', 'b', 'c', 'sub', 'deep', 'l1file', 'l2file', 'old1', 'new1', 'three', 'old', 'gone', 'nope', 'f2', 'sym', 'shared', 'opq'];

/** What a view says about one lower dir path: each name's answering layer, kind and inode, the listing, `has`. */
function answers(v: LowerView, rel: string): unknown {
  const dirs = v.dirsAt(rel);
  if (dirs.length === 0) return null;
  const out: Record<string, unknown> = {};
  for (const name of NAMES) {
    const n = v.child(dirs, name, `${rel}/${name}`);
    out[name] = n && { layer: n.top.layer, rel: n.top.rel, ino: n.top.st.ino, dir: n.dirs !== null, has: v.has(dirs, name) };
    if (!n) out[name] = { has: v.has(dirs, name) };
  }
  const all: { name: string; e: Entry }[] = [];
  v.list(dirs, new Set(), all);
  out['*'] = all.map(({ name, e }) => `${name}@${e.layer}:${e.st.ino}`).sort();
  return out;
}

function setup(t: Test) {
  const base = tmpdir(t, 'strata-lower-view-');
  const fx = buildFixture(base + '/fixture');
  const db = IndexDb.open(base + '/root');
  t.teardown(() => db.close());
  const chain = prepareChain(db, fx.lowers);
  return { base, fx, db, chain };
}

t.test('probing and the chain index answer alike', async (t) => {
  const { fx, db, chain } = setup(t);
  for (const withUpper of [false, true]) {
    const stack = new LayerStack(withUpper ? { lowers: fx.lowers, upper: fx.upper, work: fx.upper + '/../work' } : { lowers: fx.lowers });
    const probe = new ProbeLowers(stack);
    const index = new IndexLowers(chainReader(db, chain.chainId, stack.firstLower)!);
    t.equal(index.root()[0].layer, stack.firstLower, 'the index numbers layers as the mount does');
    const [ir, pr] = [index.root()[0].st, probe.root()[0].st];
    t.same([ir.ino, ir.mode, ir.mtimeNsec], [pr.ino, pr.mode, pr.mtimeNsec], 'the root answers alike');
    for (const p of ['', ...PATHS]) t.same(answers(index, p), answers(probe, p), `${p || '/'} answers alike (${withUpper ? 'with' : 'without'} upper)`);
    const probeMerged: Entry[] = [];
    const indexMerged: Entry[] = [];
    probe.merge(probe.root(), '/ren_dir', probeMerged);
    index.merge(index.root(), '/ren_dir', indexMerged);
    t.same(
      indexMerged.map((e) => e.st.ino),
      probeMerged.map((e) => e.st.ino),
      'an absolute redirect finds the same origin',
    );
    t.equal(probeMerged.length, 1, 'and finds it');
    const none: Entry[] = [];
    index.merge(index.root(), 'f2', none);
    probe.merge(probe.root(), 'f2', none);
    t.same(none, [], 'a non-dir merges with nothing');
    t.ok(index.owns(index.root()[0]) && !index.owns(probe.root()[0]), 'each view knows its own entries');
    const r = index.root()[0];
    t.equal(index.stat(r), r.st, 'the index never re-reads a layer: the recorded attributes, the same object');
    t.not(probe.stat(probe.root()[0]), probe.root()[0].st, 'probing reads them afresh');
  }
});

t.test('the fallback hands over once, on the first failure, and re-resolves dirs the index made', async (t) => {
  const { fx, db, chain } = setup(t);
  const stack = new LayerStack({ lowers: fx.lowers });
  const probe = new ProbeLowers(stack);
  const errors: Error[] = [];
  const v = new FallbackLowers(new IndexLowers(chainReader(db, chain.chainId, 0)!), probe, (e) => errors.push(e));
  t.ok(v.indexed, 'answers from the index while it works');
  const before = v.dirsAt('/dir');
  t.equal(before.length, 1, 'one merged entry from the index');
  t.ok(v.child(before, 'c', '/dir/c'), 'a lookup through the index');
  db.close();
  const c = v.child(before, 'c', '/dir/c');
  t.equal(errors.length, 1, 'the failure is reported');
  t.notOk(v.indexed, 'and probing answers from then on');
  const want = { layer: 0, ino: fs.lstatSync(fx.lowers[0] + '/dir/c').ino };
  t.same(c && { layer: c.top.layer, ino: c.top.st.ino }, want, 'the failing lookup itself is answered by probing');
  const a = v.child(before, 'a', '/dir/a');
  t.equal(a?.top.layer, 1, "a dir the index resolved is re-resolved: the bottom layer's name is found");
  const listed: { name: string; e: Entry }[] = [];
  v.list(before, new Set(), listed);
  t.same(listed.map((x) => x.name).sort(), ['a', 'b', 'c', 'sub'], 'and listed across both layers');
  t.ok(v.has(before, 'b') && !v.has(before, 'nope'), 'has, likewise');
  t.same(answers(v, '/mergedir'), answers(probe, '/mergedir'), 'every answer is the probing one');
  t.equal(errors.length, 1, 'the failure is reported once');
});

t.test('an FsError is an answer, not a failure of the view', async (t) => {
  const { base, fx } = setup(t);
  fs.mkdirSync(base + '/vanishing');
  const gone = new ProbeLowers(new LayerStack({ lowers: [base + '/vanishing'] }));
  fs.rmdirSync(base + '/vanishing');
  const errors: Error[] = [];
  const v = new FallbackLowers(gone, new ProbeLowers(new LayerStack({ lowers: fx.lowers })), (e) => errors.push(e));
  t.throws(() => v.root(), FsError, "a vanished layer root is the caller's ENOENT");
  t.equal(errors.length, 0, 'and no hand-over');
});
