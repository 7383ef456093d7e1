// The lower layers read on disk, with overlayfs's rules: the topmost layer that has a name answers;
// a whiteout hides the name in every layer below; a directory merges with directories of the same
// name below it until one is opaque; a non-directory below a directory ends the merge; a redirect
// xattr sends the lower part of a renamed directory's lookup to its origin path.
import fs from 'node:fs';
import { isDir, lstatOrNull, type Stat } from '../sys/stat.js';
import { getRedirect, isOpaque, isWhiteout } from '../sys/overlay-format.js';
import { fail, E } from '../sys/errors.js';
import type { LayerStack } from './layers.js';
import type { Entry, Listed, LowerView, Node } from './lower-view.js';

export class ProbeLowers implements LowerView {
  readonly indexed = false;

  constructor(private stack: LayerStack) {}

  root(): Entry[] {
    const dirs: Entry[] = [];
    for (let layer = this.stack.firstLower; layer < this.stack.roots.length; layer++) {
      const st = lstatOrNull(this.stack.real(layer, '')) ?? fail(E.ENOENT, `layer dir ${this.stack.roots[layer]} is gone`);
      dirs.push({ layer, rel: '', st });
      if (layer > 0 && isOpaque(this.stack.real(layer, ''))) break;
    }
    return dirs;
  }

  child(dirs: Entry[], name: string, path: string): Node | null {
    return this.scan(dirs, this.from(dirs), name, path, null);
  }

  merge(dirs: Entry[], target: string, into: Entry[]): void {
    if (target.startsWith('/')) into.push(...this.absolute(target, this.stack.firstLower));
    else this.scan(dirs, this.from(dirs), target, target, into);
  }

  list(dirs: Entry[], seen: Set<string>, out: Listed[]): void {
    for (let i = this.from(dirs); i < dirs.length; i++) listLayerDir(this.stack, dirs[i], seen, out);
  }

  has(dirs: Entry[], name: string): boolean {
    for (let i = this.from(dirs); i < dirs.length; i++) {
      const st = lstatOrNull(this.stack.real(dirs[i].layer, dirs[i].rel + '/' + name));
      if (st) return !isWhiteout(st);
    }
    return false;
  }

  stat(e: Entry): Stat | null {
    return lstatOrNull(this.stack.real(e.layer, e.rel));
  }

  dirsAt(rel: string): Entry[] {
    let dirs = this.root();
    for (const name of rel.split('/')) {
      if (!name) continue;
      const node = this.scan(dirs, 0, name, rel, null);
      if (!node?.dirs) return [];
      dirs = node.dirs;
    }
    return dirs;
  }

  /** Entries on disk carry no index dir id. */
  owns(e: Entry): boolean {
    return e.dirId === undefined;
  }

  /** Where the lower part of a merged dir's stack starts (after the upper dir's entry, if any). */
  private from(dirs: Entry[]): number {
    return dirs.length > 0 && this.stack.hasUpper && dirs[0].layer === 0 ? 1 : 0;
  }

  /**
   * `name` looked up down the layer dirs pdirs[from..]. With `into` (the stack of a dir above
   * them, top first), the lookup continues that dir's merge: only the dirs below are appended.
   */
  private scan(pdirs: Entry[], from: number, name: string, path: string, into: Entry[] | null): Node | null {
    let top: Entry | null = into ? into[0] : null;
    let dirs: Entry[] | null = into;
    for (let i = from; i < pdirs.length; i++) {
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

  /** The lower part of a dir renamed in layer pdirs[i]: its origin, looked up in the layers below. */
  private redirected(target: string, layer: number, pdirs: Entry[], i: number): Entry[] {
    if (!target.startsWith('/')) return this.scan(pdirs, i + 1, target, target, null)?.dirs ?? []; // the same parent, another name
    return this.absolute(target, layer + 1);
  }

  /** The dirs at an absolute redirect's path, walked from the roots of layers `fromLayer` and below. */
  private absolute(target: string, fromLayer: number): Entry[] {
    let dirs: Entry[] = [];
    for (let l = fromLayer; l < this.stack.roots.length; l++) dirs.push({ layer: l, rel: '', st: null as unknown as Stat });
    for (const name of target.split('/')) {
      if (!name) continue;
      const node = this.scan(dirs, 0, name, target, null);
      if (!node?.dirs) return [];
      dirs = node.dirs;
    }
    return dirs;
  }
}

/** One layer dir's names, read on disk: names already seen are skipped, whiteouts only hide. */
export function listLayerDir(stack: LayerStack, d: Entry, seen: Set<string>, out: Listed[]): void {
  const dirReal = stack.real(d.layer, d.rel);
  for (const name of fs.readdirSync(dirReal)) {
    if (seen.has(name)) continue;
    seen.add(name);
    const st = lstatOrNull(dirReal + '/' + name);
    if (!st || isWhiteout(st)) continue;
    out.push({ name, e: { layer: d.layer, rel: d.rel + '/' + name, st } });
  }
}
