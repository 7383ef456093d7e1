// The LMDB path index, with no FUSE: a Union answering from a chain index must see exactly what a
// Union probing every layer sees; the index must be reused, derived, rebuilt and distrusted when it
// should be.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { buildFixture } from './helpers/fixture.js';
import { CLI, tmpdir } from './helpers/mount.js';
import { Union } from '../src/union/union.js';
import { IndexDb, IndexError } from '../src/index/db.js';
import { ensureLayerIndex } from '../src/index/layer-index.js';
import { chainId, ensureChainIndex } from '../src/index/chain-index.js';
import { chainReader, openIndex, prepareChain } from '../src/index/mount-index.js';
import { verifyLayer } from '../src/index/verify.js';
import { native, LOCK_EX } from '../src/sys/native.js';

type Tree = Record<string, unknown>;

/** Everything a user of the merged view can see, through Union's own operations. */
function view(u: Union): Tree {
  const out: Tree = {};
  const walk = (p: string) => {
    const a = u.getattr(p);
    const { ino: _ino, atimeSec: _a, atimeNsec: _an, ...attr } = a;
    const rec: Record<string, unknown> = { ...attr };
    if ((a.mode & 0o170000) === 0o120000) rec.target = u.readlink(p);
    if ((a.mode & 0o170000) === 0o040000) {
      const names = u
        .readdir(p)
        .map((e) => e.name)
        .sort();
      rec.names = names;
      for (const n of names) walk(p === '/' ? `/${n}` : `${p}/${n}`);
    }
    out[p] = rec;
  };
  walk('/');
  return out;
}

