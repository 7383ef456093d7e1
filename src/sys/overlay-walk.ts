// One walk over a dir in the overlayfs format (a layer dir or an upper dir): depth first, each dir
// before its contents, with no recursion, so a tree thousands of levels deep walks like any other.
// Whiteouts are told apart; opaque and redirect marks are read only when asked for (an xattr read
// per dir is not free). diff, commit's changeset, image waste, usage, the path index and its
// verification all walk with this.
import fs from 'node:fs';
import { getRedirect, isOpaque, isWhiteout } from './overlay-format.js';
import { isDir, lstat, type Stat } from './stat.js';

export interface WalkEntry {
  /** The path inside the walked root: '/a/b'. */
  rel: string;
  name: string;
  /** root + rel. */
  real: string;
  st: Stat;
  /** Levels below the root: 1 for the root's own entries. */
  depth: number;
  whiteout: boolean;
  dir: boolean;
  /** Set to false before asking for the next entry to leave this dir's contents out. */
  descend: boolean;
  opaque(): boolean;
  redirect(): string | null;
}

export interface WalkOptions {
  /** Each dir's entries in name order (default: the order readdir gives). */
  sorted?: boolean;
  /** Each dir's whiteouts before its other entries (an OCI changeset lists them first). */
  whiteoutsFirst?: boolean;
  /** Treat 0/0 character devices as whiteouts (default true; false for a plain dir). */
  overlay?: boolean;
}

function entry(root: string, rel: string, name: string, depth: number, overlay: boolean): WalkEntry {
  const real = root + rel;
  const st = lstat(real);
  const whiteout = overlay && isWhiteout(st);
  const dir = isDir(st.mode);
  return {
    rel,
    name,
    real,
    st,
    depth,
    whiteout,
    dir,
    descend: dir,
    opaque: () => dir && isOpaque(real),
    redirect: () => (dir ? getRedirect(real) : null),
  };
}

/** The entries of one dir of the walk, in the order the options ask for. */
function listing(root: string, rel: string, depth: number, o: WalkOptions): WalkEntry[] {
  const names = fs.readdirSync(root + (rel || '/'));
  if (o.sorted) names.sort();
  const out = names.map((n) => entry(root, `${rel}/${n}`, n, depth, o.overlay !== false));
  if (o.whiteoutsFirst) return [...out.filter((e) => e.whiteout), ...out.filter((e) => !e.whiteout)];
  return out;
}

/** Every entry under `root` (not the root itself), each dir before what it holds. */
export function* walkOverlay(root: string, o: WalkOptions = {}): Generator<WalkEntry> {
  const stack: WalkEntry[] = listing(root, '', 1, o).reverse();
  while (stack.length > 0) {
    const e = stack.pop()!;
    yield e;
    if (e.dir && e.descend && !e.whiteout) {
      const children = listing(root, e.rel, e.depth + 1, o);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    }
  }
}
