// The daemon's read side of a chain index: synchronous LMDB gets on the request path (no thread
// pool hop), decoded straight out of lmdb's reused buffer. Positions are turned from the chain's
// bottom-first numbering into the mount's layer numbers.
import { dirRange, entryKey, recDirId, recFlags, recLayer, recNmerge, recStat, recTail, REDIRECT } from './record.js';
import { isLnk, type Stat } from '../sys/stat.js';
import type { IndexDb } from './db.js';

/** A lower entry as the chain answers it. */
export interface Hit {
  layer: number; // the mount's layer number of the answering layer
  nmerge: number; // lower dirs merged at this path
  dirId: number; // dirs: where its children are
  st: Stat;
  target: Buffer | null; // symlinks: the target
}

export class ChainReader {
  private key = Buffer.alloc(8 + 1024);

  /**
   * @param count    layers in the chain
   * @param offset   the mount's layer number of the top lower (1 with an upper dir, else 0)
   */
  constructor(
    private db: IndexDb,
    private num: number,
    private count: number,
    private offset: number,
  ) {}

  root(): Hit {
    return this.get(0, '')!;
  }

  /** The entry `name` in the merged lower dir `dirId`, or null (also for whited-out names). */
  get(dirId: number, name: string): Hit | null {
    const b = this.db.entries.getBinaryFast(entryKey(this.key, this.num, dirId, name)) as Buffer | undefined;
    if (!b) return null;
    return this.hit(b, b.length);
  }

  /** Whether the merged lower dir has `name`, without decoding anything. */
  has(dirId: number, name: string): boolean {
    return this.db.entries.getBinaryFast(entryKey(this.key, this.num, dirId, name)) !== undefined;
  }

  /** A merged lower path (as a redirect names it), walked from the root. */
  resolve(path: string): Hit | null {
    let h: Hit | null = this.root();
    for (const name of path.split('/')) {
      if (!name) continue;
      if (!h.dirId) return null;
      h = this.get(h.dirId, name);
      if (!h) return null;
    }
    return h;
  }

  /** Every visible name of the merged lower dir, in one range scan. */
  list(dirId: number): [string, Hit][] {
    const out: [string, Hit][] = [];
    for (const { key, value } of this.db.entries.getRange(dirRange(this.num, dirId))) {
      out.push([key.subarray(8).toString(), this.hit(value, value.length)]);
    }
    return out;
  }

  private hit(b: Buffer, length: number): Hit {
    const st = recStat(b);
    const flags = recFlags(b);
    return {
      layer: this.offset + this.count - 1 - recLayer(b),
      nmerge: recNmerge(b),
      dirId: recDirId(b),
      st,
      target: isLnk(st.mode) && !(flags & REDIRECT) ? recTail(b, length) : null,
    };
  }
}
