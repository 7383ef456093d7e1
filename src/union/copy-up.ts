// Copy-up: before anything in a lower layer changes, a copy of it (data, mode, owner, times,
// xattrs, symlink target, device number) is built in the work dir and renamed into the upper dir
// in one step, so nobody ever sees a half-copied file. Parents are copied up first. As in the
// kernel, the upper parent's times are restored: a copy-up is not a change anyone made.
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { check, fail, E } from '../sys/errors.js';
import { isPrivateXattr } from '../sys/overlay-format.js';
import { copyData, isSmallFile } from './copy-data.js';
import { copyUpSyncFor, syncCopiedData, type CopyUpSync } from './copy-up-sync.js';
import { BackgroundCopier, type PreparedData } from './background-copy.js';
import { isDir, isLnk, isReg, lstat, statVia, type Stat } from '../sys/stat.js';
import { relOf, type LayerStack } from './layers.js';
import type { Resolver } from './resolve.js';
import type { Entry, Node } from './lower-view.js';
import type { InodeTable } from './inodes.js';
import { now, type CopyUpCause, type CopyUpMethod, type CopyUpReason, type MountStats } from './stats.js';

const O = fs.constants;

export interface CopyUpOptions {
  /** Skip the file data: the caller truncates it to zero anyway (open with O_TRUNC). */
  noData?: boolean;
}

/** Files at least this big have their data copied in the background (prepare), off the request path. */
export const BACKGROUND_COPY_MIN = 4 << 20;

export class CopyUp {
  private seq = 0;
  /** Data copied ahead (prepare), by merged path; copyOne takes it instead of copying again. */
  private prepared = new Map<string, PreparedData>();
  private inFlight = new Map<string, Promise<void>>();
  private copier = new BackgroundCopier();
  private syncMode: CopyUpSync | null = null;

  constructor(
    private stack: LayerStack,
    private resolver: Resolver,
    private inodes: InodeTable,
    /** Called after an object moved to the upper dir, so open handles can follow it. */
    private onCopied: (node: Node, upper: Entry) => void,
    private stats: MountStats,
  ) {}

  /** A fresh name in the work dir. */
  tmpPath(): string {
    return `${this.stack.tmpDir}/#${process.pid.toString(36)}-${(this.seq++).toString(36)}`;
  }

  /**
   * If copying `node` up would copy a big file's data, start that copy in the background and
   * return its promise (the same one for every caller); null when there is nothing slow to do.
   */
  prepare(node: Node): Promise<void> | null {
    if (!this.stack.hasUpper || node.top.layer === 0 || !isReg(node.top.st.mode) || node.top.st.size < BACKGROUND_COPY_MIN) return null;
    if (this.fresh(node)) return null;
    const running = this.inFlight.get(node.path);
    if (running) return running;
    const src = node.top;
    const srcReal = this.stack.real(src.layer, src.rel);
    const tmp = this.tmpPath();
    const t0 = now();
    const p = this.copier
      .copy(srcReal, tmp, src.st.size, this.sync())
      .then((method) => {
        const old = this.prepared.get(node.path);
        if (old) fs.rmSync(old.tmp, { force: true });
        const [mtimeSec, mtimeNsec, ms] = [src.st.mtimeSec, src.st.mtimeNsec, now() - t0];
        this.prepared.set(node.path, { tmp, srcReal, size: src.st.size, mtimeSec, mtimeNsec, method: methodName(method), ms });
      })
      .finally(() => this.inFlight.delete(node.path));
    this.inFlight.set(node.path, p);
    return p;
  }

  /** How copied data is made durable before its rename (see copy-up-sync.ts), found out once. */
  private sync(): CopyUpSync {
    return (this.syncMode ??= this.stack.volatile ? 'none' : copyUpSyncFor(this.stack.tmpDir));
  }

