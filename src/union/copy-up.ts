// Copy-up: before anything in a lower layer changes, a copy of it (data, mode, owner, times,
// xattrs, symlink target, device number) is built in the work dir and renamed into the upper dir
// in one step, so nobody ever sees a half-copied file. Parents are copied up first. As in the
// kernel, the upper parent's times are restored: a copy-up is not a change anyone made.
import fs from 'node:fs';
import { native } from '../sys/native.js';
import { check, fail, E } from '../sys/errors.js';
import { isPrivateXattr } from '../sys/overlay-format.js';
import { copyData } from './copy-data.js';
import { isDir, isLnk, isReg, lstat } from '../sys/stat.js';
import { relOf, type LayerStack } from './layers.js';
import type { Resolver } from './resolve.js';
import type { Entry, Node } from './lower-view.js';
import type { InodeTable } from './inodes.js';

const O = fs.constants;

export interface CopyUpOptions {
  /** Skip the file data: the caller truncates it to zero anyway (open with O_TRUNC). */
  noData?: boolean;
}

export class CopyUp {
  private seq = 0;

  constructor(
    private stack: LayerStack,
    private resolver: Resolver,
    private inodes: InodeTable,
    /** Called after an object moved to the upper dir, so open handles can follow it. */
    private onCopied: (node: Node, upper: Entry) => void,
  ) {}

  /** A fresh name in the work dir. */
  tmpPath(): string {
    return `${this.stack.tmpDir}/#${process.pid.toString(36)}-${(this.seq++).toString(36)}`;
  }

  /** Ensure the merged path lives in the upper dir; returns its upper entry. */
  ensure(node: Node, opts: CopyUpOptions = {}): Entry {
    if (!this.stack.hasUpper) fail(E.EROFS);
    if (node.top.layer === 0) return node.top;
    if (node.path !== '/') {
      const i = node.path.lastIndexOf('/');
      const parent = this.resolver.get(i === 0 ? '/' : node.path.slice(0, i));
      this.ensure(parent);
    }
    return this.copyOne(node, opts);
  }

  private copyOne(node: Node, opts: CopyUpOptions): Entry {
    const src = node.top;
    const srcReal = this.stack.real(src.layer, src.rel);
    // In the upper dir a name lives at its merged path (a lower rel differs under a renamed dir).
    const rel = relOf(node.path);
    const dst = this.stack.upperPath(rel);
    const parentReal = dst.slice(0, dst.lastIndexOf('/')) || '/';
    const parentSt = lstat(parentReal);
    const tmp = this.tmpPath();
    const st = src.st;
    try {
      if (isReg(st.mode)) this.copyFile(srcReal, tmp, opts.noData ? 0 : st.size);
      else if (isDir(st.mode)) fs.mkdirSync(tmp, { mode: st.mode & 0o7777 });
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
    const upper: Entry = { layer: 0, rel, st: lstat(dst) };
    this.inodes.alias(src, 0, upper.st.dev, upper.st.ino);
    if (isDir(st.mode)) this.resolver.invalidate();
    this.onCopied(node, upper);
    return upper;
  }

  private copyFile(src: string, tmp: string, size: number): void {
    const sfd = fs.openSync(src, O.O_RDONLY | O.O_NOATIME);
    let dfd = -1;
    try {
      dfd = fs.openSync(tmp, O.O_WRONLY | O.O_CREAT | O.O_EXCL, 0o600);
      if (size > 0) {
        copyData(sfd, dfd, size);
        fs.fsyncSync(dfd); // the rename must never publish data that is not on disk
      }
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

/** True when a node's top entry is in a lower layer of a writable stack. */
export const needsCopyUp = (stack: LayerStack, node: Node) => stack.hasUpper && node.top.layer !== 0;
