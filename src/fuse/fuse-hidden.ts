// libfuse 2's answer to unlinking an open file: without `hard_remove` it renames the file to
// `.fuse_hidden<N>` and unlinks that name at the last close. A union must not copy up and keep
// such a file, so the fuse-native adapter unlinks for real at once (with overlay semantics) and
// answers for the hidden name from the file's open handles: it never shows in a listing or in the
// upper dir. This quirk lives here, not in the union core: the kernel transport has no such names.
import type { Union } from '../union/union.js';

const PREFIX = '.fuse_hidden';

export class HiddenNames {
  private byPath = new Map<string, number>(); // hidden path -> inode number of the open file

  constructor(private u: Union) {}

  /** The inode behind a hidden name, if `path` is one. */
  ino(path: string): number | undefined {
    return this.byPath.get(path);
  }

  /**
   * A rename to a new .fuse_hidden name of a file that is open: unlink it instead, and remember the
   * name. Returns false for any other rename (the union renames it).
   */
  renamedAway(from: string, to: string): boolean {
    if (!to.slice(to.lastIndexOf('/') + 1).startsWith(PREFIX) || this.u.resolver.lookup(to)) return false;
    const node = this.u.resolver.lookup(from);
    if (!node || node.dirs) return false;
    const ino = this.u.inoOf(node);
    if (this.u.handles.fdOf(ino) === undefined) return false;
    this.u.unlink(from);
    this.byPath.set(to, ino);
    return true;
  }

  /** libfuse's unlink of the hidden name at the last close: the file is gone already. */
  unlinked(path: string): boolean {
    return this.byPath.delete(path);
  }
}
