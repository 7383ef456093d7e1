// Inode numbers of the merged view: one stable number per backing object. Objects of different
// layers never share a number even when their backing inode numbers collide; hard links in one
// layer share one; a copied-up object keeps its number.
//
// Where the transport carries 64-bit numbers (the kernel transport), a number is computed, not
// remembered: the layer goes in the high bits and the backing inode number in the low 44, as
// overlayfs's xino does. Nothing grows with the entries a mount has seen, and the numbers are the
// same at every mount. Only what does not fit is numbered from a table: a copy-up (it keeps its
// lower number), a backing number of 2^44 or more, an object on another device than its layer's
// root (a mount inside a layer dir), a layer past the 511th.
// fuse-native carries 32 bits: there every number comes from the table.
// The table is keyed by layer, then device, then inode, in nested maps with number keys.
import type { Entry } from './lower-view.js';

const ROOT_INO = 1;
const INO_BITS = 2 ** 44;
const MAX_LAYERS = 2 ** 9 - 1; // (layer + 1) * 2^44 stays below 2^53

export class InodeTable {
  private next = ROOT_INO + 1;
  private byLayer: Map<number, Map<number, number>>[] = [];
  private computed: boolean;

  /**
   * `max`: the largest number a transport can carry (fuse-native: 32 bits; the kernel transport:
   * 2^53 - 1, which turns computed numbers on). `layerDevs`: the device of each layer's root.
   */
  constructor(
    private max = 0xffffffff,
    private layerDevs: number[] = [],
  ) {
    this.computed = max >= Number.MAX_SAFE_INTEGER;
  }

  private inos(layer: number, dev: number): Map<number, number> {
    const devs = (this.byLayer[layer] ??= new Map());
    let m = devs.get(dev);
    if (!m) devs.set(dev, (m = new Map()));
    return m;
  }

  /** The merged inode number of an entry; the root of the merged view is 1. */
  of(e: Entry, isRoot = false): number {
    if (isRoot) return ROOT_INO;
    const known = this.byLayer[e.layer]?.get(e.st.dev)?.get(e.st.ino);
    if (known !== undefined) return known;
    if (this.computable(e)) return (e.layer + 1) * INO_BITS + e.st.ino;
    const n = this.next++;
    if (this.next > (this.computed ? INO_BITS - 1 : this.max)) this.next = ROOT_INO + 1; // wraps only at fuse-native's 32 bits
    this.inos(e.layer, e.st.dev).set(e.st.ino, n);
    return n;
  }

  private computable(e: Entry): boolean {
    return this.computed && e.layer < MAX_LAYERS && e.st.ino < INO_BITS && e.st.dev === this.layerDevs[e.layer];
  }

  /** The copy `to` (in the upper layer) carries on the number of `from`. */
  alias(from: Entry, toLayer: number, toDev: number, toIno: number): void {
    this.inos(toLayer, toDev).set(toIno, this.of(from));
  }

  /** The backing object is gone: its number may be handed to a reused backing inode again. */
  forget(layer: number, dev: number, ino: number): void {
    this.byLayer[layer]?.get(dev)?.delete(ino);
  }

  /** How many numbers the table holds (computed ones take no room). */
  get size(): number {
    let n = 0;
    for (const devs of this.byLayer) for (const m of devs?.values() ?? []) n += m.size;
    return n;
  }
}
