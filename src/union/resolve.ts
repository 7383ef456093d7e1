// Lookup through the layer stack with overlayfs's rules: the topmost layer that has a name
// answers; a whiteout hides the name in every layer below; a directory merges with directories
// of the same name below it until one is opaque; a non-directory below a directory ends the merge;
// a redirect xattr sends the lower part of a renamed directory's lookup to its origin path.
import { isDir, lstatOrNull, type Stat } from './stat.js';
import { getRedirect, isOpaque, isWhiteout } from './overlay-format.js';
import { type LayerStack } from './layers.js';
import { fail, E } from './errors.js';

/** One layer's copy of a name. */
export interface Entry {
  layer: number;
  rel: string;
  st: Stat;
}

/** A resolved merged path: `top` answers it; a directory also lists every layer dir it merges. */
export interface Node {
  path: string;
  top: Entry;
  dirs: Entry[] | null;
}

export class Resolver {
  private dirCache = new Map<string, Node>();

  constructor(private stack: LayerStack) {}

  /** Forget cached directory stacks (after any change to which dirs exist, or their marks). */
  invalidate(): void {
    this.dirCache.clear();
  }

  /** Resolve a merged path; the answer's attributes are read now (the cache holds only stacks). */
  lookup(path: string): Node | null {
    const cached = path === '/' ? this.root() : this.dirCache.get(path);
    if (cached) {
      const top = cached.top;
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
    for (const pd of parent.dirs!) {
      if (pd.layer === 0 && this.stack.hasUpper) continue;
      const st = lstatOrNull(this.stack.real(pd.layer, pd.rel + '/' + name));
      if (st) return !isWhiteout(st);
    }
    return false;
  }
}