  /** Data prepared for this node's lower file, if it is still what the lower file holds. */
  private fresh(node: Node): PreparedData | undefined {
    const d = this.prepared.get(node.path);
    const st = node.top.st;
    if (d && d.srcReal === this.stack.real(node.top.layer, node.top.rel) && d.size === st.size && d.mtimeSec === st.mtimeSec && d.mtimeNsec === st.mtimeNsec)
      return d;
    return undefined;
  }

  /** Drop data copied ahead that nobody took (unmount). */
  close(): void {
    for (const d of this.prepared.values()) fs.rmSync(d.tmp, { force: true });
    this.prepared.clear();
    this.copier.close();
  }

  /** Ensure the merged path lives in the upper dir, to be changed for `reason`; returns its upper entry. */
  ensure(node: Node, reason: Exclude<CopyUpReason, 'parent'>, opts: CopyUpOptions = {}): Entry {
    return this.up(node, reason, reason, opts);
  }

  /** Ensure a dir lives in the upper dir, as the parent of a name that `cause` creates, removes or changes. */
  ensureParent(dir: Node, cause: CopyUpCause): Entry {
    return this.up(dir, 'parent', cause, {});
  }

  /** Copy `node` up (counted under `reason`), its parents first (as `parent`); `cause` is the operation behind it. */
  private up(node: Node, reason: CopyUpReason, cause: CopyUpCause, opts: CopyUpOptions): Entry {
    if (!this.stack.hasUpper) fail(E.EROFS);
    if (node.top.layer === 0) return node.top;
    if (node.path !== '/') {
      const i = node.path.lastIndexOf('/');
      // only which layer holds the parent matters here, not its current attributes
      this.up(this.resolver.stackOf(i === 0 ? '/' : node.path.slice(0, i)), 'parent', cause, {});
    }
    return this.copyOne(node, reason, cause, opts);
  }

  private copyOne(node: Node, reason: CopyUpReason, cause: CopyUpCause, opts: CopyUpOptions): Entry {
    const t0 = now();
    const src = node.top;
    const srcReal = this.stack.real(src.layer, src.rel);
    // In the upper dir a name lives at its merged path (a lower rel differs under a renamed dir).
    const rel = relOf(node.path);
    const dst = this.stack.upperPath(rel);
    const parentReal = dst.slice(0, dst.lastIndexOf('/')) || '/';
    const ready = isReg(src.st.mode) && !opts.noData ? this.fresh(node) : undefined;
    if (ready) this.prepared.delete(node.path);
    const tmp = ready?.tmp ?? this.tmpPath();
    const st = src.st;
    let method: CopyUpMethod = 'metadata-only';
    let upperSt: Stat;
    if (isReg(st.mode) && !ready && (opts.noData || isSmallFile(st.size, st.blocks))) {
      // the common case, in one native call (copy_up.c): the same steps as below, without a JS round trip each
      const size = opts.noData ? 0 : st.size;
      const sync = SYNC_CODES[this.sync()];
      // paths relative to the layer roots and the work dir (layers.ts rootFd): the kernel walks less of each
      const s = this.stack;
      const [srcRel, dstRel] = [src.rel.slice(1), rel.slice(1)];
      const parentRel = dstRel.slice(0, Math.max(0, dstRel.lastIndexOf('/')));
      const tmpName = tmp.slice(tmp.lastIndexOf('/') + 1);
      upperSt = statVia((out) =>
        native.copyUpFile(
          s.rootFd(src.layer),
          srcRel,
          s.tmpDirFd(),
          tmpName,
          s.rootFd(0),
          dstRel,
          parentRel,
          size,
          st.mode,
          st.uid,
          st.gid,
          st.atimeSec,
          st.atimeNsec,
          st.mtimeSec,
          st.mtimeNsec,
          sync,
          out,
        ),
      );
      if (size > 0) method = 'read-write';
    } else {
      [upperSt, method] = this.copyGeneral(st, srcReal, tmp, dst, parentReal, ready, opts);
    }
    const upper: Entry = { layer: 0, rel, st: upperSt };
    this.inodes.alias(src, 0, upper.st.dev, upper.st.ino);
    if (isDir(st.mode)) this.resolver.invalidate();
    this.onCopied(node, upper);
    const layer = { index: src.layer - this.stack.firstLower, dir: this.stack.roots[src.layer] };
    const us = (now() - t0 + (ready?.ms ?? 0)) * 1000;
    const bytes = method === 'metadata-only' ? 0 : st.size;
    this.stats.copiedUp({ path: node.path, layer, size: st.size, bytes, method, reason: cause, parent: reason === 'parent', us }, reason);
    return upper;
  }

