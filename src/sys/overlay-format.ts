// The kernel overlayfs on-disk format, shared by layer dirs and upper dirs so that the same dirs
// mount with `mount -t overlay` (Documentation/filesystems/overlayfs.rst):
//   whiteout        a character device 0/0
//   opaque dir      xattr trusted.overlay.opaque = "y"
//   renamed dir     xattr trusted.overlay.redirect = absolute path of its lower origin
import { native } from './native.js';
import { check } from './errors.js';
import { isChr, type Stat } from './stat.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';
export const REDIRECT_XATTR = 'trusted.overlay.redirect';
const PRIVATE_PREFIXES = ['trusted.overlay.', 'trusted.strata.'];

export const isWhiteout = (st: Stat) => isChr(st.mode) && st.rdev === 0;

/** Xattrs that belong to the overlay, never shown to or settable by users of the merged view. */
export const isPrivateXattr = (name: string) => PRIVATE_PREFIXES.some((p) => name.startsWith(p));

export function isOpaque(realPath: string): boolean {
  const v = native.lgetxattr(realPath, OPAQUE_XATTR);
  return typeof v !== 'number' && v.length === 1 && v[0] === 0x79; // 'y'
}

export function setOpaque(realPath: string): void {
  check(native.lsetxattr(realPath, OPAQUE_XATTR, Buffer.from('y'), 0));
}

export function getRedirect(realPath: string): string | null {
  const v = native.lgetxattr(realPath, REDIRECT_XATTR);
  return typeof v === 'number' ? null : v.toString();
}

export function setRedirect(realPath: string, target: string): void {
  check(native.lsetxattr(realPath, REDIRECT_XATTR, Buffer.from(target), 0));
}

export function makeWhiteout(realPath: string): void {
  check(native.mknod(realPath, 0o020000, 0));
}
