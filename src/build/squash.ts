// build --squash: the layers a build added on its base image merged into one, as docker's
// SquashImage does: the image keeps the base's layers plus one, and every history entry, the
// build's own marked empty_layer, with a last entry "merge ID to BASE". The layers are applied,
// oldest first, onto a temp dir in the overlay format with overlay's rules (a whiteout removes
// what earlier layers made; an opaque dir, or a dir over a whiteout, hides what was there), and
// that dir is committed against the base: a whiteout or opaque mark stays only where the base
// has the path, so a file made and removed within the build is not in the layer at all.
import fs from 'node:fs';
import { check } from '../sys/errors.js';
import { native } from '../sys/native.js';
import { isPrivateXattr, isWhiteout, makeWhiteout, setOpaque } from '../sys/overlay-format.js';
import { walkOverlay, type WalkEntry } from '../sys/overlay-walk.js';
import { removeTree } from '../sys/remove-tree.js';
import { isDir, isLnk, isReg, lstatOrNull, type Stat } from '../sys/stat.js';
import { Union } from '../union/union.js';
import { statOrNull } from '../union/stat-or-null.js';
import type { ImageRecord, Store } from '../store/store.js';
import { cacheKey } from './cache-key.js';

const S = fs.constants;

/** `img` with the layers above `base`'s (null: FROM scratch, every layer) merged into one; cached as a step of `img`. */
export function squash(s: Store, img: ImageRecord, base: ImageRecord | null, cache: boolean): ImageRecord {
  const below = base?.layers ?? [];
  if (img.layers.length <= below.length || below.some((d, i) => img.layers[i] !== d)) return img; // nothing of its own to merge
  const key = cacheKey(img, `SQUASH onto ${base?.id ?? 'scratch'}`);
  const cached = cache ? s.cachedImage(key) : undefined;
  if (cached) return cached;
  const baseHas = inImage(s, base);
  const tmp = s.tmpPath('squash');
  fs.mkdirSync(tmp, { mode: 0o755 });
  try {
    for (const d of img.layers.slice(below.length)) applyLayer(s.layerDir(d), tmp, baseHas);
    const config = structuredClone(s.config(img));
    const kept = base ? s.config(base).history.length : 0;
    const now = new Date().toISOString();
    config.history = [
      ...config.history.map((h, i) => (i < kept ? h : { ...h, empty_layer: true })),
      { created: now, comment: base ? `merge ${img.id} to ${base.id}` : `create new from ${img.id}` },
    ];
    config.created = now;
    const out = s.addLayerFromTree(tmp, { overlay: true, lowerHas: baseHas }, (layer) => {
      config.rootfs = { type: 'layers' as const, diff_ids: [...below, layer.diffId] };
      return s.addImage(config, undefined, img.id);
    });
    s.cacheStep(key, out.id);
    return out;
  } finally {
    removeTree(tmp);
  }
}

/** Whether the image's merged layers have a path ('/a/b'); nothing for scratch. */
function inImage(s: Store, img: ImageRecord | null): (p: string) => boolean {
  if (!img || img.layers.length === 0) return () => false;
  const u = new Union({ lowers: s.lowers(img) });
  return (p) => statOrNull(u, p) !== null;
}

/** One layer dir applied onto `dst` (an upper dir in the making) with overlay's rules. */
function applyLayer(layer: string, dst: string, baseHas: (p: string) => boolean): void {
  const links = new Map<string, string>(); // dev:ino of a file with several names in this layer -> where its first went
  const dirs: [WalkEntry['st'], string][] = [];
  for (const e of walkOverlay(layer, { overlay: true })) {
    const to = dst + e.rel;
    const cur = lstatOrNull(to);
    if (e.whiteout) {
      if (cur) removeTree(to);
      if (baseHas(e.rel)) makeWhiteout(to);
      continue;
    }
    if (e.dir) {
      const opaque = e.opaque();
      const hides = opaque || (cur !== null && isWhiteout(cur)); // a dir over a whiteout hides the base's too
      if (cur && (!isDir(cur.mode) || opaque)) removeTree(to);
      if (!cur || !isDir(cur.mode) || opaque) {
        fs.mkdirSync(to);
        if (hides) setOpaque(to); // kept by the commit only where the base has the dir
      }
      setAttrs(e.real, to, e.st);
      dirs.push([e.st, to]);
      continue;
    }
    if (cur) removeTree(to);
    const st = e.st;
    const id = `${st.dev}:${st.ino}`;
    if (isReg(st.mode) && st.nlink > 1 && links.has(id)) {
      fs.linkSync(links.get(id)!, to);
      continue;
    }
    if (isReg(st.mode)) {
      fs.copyFileSync(e.real, to, fs.constants.COPYFILE_FICLONE);
      if (st.nlink > 1) links.set(id, to);
    } else if (isLnk(st.mode)) fs.symlinkSync(fs.readlinkSync(e.real), to);
    else if ([S.S_IFCHR, S.S_IFBLK, S.S_IFIFO].includes(st.mode & S.S_IFMT)) check(native.mknod(to, st.mode, st.rdev));
    else continue; // a socket: not a layer's
    setAttrs(e.real, to, st);
    check(native.lutimens(to, st.atimeSec, st.atimeNsec, st.mtimeSec, st.mtimeNsec));
  }
  // dir times last: what was made in them changed them
  for (const [st, to] of dirs.reverse()) check(native.lutimens(to, st.atimeSec, st.atimeNsec, st.mtimeSec, st.mtimeNsec));
}

/** Owner, mode and the user's xattrs of `from` on `to` (the overlay's own marks are not copied). */
function setAttrs(from: string, to: string, st: Stat): void {
  fs.lchownSync(to, st.uid, st.gid);
  if (!isLnk(st.mode)) fs.chmodSync(to, st.mode & 0o7777);
  const names = native.llistxattr(from);
  if (!Array.isArray(names)) return;
  for (const n of names) {
    if (isPrivateXattr(n)) continue;
    const v = native.lgetxattr(from, n);
    if (typeof v !== 'number') check(native.lsetxattr(to, n, v, 0));
  }
}
