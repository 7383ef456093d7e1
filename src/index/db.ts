// The LMDB environment that holds every path index: one `entries` database of binary records
// (layer indexes and chain indexes side by side, told apart by their index number) and one `meta`
// database describing them. Lives under STRATA_ROOT, so a lower dir on a read-only filesystem is
// indexed all the same.
import fs from 'node:fs';
import path from 'node:path';
import { open, checkDataFile, checkFreeSpace, strataRoot, NoSpaceError, type Database, type RootDatabase } from '../sys/lmdb.js';
import { StrataError } from '../sys/errors.js';
import { withFileLock } from '../sys/file-lock.js';

export { strataRoot } from '../sys/lmdb.js';

/** LMDB's codes for a damaged file: MDB_INVALID, MDB_VERSION_MISMATCH, MDB_CORRUPTED, MDB_PAGE_NOTFOUND (lmdb-js sets them as `code`). */
const LMDB_DAMAGE = new Set([-30793, -30794, -30796, -30797]);

/** The index is damaged: moved aside and rebuilt (it is only a cache of the layers). */
export class IndexError extends StrataError {
  override name = 'IndexError';
  constructor(message: string) {
    super('damaged', message);
  }
}

/** The index can't be written (a full or read-only filesystem): nothing is wrong with it. */
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

/**
 * Run `fn` holding the index's lock (flock on INDEX_DIR/lock, re-entrant). Every writer of the
 * index holds it, and so does opening the environment: opening stores the transaction id it read
 * into LMDB's shared lock region without LMDB's writer mutex, so a commit another process made in
 * that moment would be set back and then overwritten (see Store.open, where it lost tags).
 */
const withIndexLock = <T>(dir: string, fn: () => T): T => withFileLock(path.join(dir, 'lock'), fn);

export class IndexDb {
  readonly env: RootDatabase;
  readonly entries: Database<Buffer, Buffer>;
  readonly meta: Database<any, string>;

  private constructor(
    readonly dir: string,
    env: RootDatabase,
  ) {
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
      return withIndexLock(dir, () => {
        const env = open({ path: dir, maxDbs: 4, mapSize: 4 * 2 ** 30, noSubdir: false, compression: false });
        const db = new IndexDb(dir, env);
        db.meta.get('seq'); // fail now, not mid-mount, on a corrupt file
        return db;
      });
    } catch (err) {
      if (err instanceof StrataError && err.code === 'no-space') throw err;
      const damaged = (err instanceof StrataError && err.code === 'damaged') || LMDB_DAMAGE.has((err as { code?: unknown }).code as number);
      throw new (damaged ? IndexError : NoSpaceError)(
        `the path index in ${dir} cannot be opened (${(err as Error).message})${damaged ? '; remove it with `strata index reset` to rebuild it' : ''}`,
      );
    }
  }

  /** Throw the whole index away (after corruption): every index is rebuilt on demand. */
  static reset(root = strataRoot()): void {
    fs.rmSync(path.join(root, 'index'), { recursive: true, force: true });
  }

  /** `fn` holding the index lock: for every change to the index (see withIndexLock). */
  locked<T>(fn: () => T): T {
    return withIndexLock(this.dir, fn);
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
