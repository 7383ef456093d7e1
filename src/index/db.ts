// The LMDB environment that holds every path index: one `entries` database of binary records
// (layer indexes and chain indexes side by side, told apart by their index number) and one `meta`
// database describing them. Lives under STRATA_ROOT, so a lower dir on a read-only filesystem is
// indexed all the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open, type Database, type RootDatabase } from './lmdb.js';

/** Where strata keeps its state: $STRATA_ROOT, /var/lib/strata as root, $XDG_DATA_HOME/strata otherwise. */
export function strataRoot(): string {
  if (process.env.STRATA_ROOT) return path.resolve(process.env.STRATA_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/strata';
  return path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local/share'), 'strata');
}

export class IndexError extends Error {
  override name = 'IndexError';
}

/** The index can't be written (a full or read-only filesystem): nothing is wrong with it. */
export class NoSpaceError extends Error {
  override name = 'NoSpaceError';
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
    if (h === undefined) throw new IndexError('its data file is not an LMDB file');
    const psize = head.readUInt32LE(h + 24);
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0) throw new IndexError('its data file has a bad page size');
    let best = { txn: -1, last: 0 };
    for (const page of [0, 1]) {
      const m = Buffer.alloc(256);
      fs.readSync(fd, m, 0, 256, page * psize);
      if (m.readUInt32LE(h) !== MDB_MAGIC) continue;
      const txn = Number(m.readBigUInt64LE(h + 128));
      if (txn > best.txn) best = { txn, last: Number(m.readBigUInt64LE(h + 120)) };
    }
    if (best.txn < 0) throw new IndexError('its data file has no valid meta page');
    // The size is read after the meta pages: a writer in another process grows the file before it
    // commits a meta page that needs the new pages, so a file growing meanwhile is never taken for
    // a truncated one.
    const size = fs.fstatSync(fd).size;
    if (size < (best.last + 1) * psize) throw new IndexError(`its data file is truncated (${size} bytes, ${(best.last + 1) * psize} needed)`);
  } finally {
    fs.closeSync(fd);
  }
}

/** A layer's index, as `meta` describes it. */
export interface LayerMeta {
  key: string; // sha256:… (the diffID of a store layer, or of the dir identity and fingerprint)
  num: number; // the index number its entries are keyed under
  root: string;
  dev: number;
  ino: number;
  fingerprint: string;
  dirs: string[]; // every dir's path, for the fingerprint check at mount
  entries: number;
  redirects: boolean; // holds renamed dirs (trusted.overlay.redirect): no chain index for it
  builtAt: string;
}

export interface ChainMeta {
  chainId: string;
  num: number;
  layers: string[]; // layer keys, bottom first (OCI order)
  entries: number;
  builtAt: string;
}

export class IndexDb {
  readonly env: RootDatabase;
  readonly entries: Database<Buffer, Buffer>;
  readonly meta: Database<any, string>;

  private constructor(readonly dir: string, env: RootDatabase) {
    this.env = env;
    this.entries = env.openDB<Buffer, Buffer>({ name: 'entries', keyEncoding: 'binary', encoding: 'binary' });
    this.meta = env.openDB<any, string>({ name: 'meta', encoding: 'msgpack' });
  }

  /** Open (creating it if needed) the index environment under `root`. */
  static open(root = strataRoot()): IndexDb {
    const dir = path.join(root, 'index');
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      checkFreeSpace(dir);
      checkDataFile(path.join(dir, 'data.mdb'));
      // The map is virtual address space (a sparse file), so it can be generous; lmdb-js grows it further if needed.
      const env = open({ path: dir, maxDbs: 4, mapSize: 4 * 2 ** 30, noSubdir: false, compression: false });
      const db = new IndexDb(dir, env);
      db.meta.get('seq'); // fail now, not mid-mount, on a corrupt file
      return db;
    } catch (err) {
      if (err instanceof NoSpaceError) throw err;
      const damaged = err instanceof IndexError || /MDB_(CORRUPTED|INVALID|VERSION_MISMATCH|PAGE_NOTFOUND)/.test(String(err));
      throw new (damaged ? IndexError : NoSpaceError)(`the path index in ${dir} cannot be opened (${(err as Error).message})${damaged ? '; remove it with `strata index reset` to rebuild it' : ''}`);
    }
  }

  /** Throw the whole index away (after corruption): every index is rebuilt on demand. */
  static reset(root = strataRoot()): void {
    fs.rmSync(path.join(root, 'index'), { recursive: true, force: true });
  }

  nextNum(): number {
    const n = (this.meta.get('seq') ?? 0) + 1;
    this.meta.putSync('seq', n);
    return n;
  }

  layerByDir(dev: number, ino: number): LayerMeta | undefined {
    const key = this.meta.get(`dir:${dev}:${ino}`);
    return key ? this.meta.get(`layer:${key}`) : undefined;
  }

  layer(key: string): LayerMeta | undefined {
    return this.meta.get(`layer:${key}`);
  }

  chain(chainId: string): ChainMeta | undefined {
    return this.meta.get(`chain:${chainId}`);
  }

  *chains(): Generator<ChainMeta> {
    for (const { value } of this.meta.getRange({ start: 'chain:', end: 'chain;' })) yield value;
  }

  *layers(): Generator<LayerMeta> {
    for (const { value } of this.meta.getRange({ start: 'layer:', end: 'layer;' })) yield value;
  }

  /** Delete one index's entries (a layer or chain index number), in one transaction. */
  dropEntries(num: number): void {
    const start = Buffer.alloc(4);
    start.writeUInt32BE(num, 0);
    const end = Buffer.alloc(4);
    end.writeUInt32BE(num + 1, 0);
    const keys = Array.from(this.entries.getKeys({ start, end }), (k) => Buffer.from(k));
    this.entries.transactionSync(() => {
      for (const key of keys) this.entries.removeSync(key);
    });
  }

  close(): void {
    this.env.close();
  }
}
