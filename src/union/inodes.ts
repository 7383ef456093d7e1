// Inode numbers of the merged view: one stable 32-bit number per backing object for the life of
// the mount. Objects of different layers never share a number even when their backing inode
// numbers collide; hard links in one layer share one; a copied-up object keeps its number.
import type { Entry } from './resolve.js';

const ROOT_INO = 1;

export class InodeTable {
  private next = ROOT_INO + 1;
  private byKey = new Map<string, number>();

  private key(layer: number, dev: number, ino: number): string {
    return layer + ':' + dev + ':' + ino;
  }

  /** The merged inode number of an entry; the root of the merged view is 1. */
  of(e: Entry, isRoot = false): number {
    if (isRoot) return ROOT_INO;
    const k = this.key(e.layer, e.st.dev, e.st.ino);
    let n = this.byKey.get(k);
    if (n === undefined) {
      n = this.next++;
      if (this.next > 0xffffffff) this.next = ROOT_INO + 1; // fuse-native passes 32 bits
      this.byKey.set(k, n);
    }
    return n;
  }

  /** The copy `to` (in the upper layer) carries on the number of `from`. */
  alias(from: Entry, toLayer: number, toDev: number, toIno: number): void {
    this.byKey.set(this.key(toLayer, toDev, toIno), this.of(from));
  }

  /** The backing object is gone: its number may be handed to a reused backing inode again. */
  forget(layer: number, dev: number, ino: number): void {
    this.byKey.delete(this.key(layer, dev, ino));
  }
}
