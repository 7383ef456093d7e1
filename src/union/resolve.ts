// Lookup through the layer stack with overlayfs's rules: the topmost layer that has a name
// answers; a whiteout hides the name in every layer below; a directory merges with directories
// of the same name below it until one is opaque; a non-directory below a directory ends the merge;
// a redirect xattr sends the lower part of a renamed directory's lookup to its origin path.
import fs from 'node:fs';
import { isDir, lstatOrNull, type Stat } from '../sys/stat.js';
import { getRedirect, isOpaque, isWhiteout } from '../sys/overlay-format.js';
import { type LayerStack } from './layers.js';
import { fail, E, FsError } from '../sys/errors.js';
import type { ChainReader, Hit } from '../index/chain-reader.js';

/** One layer's copy of a name. */
export interface Entry {
  layer: number;
  rel: string;
  st: Stat;
  /** From a chain index: the merged lower dir's id, how many layer dirs it merges, a link target. */
  dirId?: number;
  nmerge?: number;
  target?: Buffer | null;
}

/** A resolved merged path: `top` answers it; a directory also lists every layer dir it merges. */
export interface Node {
  path: string;
  top: Entry;
  dirs: Entry[] | null;
}

/** How many layer dirs a directory node merges (overlayfs reports nlink 1 when more than one). */
export const mergedCount = (n: Node) => n.dirs?.reduce((sum, d) => sum + (d.nmerge ?? 1), 0) ?? 0;

export class Resolver {
  private dirCache = new Map<string, Node>();

  /**
   * With a chain index, the lower layers are answered from it (one get per lookup, one range scan
   * per listing, whatever the number of layers); the upper dir is always read live. Without one,
   * every layer is probed on disk.
   */
  constructor(private stack: LayerStack, private chain: ChainReader | null = null, private onChainError?: (err: Error) => void) {}

  get indexed(): boolean {
    return this.chain !== null;
  }

  /** An index that fails mid-mount is dropped: the mount carries on probing the layers on disk. */
  private chainFailed(err: unknown): void {
    if (err instanceof FsError) throw err;
    this.chain = null;
    this.invalidate();
    this.onChainError?.(err as Error);
  }

  /** Forget cached directory stacks (after any change to which dirs exist, or their marks). */
  invalidate(): void {
    this.dirCache.clear();
  }

  /** Resolve a merged path; the answer's attributes are read now (the cache holds only stacks). */
  lookup(path: string): Node | null {
    const cached = path === '/' ? this.root() : this.dirCache.get(path);
    if (cached) {
      const top = cached.top;
      if (top.dirId !== undefined) return cached; // a lower dir from the index: layers never change
      const st = lstatOrNull(this.stack.real(top.layer, top.rel));
      if (st && isDir(st.mode)) return { ...cached, top: { ...top, st } };
      this.invalidate(); // changed behind our back: resolve afresh
    }
    return this.walk(path);
  }

  /** The layer stack of a path, from the cache where possible (stats of cached dirs may be old). */
  private walk(path: string): Node | null {
    if (path === '/') return this.root();
    const cached = this.dirCache.get(path);
    if (cached) return cached;
    const i = path.lastIndexOf('/');
    const parent = this.walk(i === 0 ? '/' : path.slice(0, i));
    if (!parent) return null;
    if (!parent.dirs) fail(E.ENOTDIR);
    const node = this.child(parent, path.slice(i + 1));
    if (node?.dirs) this.dirCache.set(path, node);
    return node;
  }

  /** Like lookup, but ENOENT when missing. */
  get(path: string): Node {
    return this.lookup(path) ?? fail(E.ENOENT);
  }

  private root(): Node {
    let node = this.dirCache.get('/');
    if (node) return node;
    if (this.chain) {
      try {
        const dirs: Entry[] = [];
        if (this.stack.hasUpper) dirs.push({ layer: 0, rel: '', st: lstatOrNull(this.stack.real(0, '')) ?? fail(E.ENOENT, `upper dir ${this.stack.upper} is gone`) });
        dirs.push(lowerEntry(this.chain.root(), ''));
        node = { path: '/', top: dirs[0], dirs };
        this.dirCache.set('/', node);
        return node;
      } catch (err) {
        this.chainFailed(err);
      }
    }
    const dirs: Entry[] = [];
    for (let layer = 0; layer < this.stack.roots.length; layer++) {
      const st = lstatOrNull(this.stack.real(layer, '')) ?? fail(E.ENOENT, `layer dir ${this.stack.roots[layer]} is gone`);
      const e = { layer, rel: '', st };
      dirs.push(e);
      if (layer > 0 && isOpaque(this.stack.real(layer, ''))) break;
    }
    node = { path: '/', top: dirs[0], dirs };
    this.dirCache.set('/', node);
    return node;
  }

  /** Resolve `name` inside a merged directory. */
  child(parent: Node, name: string): Node | null {
    const path = parent.path === '/' ? '/' + name : parent.path + '/' + name;
    return this.childIn(parent.dirs!, name, path);
  }