function errno(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

function setup(t: Test) {
  const base = tmpdir(t, 'strata-index-');
  const fx = buildFixture(base + '/fixture');
  fs.mkdirSync(base + '/work');
  const db = IndexDb.open(base + '/root');
  t.teardown(() => db.close());
  return { base, fx, db };
}

t.test('an indexed union sees exactly what a probing union sees', async (t) => {
  const { base, fx, db } = setup(t);
  const chain = prepareChain(db, fx.lowers);
  for (const withUpper of [false, true]) {
    const opts = withUpper ? { lowers: fx.lowers, upper: fx.upper, work: base + '/work' } : { lowers: fx.lowers };
    const probing = new Union(opts);
    const indexed = new Union(opts, chainReader(db, chain.chainId, withUpper ? 1 : 0));
    t.ok(indexed.resolver.indexed, 'the union answers from the index');
    t.same(view(indexed), view(probing), `same tree, attributes, listings and link targets (${withUpper ? 'with' : 'without'} upper)`);
    for (const p of ['/nope', '/dir/nope', '/gone', '/hidden_by_upper', '/opq/old1', '/f2/x']) {
      t.equal(
        errno(() => indexed.getattr(p)),
        errno(() => probing.getattr(p)),
        `lookup of ${p} answers alike`,
      );
    }
  }
});

t.test('changes through an indexed union follow overlay rules (upper live, lowers from the index)', async (t) => {
  const { base, fx, db } = setup(t);
  const chain = prepareChain(db, fx.lowers);
  const u = new Union({ lowers: fx.lowers, upper: fx.upper, work: base + '/work' }, chainReader(db, chain.chainId, 1));
  u.prepareWork();
  u.rename('/ren_dir', '/moved');
  t.same(
    u
      .readdir('/moved')
      .map((e) => e.name)
      .sort(),
    ['nested', 'one', 'two'],
    'a renamed lower dir keeps its lower contents (redirect)',
  );
  t.same(
    u.readdir('/moved/nested').map((e) => e.name),
    ['three'],
    'and its nested dirs',
  );
  u.unlink('/dir/a');
  t.equal(
    errno(() => u.getattr('/dir/a')),
    'ENOENT',
    'a whiteout in the upper hides an indexed lower file',
  );
  u.rmdir('/emptydir');
  u.mkdir('/emptydir', 0o755, { uid: 0, gid: 0 });
  t.same(u.readdir('/emptydir'), [], 'a dir made over a whiteout is opaque and empty');
  t.equal(
    errno(() => u.rmdir('/dir2')),
    'ENOTEMPTY',
    'rmdir checks emptiness against the indexed lowers',
  );
});

t.test('lookups, attributes and listings never touch the lower dirs', async (t) => {
  const { base, fx, db } = setup(t);
  const chain = prepareChain(db, fx.lowers);
  const u = new Union({ lowers: fx.lowers }, chainReader(db, chain.chainId, 0));
  const before = view(u);
  const u2 = new Union({ lowers: fx.lowers }, chainReader(db, chain.chainId, 0));
  // Take the layers away: only file data and xattrs still need them.
  for (const l of fx.lowers) fs.renameSync(l, l + '.away');
  t.teardown(() => fx.lowers.forEach((l) => fs.existsSync(l + '.away') && fs.renameSync(l + '.away', l)));
  t.same(view(u2), before, 'the whole tree is answered from the index alone');
  t.equal(
    errno(() => u2.getattr('/dir/missing')),
    'ENOENT',
    'a negative lookup is answered from the index',
  );
  t.equal(
    errno(() => u2.open('/f2', 0)),
    'ENOENT',
    'file data does need the layer',
  );
  void base;
});

t.test('a chain is derived from a stored shorter chain, and equals one built from scratch', async (t) => {
  const { base, fx, db } = setup(t);
  const [l1, l2] = fx.lowers;
  const m2 = ensureLayerIndex(db, l2);
  const m1 = ensureLayerIndex(db, l1);
  ensureChainIndex(db, [m2]);
  // Without l2's own index, chain(l2, l1) can only come from the stored chain(l2).
  db.dropEntries(m2.num);
  const derived = ensureChainIndex(db, [m2, m1]);
  t.equal(derived.chainId, chainId([m2.key, m1.key]), 'keyed by the OCI ChainID of the layer keys');
  const fresh = IndexDb.open(base + '/root2');
  t.teardown(() => fresh.close());
  const scratch = prepareChain(fresh, fx.lowers);
  t.equal(scratch.chainId, derived.chainId, 'the same ChainID either way');
  const a = new Union({ lowers: fx.lowers }, chainReader(db, derived.chainId, 0));
  const b = new Union({ lowers: fx.lowers }, chainReader(fresh, scratch.chainId, 0));
  t.same(view(a), view(b), 'the derived chain answers exactly as the one built from scratch');
  t.equal(prepareChain(db, fx.lowers).num, derived.num, 'a second mount reuses the chain');
});

t.test('a lower dir that changed is re-indexed, never served stale', async (t) => {
  const { fx, db } = setup(t);
  const [l1] = fx.lowers;
  const first = ensureLayerIndex(db, l1);
  t.equal(ensureLayerIndex(db, l1).num, first.num, 'unchanged: the index is reused');
  const c1 = prepareChain(db, fx.lowers);
  fs.writeFileSync(l1 + '/dir/added', 'x');
  const second = ensureLayerIndex(db, l1);
  t.not(second.key, first.key, 'a new name deep inside gives a new key');
  t.equal(db.chain(c1.chainId), undefined, 'chains built on the old index are dropped');
  const c2 = prepareChain(db, fx.lowers);
  const u = new Union({ lowers: fx.lowers }, chainReader(db, c2.chainId, 0));
  t.ok(
    u.readdir('/dir').some((e) => e.name === 'added'),
    'the rebuilt chain has the new name',
  );
  fs.chmodSync(l1 + '/l1only', 0o600);
  t.match(verifyLayer(db, second).join('\n'), /l1only: mode was/, 'verify finds an in-place change the fingerprint cannot see');
});

t.test('bad input: redirects in a lower, a damaged index, an index that fails mid-mount', async (t) => {
  const { base, fx, db } = setup(t);
  const red = base + '/red';
  fs.mkdirSync(red + '/moved', { recursive: true });
  native.lsetxattr(red + '/moved', 'trusted.overlay.redirect', Buffer.from('/orig'), 0);
  let err: unknown;
  try {
    prepareChain(db, [red, ...fx.lowers]);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof IndexError, 'a lower holding a renamed dir is refused (the mount then probes)');
  t.match(String(err), /holds renamed directories/, 'with a clear reason');

  const root = base + '/broken';
  const good = IndexDb.open(root);
  good.close();
  fs.writeFileSync(root + '/index/data.mdb', Buffer.alloc(8192, 0x5a));
  const warnings: string[] = [];
  const reopened = openIndex(root, (m) => warnings.push(m));
  t.match(warnings.join(), /moved it to .*index\.damaged-/, 'a damaged index is moved aside with a warning');
  t.ok(prepareChain(reopened, fx.lowers).num > 0, 'and rebuilt');
  reopened.close();
  const size = fs.statSync(root + '/index/data.mdb').size;
  fs.truncateSync(root + '/index/data.mdb', Math.floor(size / 2));
  const again = openIndex(root, (m) => warnings.push(m));
  t.teardown(() => again.close());
  t.match(warnings.at(-1), /truncated/, 'a truncated index is found before LMDB maps it, and moved aside');

  const chain = prepareChain(db, fx.lowers);
  const failures: string[] = [];
  const u = new Union({ lowers: fx.lowers }, chainReader(db, chain.chainId, 0), (e) => failures.push(e.message));
  const probing = new Union({ lowers: fx.lowers });
  db.close();
  t.same(view(u), view(probing), 'after the index fails, the union answers by probing, still correctly');
  t.equal(failures.length, 1, 'the failure is reported once');
  t.notOk(u.resolver.indexed, 'and the index is no longer used');
});

t.test('strata index build, show, verify', async (t) => {
  const base = tmpdir(t, 'strata-index-cli-');
  const fx = buildFixture(base + '/fixture');
  const env = { ...process.env, STRATA_ROOT: base + '/root' };
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'index', ...args], { encoding: 'utf8', env });
  const b = run('build', '--format', 'json', ...fx.lowers);
  t.equal(b.status, 0, 'build succeeds');
  const out = JSON.parse(b.stdout);
  t.equal(out.length, 3, 'two layers and their chain');
  t.ok(out[0].entries > 0 && out[2].layers === 2, 'with entry counts');
  const s = run('show', fx.lowers[1], '/dir');
  t.match(s.stdout, /0600 .* b \n/, 'show lists a dir of the layer with modes');
  t.equal(run('verify', ...fx.lowers).status, 0, 'verify passes on unchanged dirs');
  fs.writeFileSync(fx.lowers[1] + '/dir/a', 'changed in place\n');
  const v = run('verify', fx.lowers[1]);
  t.equal(v.status, 1, 'verify fails after an in-place change');
  t.match(v.stdout, /\/dir\/a: size was 2, is 17/, 'and says what changed');
  t.match(run('show', base).stderr, /has no index yet/, 'an unknown dir gets one clear sentence');
});

t.test('opening the index and writing it wait for the index lock', async (t) => {
  const base = tmpdir(t, 'strata-index-lock-');
  const fx = buildFixture(base + '/fixture');
  const env = { ...process.env, STRATA_ROOT: base + '/root' };
  IndexDb.open(base + '/root').close(); // the index dir and its lock file exist
  const fd = fs.openSync(`${base}/root/index/lock`, 'a');
  t.equal(native.flock(fd, LOCK_EX), 0, 'the index lock, held here');
  const p = spawn(process.execPath, [CLI, 'index', 'build', ...fx.lowers], { env, stdio: 'ignore' });
  let code: number | null | undefined;
  const exited = new Promise<void>((resolve) => p.on('close', (c) => ((code = c), resolve())));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.equal(code, undefined, 'strata index build waits while the lock is held');
  fs.closeSync(fd);
  await exited;
  t.equal(code, 0, 'then it builds');
  const db = IndexDb.open(base + '/root');
  t.teardown(() => db.close());
  t.equal([...db.layers()].length, 2, 'both layers indexed');
});
