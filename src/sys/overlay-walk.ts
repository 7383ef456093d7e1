// One walk over a dir in the overlayfs format (a layer dir or an upper dir): depth first, each dir
// before its contents, with no recursion, so a tree thousands of levels deep walks like any other.
// Whiteouts are told apart; opaque and redirect marks are read only when asked for (an xattr read
// per dir is not free). diff, commit's changeset, image waste, usage, the path index and its
// verification all walk with this. A path longer than one syscall takes (PATH_MAX, 4096 bytes) is
// reached through an open fd of an ancestor dir, as /proc/self/fd/N/rest.
import fs from 'node:fs';
import { getRedirect, isOpaque, isWhiteout } from './overlay-format.js';
import { isDir, lstat, type Stat } from './stat.js';

export interface WalkEntry {
  /** The path inside the walked root: '/a/b'. */
  rel: string;
  name: string;
  /**
   * A path to the entry: root + rel, or for a very deep entry one through an open fd of an
   * ancestor, valid until the walk leaves the entry's dir (use it before asking for more entries).
   */
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

/** Paths longer than this are reached through an fd of an ancestor (a name adds at most 256 bytes). */
const LONG = 512;
const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

/**
 * Short forms of long paths, through open fds of their ancestors (anchors), which are kept for the
 * next path while it shares them: paths in walk order (a dir, then what is below it) reuse them.
 */
export class PathReach {
  private anchors: { prefix: string; fd: number }[] = [];

  /** A path the kernel takes for `path`, valid until the next call or close(); throws as open(2) if an ancestor is missing. */
  short(path: string): string {
    if (path.length <= LONG) return path;
    while (this.anchors.length > 0 && !path.startsWith(this.anchors.at(-1)!.prefix + '/')) fs.closeSync(this.anchors.pop()!.fd);
    const top = this.anchors.at(-1);
    let p = top ? `/proc/self/fd/${top.fd}${path.slice(top.prefix.length)}` : path;
    while (p.length > LONG) {
      const cut = p.lastIndexOf('/', LONG);
      const fd = fs.openSync(p.slice(0, cut), O_DIR);
      this.anchors.push({ prefix: path.slice(0, path.length - (p.length - cut)), fd });
      p = `/proc/self/fd/${fd}${p.slice(cut)}`;
    }
    return p;
  }

  close(): void {
    for (const a of this.anchors) fs.closeSync(a.fd);
    this.anchors = [];
  }
}

/** `fn(p)` where `p` names `path` in a form the kernel takes, however long `path` is (fds opened on the way are closed after). */
export function reach<T>(path: string, fn: (p: string) => T): T {
  if (path.length <= LONG) return fn(path);
  const r = new PathReach();
  try {
    return fn(r.short(path));
  } finally {
    r.close();
  }
}

function entry(dirReal: string, rel: string, name: string, depth: number, overlay: boolean): WalkEntry {
  const real = `${dirReal}/${name}`;
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

/** The entries of one dir of the walk (read through `dirReal`), in the order the options ask for. */
function listing(dirReal: string, rel: string, depth: number, o: WalkOptions): WalkEntry[] {
  const names = fs.readdirSync(dirReal || '/');
  if (o.sorted) names.sort();
  const out = names.map((n) => entry(dirReal, `${rel}/${n}`, n, depth, o.overlay !== false));
  if (o.whiteoutsFirst) return [...out.filter((e) => e.whiteout), ...out.filter((e) => !e.whiteout)];
  return out;
}

/** Every entry under `root` (not the root itself), each dir before what it holds. */
export function* walkOverlay(root: string, o: WalkOptions = {}): Generator<WalkEntry> {
  // The stack holds entries still to yield and, below a long dir's entries, the fd to close after them.
  const stack: (WalkEntry | number)[] = [];
  const open: number[] = [];
  const enter = (real: string, rel: string, depth: number) => {
    let dirReal = real;
    if (real.length > LONG) {
      const fd = reach(real, (p) => fs.openSync(p, O_DIR));
      open.push(fd);
      stack.push(fd);
      dirReal = `/proc/self/fd/${fd}`;
    }
    const children = listing(dirReal, rel, depth, o);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  };
  try {
    enter(root, '', 1);
    while (stack.length > 0) {
      const e = stack.pop()!;
      if (typeof e === 'number') {
        fs.closeSync(open.pop()!); // the fds are opened and closed in stack order: `e` is the last
        continue;
      }
      yield e;
      if (e.dir && e.descend && !e.whiteout) enter(e.real, e.rel, e.depth + 1);
    }
  } finally {
    for (const fd of open) fs.closeSync(fd);
  }
}
