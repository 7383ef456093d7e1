// Inode numbers of the merged view: one stable 32-bit number per backing object for the life of
// the mount. Objects of different layers never share a number even when their backing inode
// numbers collide; hard links in one layer share one; a copied-up object keeps its number.
// Keyed by layer, then device, then inode, in nested maps with number keys: a find over a large
// image visits every entry, and a string key per entry would cost memory and garbage.
import type { Entry } from './lower-view.js';

const ROOT_INO = 1;

export class InodeTable {
  private next = ROOT_INO + 1;

  /** `max`: the largest number a transport can carry (fuse-native: 32 bits; the kernel transport: 64, so never reached). */
  constructor(private max = 0xffffffff) {}
  private byLayer: Map<number, Map<number, number>>[] = [];

  private inos(layer: number, dev: number): Map<number, number> {
    const devs = (this.byLayer[layer] ??= new Map());
    let m = devs.get(dev);
    if (!m) devs.set(dev, (m = new Map()));
    return m;
  }

  /** The merged inode number of an entry; the root of the merged view is 1. */
  of(e: Entry, isRoot = false): number {
    if (isRoot) return ROOT_INO;
    const m = this.inos(e.layer, e.st.dev);
    let n = m.get(e.st.ino);
    if (n === undefined) {
      n = this.next++;
      if (this.next > this.max) this.next = ROOT_INO + 1; // wraps only at fuse-native's 32 bits
      m.set(e.st.ino, n);
    }
    return n;
  }

  /** The copy `to` (in the upper layer) carries on the number of `from`. */
  alias(from: Entry, toLayer: number, toDev: number, toIno: number): void {
    this.inos(toLayer, toDev).set(toIno, this.of(from));
  }

  /** The backing object is gone: its number may be handed to a reused backing inode again. */
  forget(layer: number, dev: number, ino: number): void {
    this.byLayer[layer]?.get(dev)?.delete(ino);
  }
}
