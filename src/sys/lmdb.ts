// LMDB files and where strata keeps them. lmdb-js is loaded through require: its CommonJS build loads faster than its ES module graph
// (about 20 ms less here), and every mount daemon pays that at start-up.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { StrataError } from './errors.js';

export type { Database, RootDatabase } from 'lmdb';
export const { open } = createRequire(import.meta.url)('lmdb') as typeof import('lmdb');

/** Where strata keeps its state: $STRATA_ROOT, /var/lib/strata as root, $XDG_DATA_HOME/strata otherwise. */
export function strataRoot(): string {
  if (process.env.STRATA_ROOT) return path.resolve(process.env.STRATA_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/strata';
  return path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local/share'), 'strata');
}

/** An LMDB data file that would crash whoever maps it: damaged or truncated. */
export class LmdbFileError extends StrataError {
  constructor(message: string) {
    super('damaged', message);
  }
}

export class NoSpaceError extends StrataError {
  override name = 'NoSpaceError';
  constructor(message: string) {
    super('no-space', message);
  }
}

/** Free space the index wants before LMDB maps anything: on a full filesystem a mapped page can't be backed (SIGBUS). */
export const MIN_FREE = 64 * 2 ** 20;

export function checkFreeSpace(dir: string, what = 'the path index'): void {
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  if (free < MIN_FREE) throw new NoSpaceError(`only ${Math.round(free / 1024)} KiB free in ${dir}; ${what} wants ${MIN_FREE / 2 ** 20} MiB`);
}

const MDB_MAGIC = 0xbeefc0de;

/**
 * LMDB trusts its file: a damaged or truncated one can crash the process that maps it. So before
 * opening, check what LMDB itself relies on: a valid meta page, and a file long enough for the
 * last page that meta page names. (Damage inside the pages is what `strata index verify` finds.)
 */
export function checkDataFile(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return; // a new environment
  }
  try {
    if (fs.fstatSync(fd).size === 0) return;
    const head = Buffer.alloc(256);
    fs.readSync(fd, head, 0, 256, 0);
    // The page header is 16 bytes in LMDB 0.9 and 24 in lmdb-js's LMDB: find the magic after it.
    const h = [16, 24].find((o) => head.readUInt32LE(o) === MDB_MAGIC);
    if (h === undefined) throw new LmdbFileError('its data file is not an LMDB file');
    const psize = head.readUInt32LE(h + 24);
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0) throw new LmdbFileError('its data file has a bad page size');
    let best = { txn: -1, last: 0 };
    for (const page of [0, 1]) {
      const m = Buffer.alloc(256);
      fs.readSync(fd, m, 0, 256, page * psize);
      if (m.readUInt32LE(h) !== MDB_MAGIC) continue;
      const txn = Number(m.readBigUInt64LE(h + 128));
      if (txn > best.txn) best = { txn, last: Number(m.readBigUInt64LE(h + 120)) };
    }
    if (best.txn < 0) throw new LmdbFileError('its data file has no valid meta page');
    // The size is read after the meta pages: a writer in another process grows the file before it
    // commits a meta page that needs the new pages, so a file growing meanwhile is never taken for
    // a truncated one.
    const size = fs.fstatSync(fd).size;
    if (size < (best.last + 1) * psize) throw new LmdbFileError(`its data file is truncated (${size} bytes, ${(best.last + 1) * psize} needed)`);
  } finally {
    fs.closeSync(fd);
  }
}
