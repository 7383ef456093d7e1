// A chain's merged index: for an ordered stack of lower layers, every visible path with the record
// of the layer that answers it, whiteouts and opaque dirs already applied. Keyed by the OCI ChainID
// of the stack, so every mount of the same layers (and every image on the same base) shares it, and
// chain(L1..Ln) is derived from a stored chain(L1..Lk), k < n, plus the layers above it.
// A lookup is one get; a listing is one range scan.
import crypto from 'node:crypto';
import { isDir } from '../sys/stat.js';
import { dirRange, entryKey, recDirId, recFlags, recLayer, recMode, recNmerge, restamp, OPAQUE, REDIRECT, WHITEOUT } from './record.js';
import { IndexDb, IndexError, type ChainMeta, type LayerMeta } from './db.js';

/** OCI ChainID: ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). */
export function chainId(keysBottomFirst: string[]): string {
  let id = keysBottomFirst[0];
  for (let i = 1; i < keysBottomFirst.length; i++) {
    id =
      'sha256:' +
      crypto
        .createHash('sha256')
        .update(id + ' ' + keysBottomFirst[i])
        .digest('hex');
  }
  return id;
}

/** One node of the merged tree while a chain is built. `layer` counts from the bottom. */
interface MNode {
  rec: Buffer;
  layer: number;
  nmerge: number;
  kids: Map<string, MNode> | null;
}

/** The chain index of `layers` (bottom first): found, or derived from the longest stored prefix. */
export function ensureChainIndex(db: IndexDb, layers: LayerMeta[], progress?: (done: number) => void): ChainMeta {
  const keys = layers.map((l) => l.key);
  const id = chainId(keys);
  const have = db.chain(id);
  if (have) return have;
  const bad = layers.find((l) => l.redirects);
  if (bad) throw new IndexError(`layer ${bad.root} holds renamed directories (trusted.overlay.redirect), which the chain index does not follow`);
  let root: MNode | null = null;
  let from = 0;
  for (let k = keys.length - 1; k >= 1 && !root; k--) {
    const prefix = db.chain(chainId(keys.slice(0, k)));
    if (prefix) {
      root = loadChain(db, prefix.num);
      from = k;
    }
  }
  if (!root) {
    root = { rec: rootRecord(db, layers[0]), layer: 0, nmerge: 1, kids: new Map() };
    applyDir(db, root, layers[0].num, 1, 0);
    from = 1;
  }
  for (let b = from; b < layers.length; b++) {
    const r = rootRecord(db, layers[b]);
    if (recFlags(r) & OPAQUE) root.kids = new Map();
    root.rec = r;
    root.layer = b;
    root.nmerge++;
    applyDir(db, root, layers[b].num, 1, b);
    progress?.(b + 1);
  }
  return storeChain(db, id, keys, root);
}

function rootRecord(db: IndexDb, l: LayerMeta): Buffer {
  const v = db.entries.getBinary(entryKey(Buffer.alloc(8), l.num, 0, ''));
  if (!v) throw new IndexError(`the index of layer ${l.root} is incomplete`);
  return v;
}

/** Apply one layer's directory (its index `num`, dir `dirId`) and everything below it on top of the merged dir `into`. */
function applyDir(db: IndexDb, into: MNode, num: number, dirId: number, layer: number): void {
  const work: [MNode, number][] = [[into, dirId]]; // a work list, not recursion: layers may be thousands of dirs deep
  while (work.length > 0) {
    const [dir, id] = work.pop()!;
    const { start, end } = dirRange(num, id);
    const list = Array.from(db.entries.getRange({ start, end }), ({ key, value }) => [key.subarray(8).toString(), Buffer.from(value)] as const);
    const kids = dir.kids!;
    for (const [name, rec] of list) {
      const flags = recFlags(rec);
      if (flags & WHITEOUT) {
        kids.delete(name);
        continue;
      }
      if (flags & REDIRECT) throw new IndexError('renamed directory in a lower layer');
      if (!isDir(recMode(rec))) {
        kids.set(name, { rec, layer, nmerge: 1, kids: null });
        continue;
      }
      let node = kids.get(name);
      if (node && node.kids && !(flags & OPAQUE)) {
        node.rec = rec;
        node.layer = layer;
        node.nmerge++;
      } else {
        node = { rec, layer, nmerge: 1, kids: new Map() };
        kids.set(name, node);
      }
      work.push([node, recDirId(rec)]);
    }
  }
}

/** Read a stored chain back into a merged tree (to derive a longer chain from it). */
function loadChain(db: IndexDb, num: number): MNode {
  const r = db.entries.getBinary(entryKey(Buffer.alloc(8), num, 0, ''))!;
  const root: MNode = { rec: r, layer: recLayer(r), nmerge: recNmerge(r), kids: new Map() };
  const work: [MNode, number][] = [[root, 1]];
  while (work.length > 0) {
    const [node, dirId] = work.pop()!;
    const { start, end } = dirRange(num, dirId);
    for (const { key, value } of db.entries.getRange({ start, end })) {
      const rec = Buffer.from(value);
      const child: MNode = { rec, layer: recLayer(rec), nmerge: recNmerge(rec), kids: isDir(recMode(rec)) ? new Map() : null };
      node.kids!.set(key.subarray(8).toString(), child);
      if (child.kids) work.push([child, recDirId(rec)]);
    }
  }
  return root;
}

function storeChain(db: IndexDb, id: string, keys: string[], root: MNode): ChainMeta {
  const kb = Buffer.alloc(8 + 1024);
  return db.entries.transactionSync(() => {
    const num = db.nextNum();
    let nextDir = 2;
    let entries = 0;
    db.entries.putSync(entryKey(kb, num, 0, ''), restamp(root.rec, root.layer, root.nmerge, 1));
    const queue: [MNode, number][] = [[root, 1]];
    while (queue.length) {
      const [node, dirId] = queue.shift()!;
      for (const [name, c] of node.kids!) {
        const childId = c.kids ? nextDir++ : 0;
        db.entries.putSync(entryKey(kb, num, dirId, name), restamp(c.rec, c.layer, c.nmerge, childId));
        if (c.kids) queue.push([c, childId]);
        entries++;
      }
    }
    const meta: ChainMeta = { chainId: id, num, layers: keys, entries, builtAt: new Date().toISOString() };
    db.meta.putSync(`chain:${id}`, meta);
    return meta;
  });
}
