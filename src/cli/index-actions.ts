// The work behind `strata index …` (loaded only when such a command runs: it needs lmdb).
import path from 'node:path';
import { IndexDb, strataRoot, type LayerMeta } from '../index/db.js';
import { buildLayerIndex, ensureLayerIndex, fingerprint } from '../index/layer-index.js';
import { openIndex } from '../index/mount-index.js';
import { ensureChainIndex } from '../index/chain-index.js';
import { progressLine } from './progress.js';
import { verifyLayer } from '../index/verify.js';
import { indexedDir, type IndexedEntry } from '../index/show.js';
import { isDir, lstatOrNull } from '../sys/stat.js';
import { fatal } from './fatal.js';

const warn = (msg: string) => process.stderr.write(`strata: ${msg}\n`);

function withDb<T>(fn: (db: IndexDb) => T): T {
  const db = openIndex(strataRoot(), warn);
  try {
    return db.locked(() => fn(db)); // the index commands write: under the index lock, as the daemons' builds
  } finally {
    db.close();
  }
}

function known(db: IndexDb, dir: string): LayerMeta {
  const st = lstatOrNull(dir) ?? fatal(`${dir} does not exist`);
  if (!isDir(st.mode)) fatal(`${dir} is not a directory`);
  return db.layerByDir(st.dev, st.ino) ?? fatal(`${dir} has no index yet (strata index build ${dir})`);
}

export function build(dirs: string[], o: { force?: boolean; format?: string }): void {
  withDb((db) => {
    const abs = dirs.map((d) => path.resolve(d));
    const progress = progressLine();
    const out: object[] = [];
    const metas: LayerMeta[] = [];
    for (const d of abs) {
      const t0 = performance.now();
      const m = o.force ? buildLayerIndex(db, d, progress) : ensureLayerIndex(db, d, progress);
      metas.push(m);
      if (progress) process.stderr.write('\r\x1b[K');
      out.push({ dir: d, layer: m.key, entries: m.entries, ms: Math.round(performance.now() - t0) });
    }
    if (abs.length > 1) {
      const t0 = performance.now();
      // The dirs are given top first, as --lower; a chain is built bottom first.
      const c = ensureChainIndex(db, [...metas].reverse(), (n) => progress?.('chain', n));
      if (progress) process.stderr.write('\r\x1b[K');
      out.push({ chain: c.chainId, layers: c.layers.length, entries: c.entries, ms: Math.round(performance.now() - t0) });
    }
    if (o.format === 'json') return console.log(JSON.stringify(out, null, 2));
    for (const r of out as any[]) {
      if (r.dir) console.log(`${r.dir}  ${r.layer.slice(0, 19)}  ${r.entries} entries  ${r.ms} ms`);
      else console.log(`chain ${r.chain.slice(0, 19)}  ${r.layers} layers  ${r.entries} entries  ${r.ms} ms`);
    }
  });
}

export function show(dir: string, p: string, o: { format?: string }): void {
  withDb((db) => {
    const m = known(db, path.resolve(dir));
    let rows: IndexedEntry[] = [];
    try {
      rows = indexedDir(db, m, p);
    } catch (err) {
      fatal((err as Error).message);
    }
    const { dirs: _dirs, ...meta } = m;
    const fresh = fingerprint(m.root, m.dirs) === m.fingerprint;
    if (o.format === 'json') return console.log(JSON.stringify({ ...meta, dirs: m.dirs.length, fresh, path: p, entries: rows }, null, 2));
    console.log(
      `layer ${m.key}\nroot ${m.root}\nentries ${m.entries}, dirs ${m.dirs.length}, built ${m.builtAt}\nfingerprint ${m.fingerprint}${fresh ? '' : ' (STALE: the dir changed since)'}\n`,
    );
    for (const r of rows)
      console.log(
        `${r.mode.padStart(4, '0')} ${String(r.uid).padStart(5)} ${String(r.gid).padStart(5)} ${String(r.size).padStart(10)} ${r.mtime}  ${r.name} ${r.kind}`,
      );
  });
}

export function verify(dirs: string[]): void {
  withDb((db) => {
    let bad = 0;
    for (const d of dirs.map((x) => path.resolve(x))) {
      const problems = verifyLayer(db, known(db, d));
      bad += problems.length;
      console.log(problems.length ? `${d}: ${problems.length} difference(s)` : `${d}: ok`);
      for (const p of problems.slice(0, 50)) console.log(`  ${p}`);
      if (problems.length > 50) console.log(`  … ${problems.length - 50} more`);
    }
    if (bad) fatal('the index is stale; `strata index build --force DIR` rebuilds it (a mount rebuilds it when the dirs changed)');
  });
}

export function reset(): void {
  IndexDb.reset();
}
