// Lookup of merged paths: the upper dir read live, the lower layers through one LowerView (probing
// them on disk, or a chain index), with overlayfs's rules at the seam: a whiteout in the upper dir
// hides the name below, an opaque upper dir merges with nothing, a redirect sends the lower part of
// a renamed dir to its origin. Directory stacks are cached; attributes are read at every lookup.
import { isDir, lstatOrNull } from '../sys/stat.js';
import { getRedirect, isOpaque, isWhiteout } from '../sys/overlay-format.js';
import { type LayerStack } from './layers.js';
import { fail, E } from '../sys/errors.js';
import { listLayerDir } from './probe-lowers.js';
import type { Entry, Listed, LowerView, Node } from './lower-view.js';

/** How many layer dirs a directory node merges (overlayfs reports nlink 1 when more than one). */
export const mergedCount = (n: Node) => n.dirs?.reduce((sum, d) => sum + (d.nmerge ?? 1), 0) ?? 0;

export class Resolver {
  private dirCache = new Map<string, Node>();

  constructor(
    private stack: LayerStack,
    private lower: LowerView,
  ) {}

  /** Whether the lower layers are answered from a path index. */
  get indexed(): boolean {
    return this.lower.indexed;
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
      const st = this.isUpper(top) ? this.stack.lstatRel(0, top.rel) : this.lower.stat(top);
      if (st === top.st) return cached; // attributes that cannot change (a lower dir in an index)
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

  /** A merged dir's layer stack, cached, with attributes that may be old: for a caller that needs only which layers hold it. */
  stackOf(path: string): Node {
    return this.walk(path) ?? fail(E.ENOENT);
  }

  /** Like lookup, but ENOENT when missing. */
  get(path: string): Node {
    return this.lookup(path) ?? fail(E.ENOENT);
  }

  private root(): Node {
    let node = this.dirCache.get('/');
    if (node) return node;
    const dirs: Entry[] = [];
    if (this.stack.hasUpper) {
      const st = lstatOrNull(this.stack.real(0, '')) ?? fail(E.ENOENT, `upper dir ${this.stack.upper} is gone`);
      dirs.push({ layer: 0, rel: '', st });
    }
    for (const e of this.lower.root()) dirs.push(e);
    node = { path: '/', top: dirs[0], dirs };
    this.dirCache.set('/', node);
    return node;
  }

  /** Resolve `name` inside a merged directory: the upper dir first, then the lower view. */
  child(parent: Node, name: string): Node | null {
    const path = parent.path === '/' ? '/' + name : parent.path + '/' + name;
    const pdirs = parent.dirs!;
    if (this.isUpper(pdirs[0])) {
      const rel = pdirs[0].rel + '/' + name;
      const real = this.stack.real(0, rel);
      const st = this.stack.lstatRel(0, rel); // through the upper root's fd: a shorter walk than `real`'s
      if (st) {
        if (isWhiteout(st)) return null;
        const e: Entry = { layer: 0, rel, st };
        if (!isDir(st.mode)) return { path, top: e, dirs: null };
        const dirs = [e];
        if (!isOpaque(real)) this.lower.merge(pdirs, getRedirect(real) ?? name, dirs);
        return { path, top: e, dirs };
      }
    }
    return this.lower.child(pdirs, name, path);
  }

  /**
   * `name` in merged dir `parent`, where a listing of the same lower stack found it answered by
   * the lower non-dir `lower`: only the upper dir is looked at again (lowers never change).
   */
  listedChild(parent: Node, name: string, lower: Entry): Node | null {
    const pdirs = parent.dirs!;
    if (this.isUpper(pdirs[0]) && this.stack.lstatRel(0, pdirs[0].rel + '/' + name)) return this.child(parent, name);
    return { path: parent.path === '/' ? '/' + name : parent.path + '/' + name, top: lower, dirs: null };
  }

  /** The lower stack a merged dir's listing came from, when an index answers it (a changed stack lists anew). */
  lowerStackOf(node: Node): number | undefined {
    const low = node.dirs?.[node.dirs.length - 1];
    return low && low.layer !== 0 ? low.dirId : undefined;
  }

  /** `name` in a merged directory's lower layers only (the caller has looked at the upper dir itself). */
  lowerChild(parent: Node, name: string): Node | null {
    return this.lower.child(parent.dirs!, name, parent.path === '/' ? '/' + name : parent.path + '/' + name);
  }

  /** Every visible name of a merged directory, with the entry that answers it. */
  list(node: Node): Listed[] {
    const seen = new Set<string>();
    const out: Listed[] = [];
    const dirs = node.dirs!;
    if (this.isUpper(dirs[0])) listLayerDir(this.stack, dirs[0], seen, out);
    this.lower.list(dirs, seen, out);
    return out;
  }

  /** Whether any layer below the top one still has the name (so deleting it needs a whiteout). */
  lowerHas(parent: Node, name: string): boolean {
    return this.lower.has(parent.dirs!, name);
  }

  private isUpper(e: Entry): boolean {
    return this.stack.hasUpper && e.layer === 0;
  }
}
