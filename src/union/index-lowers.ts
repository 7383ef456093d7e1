// The lower layers answered by a chain index: every lookup one get, every listing one range scan,
// whatever the number of layers. A merged lower dir is one entry (its dirId names its children in
// the index; nmerge counts the layer dirs it merges). Layers never change, so nothing is re-read.
import type { ChainReader, Hit } from '../index/chain-reader.js';
import type { Stat } from '../sys/stat.js';
import type { Entry, Listed, LowerView, Node } from './lower-view.js';

export class IndexLowers implements LowerView {
  readonly indexed = true;

  constructor(private chain: ChainReader) {}

  root(): Entry[] {
    return [lowerEntry(this.chain.root(), '')];
  }

  child(dirs: Entry[], name: string, path: string): Node | null {
    const low = dirs[dirs.length - 1];
    if (low.dirId === undefined) return null;
    const h = this.chain.get(low.dirId, name);
    if (!h) return null;
    const e = lowerEntry(h, low.rel + '/' + name);
    return { path, top: e, dirs: h.dirId ? [e] : null };
  }

  merge(dirs: Entry[], target: string, into: Entry[]): void {
    const low = dirs[dirs.length - 1];
    let h: Hit | null = null;
    let rel = target;
    if (target.startsWith('/')) {
      h = this.chain.resolve(target);
    } else if (low.dirId !== undefined) {
      h = this.chain.get(low.dirId, target);
      rel = low.rel + '/' + target;
    }
    if (h?.dirId) into.push(lowerEntry(h, rel));
  }

  list(dirs: Entry[], seen: Set<string>, out: Listed[]): void {
    const low = dirs[dirs.length - 1];
    if (low.dirId === undefined) return;
    // The whole range is read before anything is appended: a failing index leaves `out` as it was.
    for (const [name, h] of this.chain.list(low.dirId)) {
      if (!seen.has(name)) out.push({ name, e: lowerEntry(h, low.rel + '/' + name) });
    }
  }

  has(dirs: Entry[], name: string): boolean {
    const low = dirs[dirs.length - 1];
    return low.dirId !== undefined && this.chain.has(low.dirId, name);
  }

  stat(e: Entry): Stat {
    return e.st;
  }

  dirsAt(rel: string): Entry[] {
    const h = this.chain.resolve(rel);
    return h?.dirId ? [lowerEntry(h, rel)] : [];
  }

  /** Only the index's entries carry a dir id. */
  owns(e: Entry): boolean {
    return e.dirId !== undefined;
  }
}

function lowerEntry(h: Hit, rel: string): Entry {
  return { layer: h.layer, rel, st: h.st, dirId: h.dirId || undefined, nmerge: h.nmerge, target: h.target };
}
