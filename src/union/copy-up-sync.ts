// How a copy-up's data is made durable before the rename that publishes it. A crash must never
// leave an upper file that hides its lower one with data that never reached the disk. An fsync
// per file guarantees that anywhere, but it waits for a journal commit every time, which makes a
// copy-up of a small file several times dearer. Where the filesystem itself orders things, less
// is enough:
// - 'ordered': ext4 with a journal in data=ordered (or data=journal) mode commits a file's newly
//   allocated blocks before any later metadata change, the rename included. Starting the
//   write-out (which allocates the blocks) before the rename is enough.
// - 'wait': ext4 data=writeback, XFS and btrfs log metadata in order, and flush the device before
//   a commit. Writing the data and waiting for it before the rename is enough.
// - 'none': tmpfs and ramfs lose everything at a crash anyway.
// - 'fsync': any other filesystem, and ext4 without a journal, where nothing orders anything.
import fs from 'node:fs';
import path from 'node:path';
import { native, SYNC_FILE_RANGE_WRITE } from '../sys/native.js';

export type CopyUpSync = 'ordered' | 'wait' | 'none' | 'fsync';

const SYNC_FILE_RANGE_WAIT_BEFORE = 1;
const SYNC_FILE_RANGE_WAIT_AFTER = 4;

const MAGIC = { ext4: 0xef53, xfs: 0x58465342, btrfs: 0x9123683e, tmpfs: 0x01021994, ramfs: 0x858458f6 };

/** The cheapest safe way for the filesystem that holds `dir`. */
export function copyUpSyncFor(dir: string): CopyUpSync {
  const { type } = fs.statfsSync(dir);
  if (type === MAGIC.tmpfs || type === MAGIC.ramfs) return 'none';
  if (type === MAGIC.xfs || type === MAGIC.btrfs) return 'wait';
  if (type === MAGIC.ext4) return ext4Sync(dir);
  return 'fsync';
}

function ext4Sync(dir: string): CopyUpSync {
  const name = blockDeviceName(fs.statSync(dir).dev);
  if (!name || !fs.existsSync(`/proc/fs/jbd2/${name}-8`)) return 'fsync'; // no journal
  let options = '';
  try {
    options = fs.readFileSync(`/proc/fs/ext4/${name}/options`, 'utf8');
  } catch {
    return 'fsync';
  }
  return /(^|\s)data=(ordered|journal)(\s|$)/.test(options) ? 'ordered' : 'wait';
}

/** The kernel's name of a block device (loop0, vda, dm-0), from its device number. */
function blockDeviceName(dev: number): string | null {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 2 ** 20) & ~0xff);
  try {
    return path.basename(fs.readlinkSync(`/sys/dev/block/${major}:${minor}`));
  } catch {
    return null;
  }
}

/** Make `size` bytes written to `fd` safe to publish by a rename, as `mode` says. */
export function syncCopiedData(fd: number, size: number, mode: CopyUpSync): void {
  if (size === 0 || mode === 'none') return;
  if (mode === 'fsync') return fs.fsyncSync(fd);
  const flags = mode === 'ordered' ? SYNC_FILE_RANGE_WRITE : SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  const r = native.syncFileRange(fd, 0, size, flags);
  if (r < 0) fs.fsyncSync(fd); // refused here (EINVAL, ESPIPE): the general way
}
