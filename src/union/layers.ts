// The stack of layer dirs behind one merged view: the upper dir (if writable) first, then the
// lower dirs top first, as overlayfs's upperdir/lowerdir.
import path from 'node:path';
import { native } from '../sys/native.js';
import { check } from '../sys/errors.js';
import { lstatAtOrNull, type Stat } from '../sys/stat.js';

const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;

export interface LayerOptions {
  lowers: string[];
  upper?: string;
  work?: string;
  /** The largest inode number the transport carries (default 2^32 - 1, fuse-native's limit). */
  maxIno?: number;
  /** Make nothing durable: copy-ups skip their write-out and fsync is a no-op (see volatile.ts). */
  volatile?: boolean;
}

export class LayerStack {
  /** Real roots, index 0 is the upper dir when there is one. */
  readonly roots: string[];
  readonly upper: string | null;
  readonly work: string | null;
  readonly volatile: boolean;

  constructor(opts: LayerOptions) {
    this.volatile = !!opts.volatile;
    if (opts.lowers.length === 0) throw new Error('at least one lower dir is needed');
    if (!!opts.upper !== !!opts.work) throw new Error('--upper and --work go together');
    this.upper = opts.upper ? path.resolve(opts.upper) : null;
    this.work = opts.work ? path.resolve(opts.work) : null;
    const lowers = opts.lowers.map((l) => path.resolve(l));
    this.roots = this.upper ? [this.upper, ...lowers] : lowers;
  }

  get hasUpper(): boolean {
    return this.upper !== null;
  }

  /** The layer index of the topmost lower. */
  get firstLower(): number {
    return this.upper ? 1 : 0;
  }

  /** Real path of a layer-relative path ('' is the layer root, otherwise '/a/b'). */
  real(layer: number, rel: string): string {
    return this.roots[layer] + rel;
  }

  /** Real path in the upper dir. */
  upperPath(rel: string): string {
    return this.upper + rel;
  }

  /** Where copy-ups and other multi-step changes are prepared before one atomic rename. */
  get tmpDir(): string {
    return this.work + '/work';
  }

  private rootFds: number[] = [];
  private tmpFd = -1;

  /**
   * An O_PATH fd of a layer root, opened at first use: a syscall made relative to it (the *at()
   * calls of native-bindings) walks only the part of a path inside the layer, not the whole
   * absolute path (about 0.35 µs a component here, for every path syscall of a copy-up).
   */
  rootFd(layer: number): number {
    return (this.rootFds[layer] ??= check(native.open(this.roots[layer], O_PATH | O_DIRECTORY, 0)));
  }

  /** The same for the work dir's tmp dir (opened after prepareWork made it afresh). */
  tmpDirFd(): number {
    if (this.tmpFd < 0) this.tmpFd = check(native.open(this.tmpDir, O_PATH | O_DIRECTORY, 0));
    return this.tmpFd;
  }

  /** lstat of a layer-relative path ('' or '/a/b') through the layer root's fd; null when missing. */
  lstatRel(layer: number, rel: string): Stat | null {
    return lstatAtOrNull(this.rootFd(layer), rel.slice(1));
  }

  /** Close the fds of rootFd and tmpDirFd (at unmount, or when the work dir is made afresh). */
  closeFds(): void {
    for (const fd of this.rootFds) if (fd !== undefined) native.close(fd);
    this.rootFds = [];
    if (this.tmpFd >= 0) native.close(this.tmpFd);
    this.tmpFd = -1;
  }
}

/** Merged paths are '/' or '/a/b'; their layer-relative form drops the root slash to ''. */
export const relOf = (mergedPath: string) => (mergedPath === '/' ? '' : mergedPath);

export function splitPath(p: string): [string, string] {
  const i = p.lastIndexOf('/');
  return [i <= 0 ? '/' : p.slice(0, i), p.slice(i + 1)];
}