  /** Any object, step by step: its new stat and how its data was copied. */
  private copyGeneral(
    st: Stat,
    srcReal: string,
    tmp: string,
    dst: string,
    parentReal: string,
    ready: PreparedData | undefined,
    opts: CopyUpOptions,
  ): [Stat, CopyUpMethod] {
    const parentSt = lstat(parentReal);
    let method: CopyUpMethod = 'metadata-only';
    try {
      if (isReg(st.mode)) {
        method = ready?.method ?? this.copyFile(srcReal, tmp, opts.noData ? 0 : st.size, st.blocks); // ready: copied ahead, in the background
      } else if (isDir(st.mode)) fs.mkdirSync(tmp, { mode: st.mode & 0o7777 });
      else if (isLnk(st.mode)) fs.symlinkSync(fs.readlinkSync(srcReal, { encoding: 'buffer' }), tmp);
      else check(native.mknod(tmp, st.mode, st.rdev));
      copyXattrs(srcReal, tmp);
      fs.lchownSync(tmp, st.uid, st.gid);
      if (!isLnk(st.mode)) fs.chmodSync(tmp, st.mode & 0o7777); // after chown, which drops setuid
      check(native.lutimens(tmp, st.atimeSec, st.atimeNsec, st.mtimeSec, st.mtimeNsec));
      fs.renameSync(tmp, dst);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    native.lutimens(parentReal, parentSt.atimeSec, parentSt.atimeNsec, parentSt.mtimeSec, parentSt.mtimeNsec);
    return [lstat(dst), method];
  }

  /** Copy a regular file's data (none when `size` is 0); says how. */
  private copyFile(src: string, tmp: string, size: number, blocks: number): CopyUpMethod {
    const sfd = fs.openSync(src, O.O_RDONLY | O.O_NOATIME);
    let dfd = -1;
    try {
      dfd = fs.openSync(tmp, O.O_WRONLY | O.O_CREAT | O.O_EXCL, 0o600);
      if (size === 0) return 'metadata-only';
      const method = copyData(sfd, dfd, size, blocks);
      syncCopiedData(dfd, size, this.sync()); // the rename must never publish data that is not on disk
      return methodName(method);
    } finally {
      fs.closeSync(sfd);
      if (dfd >= 0) fs.closeSync(dfd);
    }
  }
}

/** Copy the user-visible xattrs of one object to another (the overlay's own marks stay behind). */
export function copyXattrs(from: string, to: string): void {
  const names = native.llistxattr(from);
  if (typeof names === 'number') {
    if (names === -E.ENOTSUP || names === -E.EOPNOTSUPP) return;
    check(names);
    return;
  }
  for (const name of names) {
    if (isPrivateXattr(name)) continue;
    const v = native.lgetxattr(from, name);
    if (typeof v === 'number') continue; // removed meanwhile
    check(native.lsetxattr(to, name, v, 0));
  }
}

/** copy_up.c's codes for the ways of copy-up-sync.ts. */
const SYNC_CODES: Record<CopyUpSync, number> = { none: 0, ordered: 1, wait: 2, fsync: 3 };

/** copy-data.ts's name for a method, as the stats and the trace say it. */
const methodName = (m: ReturnType<typeof copyData>): CopyUpMethod => (m === 'clone' ? 'ficlone' : m === 'read_write' ? 'read-write' : m);

/** True when a node's top entry is in a lower layer of a writable stack. */
export const needsCopyUp = (stack: LayerStack, node: Node) => stack.hasUpper && node.top.layer !== 0;
