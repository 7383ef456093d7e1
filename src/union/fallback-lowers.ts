// A lower view that can fail (a path index whose file went bad mid-mount) backed by one that
// cannot (probing the layer dirs): the first failure is reported once, and from then on every
// question goes to the fallback. Dirs the primary resolved before it failed may still be held by
// callers; they are re-resolved by their lower path in the fallback.
import { FsError } from '../sys/errors.js';
import type { Stat } from '../sys/stat.js';
import type { Entry, Listed, LowerView, Node } from './lower-view.js';
import type { LowerTally } from './stats.js';

export class FallbackLowers implements LowerView {
  private failed = false;

  /**
   * `onError` hears of the primary's failure once, before the fallback answers its first question;
   * `tally` counts the lookups and listings each one answered.
   */
  constructor(
    private primary: LowerView,
    private fallback: LowerView,
    private onError: (err: Error) => void,
    private tally: LowerTally = { indexHits: 0, probeFallbacks: 0 },
  ) {}

  get indexed(): boolean {
    return this.failed ? this.fallback.indexed : this.primary.indexed;
  }

  root(): Entry[] {
    if (!this.failed) {
      try {
        return this.primary.root();
      } catch (err) {
        this.fail(err);
      }
    }
    return this.fallback.root();
  }

  child(dirs: Entry[], name: string, path: string): Node | null {
    if (!this.failed) {
      try {
        const n = this.primary.child(dirs, name, path);
        this.tally.indexHits++;
        return n;
      } catch (err) {
        this.fail(err);
      }
    }
    this.tally.probeFallbacks++;
    return this.fallback.child(this.adopt(dirs), name, path);
  }

  merge(dirs: Entry[], target: string, into: Entry[]): void {
    if (!this.failed) {
      try {
        this.primary.merge(dirs, target, into);
        this.tally.indexHits++;
        return;
      } catch (err) {
        this.fail(err);
      }
    }
    this.tally.probeFallbacks++;
    this.fallback.merge(this.adopt(dirs), target, into);
  }

  list(dirs: Entry[], seen: Set<string>, out: Listed[]): void {
    if (!this.failed) {
      try {
        this.primary.list(dirs, seen, out);
        this.tally.indexHits++;
        return;
      } catch (err) {
        this.fail(err);
      }
    }
    this.tally.probeFallbacks++;
    this.fallback.list(this.adopt(dirs), seen, out);
  }

  has(dirs: Entry[], name: string): boolean {
    if (!this.failed) {
      try {
        const has = this.primary.has(dirs, name);
        this.tally.indexHits++;
        return has;
      } catch (err) {
        this.fail(err);
      }
    }
    this.tally.probeFallbacks++;
    return this.fallback.has(this.adopt(dirs), name);
  }

  stat(e: Entry): Stat | null {
    return (this.failed ? this.fallback : this.primary).stat(e);
  }

  dirsAt(rel: string): Entry[] {
    return (this.failed ? this.fallback : this.primary).dirsAt(rel);
  }

  owns(e: Entry): boolean {
    return (this.failed ? this.fallback : this.primary).owns(e);
  }

  /** An FsError is an answer (ENOENT, say), not a failure of the view. */
  private fail(err: unknown): void {
    if (err instanceof FsError) throw err;
    this.failed = true;
    this.onError(err as Error);
  }

  /** `dirs` with the primary's lower entries replaced by the fallback's dirs at the same lower path. */
  private adopt(dirs: Entry[]): Entry[] {
    for (let i = 0; i < dirs.length; i++) {
      if (this.primary.owns(dirs[i])) return [...dirs.slice(0, i), ...this.fallback.dirsAt(dirs[i].rel)];
    }
    return dirs;
  }
}
