// A layer's index: every path of one layer dir with its attributes, link target, whiteout and
// opaque marks, keyed [index number, dir id, name] so that one directory is one range. Built once
// by a scan; a layer never changes, so the index is reused by every later mount. An ad-hoc lower
// dir is known by its device and inode, and checked against a fingerprint of all its directories
// (their inode, mtime and ctime, which change whenever a name is added, removed or renamed).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { lstat, lstatOrNull, isDir, isLnk } from '../sys/stat.js';
import { isOpaque } from '../sys/overlay-format.js';
import { PathReach, walkOverlay } from '../sys/overlay-walk.js';
import { encodeRecord, entryKey, OPAQUE, REDIRECT, WHITEOUT } from './record.js';
import { IndexDb, IndexError, type LayerMeta } from './db.js';

/** Called now and then while a layer or chain is indexed: what (a dir, or "chain"), and how far. */
export type Progress = (what: string, done: number) => void;

/** The fingerprint of a layer dir: every directory's identity and change times, in index order. */
export function fingerprint(root: string, dirs: string[]): string | null {
  const h = crypto.createHash('sha256');
  const reach = new PathReach(); // dirs deeper than a path the kernel takes (in index order: anchors are reused)
  try {
    for (const rel of dirs) {
      const st = lstatOrNull(reach.short(root + rel));
      if (!st || !isDir(st.mode)) return null;
      h.update(`${rel}\0${st.ino}:${st.mtimeSec}.${st.mtimeNsec}:${st.ctimeSec}.${st.ctimeNsec}\n`);
    }
  } catch (err) {
    // An ancestor of a deep dir is gone (or no dir any more): the layer changed.
    if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  } finally {
    reach.close();
  }
  return h.digest('hex');
}

/**
 * The index of a lower dir: reused when its fingerprint still matches, otherwise (re)built.
 * A dir that changed since it was indexed gets a new key, so no chain built on the old one is used.
 */
export function ensureLayerIndex(db: IndexDb, root: string, progress?: Progress): LayerMeta {
  const st = lstatOrNull(root);
  if (!st || !isDir(st.mode)) throw new IndexError(`layer dir ${root} is gone`);
  const known = db.layerByDir(st.dev, st.ino);
  if (known && known.root === root && fingerprint(root, known.dirs) === known.fingerprint) return known;
  if (known) forgetLayer(db, known);
  return buildLayerIndex(db, root, progress);
}

function forgetLayer(db: IndexDb, m: LayerMeta): void {
  db.dropEntries(m.num);
  for (const c of db.chains()) {
    if (!c.layers.includes(m.key)) continue;
    db.dropEntries(c.num);
    db.meta.removeSync(`chain:${c.chainId}`);
  }
  db.meta.removeSync(`layer:${m.key}`);
}

export function buildLayerIndex(db: IndexDb, root: string, progress?: Progress): LayerMeta {
  const rootSt = lstat(root);
  const key = Buffer.alloc(8 + 1024);
  const dirs: string[] = [''];
  let entries = 0;
  let redirects = false;
  // One transaction: the index and its description appear whole or not at all.
  return db.entries.transactionSync(() => {
    const num = db.nextNum();
    const rootFlags = isOpaque(root) ? OPAQUE : 0;
    db.entries.putSync(entryKey(key, num, 0, ''), encodeRecord({ flags: rootFlags, nmerge: 1, layer: 0, dirId: 1, st: rootSt, tail: null }));
    // Depth first, so an entry's parent is the dir last entered one level up: its id is ids[depth - 1].
    const ids = [1];
    for (const e of walkOverlay(root)) {
      let flags = 0;
      let tail: Buffer | null = null;
      let childId = 0;
      if (e.whiteout) flags |= WHITEOUT;
      else if (isLnk(e.st.mode)) tail = fs.readlinkSync(e.real, { encoding: 'buffer' });
      else if (e.dir) {
        childId = dirs.length + 1; // 1 is the root
        dirs.push(e.rel);
        ids[e.depth] = childId;
        if (e.opaque()) flags |= OPAQUE;
        const r = e.redirect();
        if (r !== null) {
          flags |= REDIRECT;
          tail = Buffer.from(r);
          redirects = true;
        }
      }
      db.entries.putSync(entryKey(key, num, ids[e.depth - 1], e.name), encodeRecord({ flags, nmerge: 1, layer: 0, dirId: childId, st: e.st, tail }));
      if (++entries % 5000 === 0) progress?.(root, entries);
    }
    progress?.(root, entries);
    const fp = fingerprint(root, dirs);
    if (fp === null) throw new IndexError(`layer dir ${root} changed while it was being indexed`);
    const id = 'sha256:' + crypto.createHash('sha256').update(`strata-dir ${rootSt.dev} ${rootSt.ino} ${fp}`).digest('hex');
    const meta: LayerMeta = {
      key: id,
      num,
      root,
      dev: rootSt.dev,
      ino: rootSt.ino,
      fingerprint: fp,
      dirs,
      entries,
      redirects,
      builtAt: new Date().toISOString(),
    };
    db.meta.putSync(`layer:${id}`, meta);
    db.meta.putSync(`dir:${rootSt.dev}:${rootSt.ino}`, id);
    return meta;
  });
}