  private childIn(pdirs: Entry[], name: string, path: string): Node | null {
    if (this.chain) {
      try {
        return this.childInChain(pdirs, name, path);
      } catch (err) {
        this.chainFailed(err);
        return this.walk(path); // the parent's stack came from the index too: resolve afresh
      }
    }
    let top: Entry | null = null;
    let dirs: Entry[] | null = null;
    for (let i = 0; i < pdirs.length; i++) {
      const pd = pdirs[i];
      const rel = pd.rel + '/' + name;
      const real = this.stack.real(pd.layer, rel);
      const st = lstatOrNull(real);
      if (!st) continue;
      if (isWhiteout(st)) break;
      if (top && !isDir(st.mode)) break;
      const e: Entry = { layer: pd.layer, rel, st };
      if (!top) {
        top = e;
        if (!isDir(st.mode)) break;
        dirs = [e];
      } else {
        dirs!.push(e);
      }
      if (isOpaque(real)) break;
      const redirect = getRedirect(real);
      if (redirect !== null) {
        dirs!.push(...this.redirected(redirect, pd.layer, pdirs, i));
        break;
      }
    }
    if (!top) return null;
    return { path, top, dirs };
  }

  /** The upper dir probed live, then the lower part answered by the chain index. */
  private childInChain(pdirs: Entry[], name: string, path: string): Node | null {
    const chain = this.chain!;
    const up = this.stack.hasUpper && pdirs[0].layer === 0 ? pdirs[0] : null;
    const last = pdirs[pdirs.length - 1];
    const low = last.dirId !== undefined ? last : null;
    if (up) {
      const rel = up.rel + '/' + name;
      const real = this.stack.real(0, rel);
      const st = lstatOrNull(real);
      if (st) {
        if (isWhiteout(st)) return null;
        const e: Entry = { layer: 0, rel, st };
        if (!isDir(st.mode)) return { path, top: e, dirs: null };
        const dirs = [e];
        if (!isOpaque(real)) {
          const redirect = getRedirect(real);
          let lrel = low ? low.rel + '/' + (redirect ?? name) : '';
          let h: Hit | null = null;
          if (redirect?.startsWith('/')) {
            h = chain.resolve(redirect);
            lrel = redirect;
          } else if (low) {
            h = chain.get(low.dirId!, redirect ?? name);
          }
          if (h?.dirId) dirs.push(lowerEntry(h, lrel));
        }
        return { path, top: e, dirs };
      }
    }
    if (!low) return null;
    const h = chain.get(low.dirId!, name);
    if (!h) return null;
    const e = lowerEntry(h, low.rel + '/' + name);
    return { path, top: e, dirs: h.dirId ? [e] : null };
  }

  /** Every visible name of a merged directory, with the entry that answers it. */
  list(node: Node): { name: string; e: Entry }[] {
    if (this.chain) {
      try {
        return this.listChain(node);
      } catch (err) {
        this.chainFailed(err);
        return this.list(this.get(node.path));
      }
    }
    const seen = new Set<string>();
    const out: { name: string; e: Entry }[] = [];
    for (const d of node.dirs!) this.listLayerDir(d, seen, out);
    return out;
  }

  /** One layer dir's names, read on disk: names already seen are skipped, whiteouts only hide. */
  private listLayerDir(d: Entry, seen: Set<string>, out: { name: string; e: Entry }[]): void {
    const dirReal = this.stack.real(d.layer, d.rel);
    for (const name of fs.readdirSync(dirReal)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const st = lstatOrNull(dirReal + '/' + name);
      if (!st || isWhiteout(st)) continue;
      out.push({ name, e: { layer: d.layer, rel: d.rel + '/' + name, st } });
    }
  }

  private listChain(node: Node): { name: string; e: Entry }[] {
    const out: { name: string; e: Entry }[] = [];
    const seen = new Set<string>();
    const dirs = node.dirs!;
    if (this.stack.hasUpper && dirs[0].layer === 0) this.listLayerDir(dirs[0], seen, out);
    const low = dirs[dirs.length - 1];
    if (low.dirId === undefined) return out;
    for (const [name, h] of this.chain!.list(low.dirId)) {
      if (!seen.has(name)) out.push({ name, e: lowerEntry(h, low.rel + '/' + name) });
    }
    return out;
  }

  /** The lower part of a renamed directory: its origin, looked up in the layers below `layer`. */
  private redirected(target: string, layer: number, pdirs: Entry[], i: number): Entry[] {
    if (!target.startsWith('/')) {
      // Relative redirect: the same parent, another name.
      const node = this.childIn(pdirs.slice(i + 1), target, target);
      return node?.dirs ?? [];
    }
    let dirs: Entry[] = [];
    for (let l = layer + 1; l < this.stack.roots.length; l++) dirs.push({ layer: l, rel: '', st: null as unknown as Stat });
    for (const name of target.split('/').filter(Boolean)) {
      const node = this.childIn(dirs, name, target);
      if (!node?.dirs) return [];
      dirs = node.dirs;
    }
    return dirs;
  }

  /** Whether any layer below the top one still has the name (so deleting it needs a whiteout). */
  lowerHas(parent: Node, name: string): boolean {
    const last = parent.dirs![parent.dirs!.length - 1];
    if (this.chain && last.dirId !== undefined && (last.layer !== 0 || !this.stack.hasUpper)) {
      try {
        return this.chain.has(last.dirId, name);
      } catch (err) {
        this.chainFailed(err);
        return this.lowerHas(this.get(parent.path), name);
      }
    }
    for (const pd of parent.dirs!) {
      if (pd.layer === 0 && this.stack.hasUpper) continue;
      const st = lstatOrNull(this.stack.real(pd.layer, pd.rel + '/' + name));
      if (st) return !isWhiteout(st);
    }
    return false;
  }
}

function lowerEntry(h: Hit, rel: string): Entry {
  return { layer: h.layer, rel, st: h.st, dirId: h.dirId || undefined, nmerge: h.nmerge, target: h.target };
}
