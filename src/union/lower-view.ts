// A view of the lower layers of one mount: what the resolver asks about them. Two answer it, one
// probing the layer dirs on disk (probe-lowers.ts) and one reading a chain index (index-lowers.ts);
// fallback-lowers.ts hands over from the first that fails to the other. The upper dir is never
// part of a view: the resolver reads it live.
import type { Stat } from '../sys/stat.js';

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

/** One visible name of a merged dir, with the entry that answers it. */
export interface Listed {
  name: string;
  e: Entry;
}

/**
 * The lower layers of a mount, read-only: the layers never change while they are mounted.
 *
 * Every `dirs` argument is the stack of a merged directory as a Node holds it, top first; a view
 * reads only its lower entries (an upper dir's entry on top is skipped) and only entries it made
 * itself, unless `owns` says otherwise. Entries and nodes a view returns are fresh objects the
 * caller may keep. Missing names are null (or nothing appended), never an error; a view throws an
 * FsError for what the caller should see (ENOENT for a vanished layer root), and anything else
 * when the view itself broke (a wrapper may then hand over to another view).
 */
export interface LowerView {
  /** Whether answers come from a path index rather than from the layer dirs on disk. */
  readonly indexed: boolean;
  /** The lower dirs merged at the root, top first. */
  root(): Entry[];
  /** `name` in the lower part of the merged dir `dirs`, as the node of merged path `path`; null when no lower has it visibly. */
  child(dirs: Entry[], name: string, path: string): Node | null;
  /**
   * Append to `into` the lower dirs that an upper dir merges with: `target` is its own name in the
   * merged dir `dirs`, or what its redirect says (a sibling's name, or an absolute lower path).
   * Nothing is appended when the lowers hold no dir there.
   */
  merge(dirs: Entry[], target: string, into: Entry[]): void;
  /** Append the visible names of the lower part of `dirs` to `out`; names in `seen` (already listed above) are skipped. */
  list(dirs: Entry[], seen: Set<string>, out: Listed[]): void;
  /** Whether the lower part of `dirs` has `name` visibly (so deleting it needs a whiteout). */
  has(dirs: Entry[], name: string): boolean;
  /** A lower entry's attributes now: the same `st` object when they cannot have changed, null when it is gone. */
  stat(e: Entry): Stat | null;
  /** The lower dirs merged at lower path `rel` ('' or '/a/b'), walked from the root; [] when it is no dir. */
  dirsAt(rel: string): Entry[];
  /** Whether `e`, a lower dir's entry, is one this view made (a wrapper re-resolves the others). */
  owns(e: Entry): boolean;
}
