// What a mount needs from the index: every lower dir's layer index (reused when its fingerprint
// still matches, rebuilt when not) and the chain index of the whole stack. Prepared by `strata
// mount` before the daemon starts, so the daemon only opens what is already there.
import fs from 'node:fs';
import { IndexDb, strataRoot, type ChainMeta } from './db.js';
import { StrataError } from '../sys/errors.js';
import { ensureLayerIndex, type Progress } from './layer-index.js';
import { ensureChainIndex } from './chain-index.js';
import { ChainReader } from './chain-reader.js';

/** Open the index, moving a damaged one aside (it is only a cache of the layers) to start afresh. */
export function openIndex(root = strataRoot(), warn: (msg: string) => void = () => {}): IndexDb {
  try {
    return IndexDb.open(root);
  } catch (err) {
    if (!(err instanceof StrataError && err.code === 'damaged')) throw err; // not damage (a full disk, say): nothing to move aside
    const aside = `${root}/index.damaged-${Date.now()}`;
    fs.renameSync(`${root}/index`, aside);
    warn(`${err.message.replace(/; remove it.*$/, '')}; moved it to ${aside} and rebuilding`);
    return IndexDb.open(root);
  }
}

/** The chain index of `lowersTopFirst`, building whatever is missing. */
export function prepareChain(db: IndexDb, lowersTopFirst: string[], progress?: Progress): ChainMeta {
  return db.locked(() => {
    const layers = [...lowersTopFirst].reverse().map((dir) => ensureLayerIndex(db, dir, progress));
    return ensureChainIndex(db, layers, (n) => progress?.('chain', n));
  });
}

/** The daemon's reader for a prepared chain; null when the chain is not (or no longer) there. */
export function chainReader(db: IndexDb, chainId: string, offset: number): ChainReader | null {
  const meta = db.chain(chainId);
  if (!meta) return null;
  const reader = new ChainReader(db, meta.num, meta.layers.length, offset);
  reader.root(); // throws now if the index is damaged, rather than on the first request
  return reader;
}
