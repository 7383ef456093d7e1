// What both snapshotters share: a snapshot's record and dirs in the store, its mount description,
// commit and remove. A snapshot lives in the store's dirs for its key (Store.containerPaths: upper,
// work, merged), with its kind and parent in `snapshot.json` beside them.
import { removeTree } from '../sys/remove-tree.js';
import fs from 'node:fs';
import path from 'node:path';
import { refuse } from '../sys/errors.js';
import type { ImageRecord, Store } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';
import { Union, type Attr } from '../union/union.js';
import { statOrNull } from '../union/stat-or-null.js';
import { isMounted, unmountAt, withMountedAt, type MountOptions } from './merged-mount.js';
import { initLayer } from './init-layer.js';
import { mountOf, type CommitOptions, type Mount, type SnapshotInfo, type SnapshotKind, type Snapshotter } from './snapshot.js';

export interface SnapshotterOptions {
  /** How to name a key in sentences ("container web"); default "snapshot KEY". */
  describe?: (key: string) => string;
  warn?: (line: string) => void;
  /** A copy-up trace file for the mounts made (strata mount --trace). */
  trace?: string;
}

export abstract class StoreSnapshotter implements Snapshotter {
  constructor(
    protected readonly s: Store,
    protected readonly o: SnapshotterOptions = {},
  ) {}

  protected dirs(key: string) {
    return this.s.containerPaths(key);
  }

  private infoFile = (key: string) => path.join(this.dirs(key).dir, 'snapshot.json');

  protected mountOptions(key: string): MountOptions {
    return { what: this.o.describe?.(key) ?? `snapshot ${key.slice(0, 12)}`, warn: this.o.warn, ...(this.o.trace ? { trace: this.o.trace } : {}) };
  }

  prepare(key: string, parent: ImageRecord): Mount {
    return this.make(key, 'active', parent);
  }

  view(key: string, parent: ImageRecord): Mount {
    return this.make(key, 'view', parent);
  }

  private make(key: string, kind: SnapshotKind, parent: ImageRecord): Mount {
    if (this.stat(key)) refuse('conflict', `${this.mountOptions(key).what} exists already`);
    const d = this.dirs(key);
    for (const dir of kind === 'active' ? [d.upper, d.work, d.merged] : [d.merged]) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const info: SnapshotInfo = { key, kind, parent: parent.id, ...(kind === 'active' && initLayer(this.s, parent) ? { init: true as const } : {}) };
    fs.writeFileSync(this.infoFile(key), JSON.stringify(info) + '\n', { mode: 0o644 });
    return this.mounts(key);
  }

  stat(key: string): SnapshotInfo | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.infoFile(key), 'utf8')) as SnapshotInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  protected info(key: string): SnapshotInfo {
    return this.stat(key) ?? refuse('not-found', `no such snapshot: ${key}`);
  }

  protected parentOf(key: string): ImageRecord {
    const info = this.info(key);
    return this.s.imageById(info.parent) ?? refuse('not-found', `the image of ${this.mountOptions(key).what} is gone`);
  }

  mounts(key: string): Mount {
    const info = this.info(key);
    const img = this.parentOf(key);
    // the image's init layer under the snapshot's upper dir (made again if it went missing)
    const init = info.init ? initLayer(this.s, img) : null;
    const lowers = [...(init ? [init] : []), ...this.s.lowers(img)];
    const d = this.dirs(key);
    return info.kind === 'active' ? mountOf(lowers, d.upper, d.work) : mountOf(lowers);
  }

  /** Whether the parent image (its layers merged, without the snapshot's upper dir) has a path. */
  lowerHas(key: string): (p: string) => boolean {
    const stat = this.lowerStat(key);
    return (p: string) => stat(p) !== null;
  }

  /** The attributes a path has in the merged layers below the snapshot (null where none has it). */
  lowerStat(key: string): (p: string) => Attr | null {
    const lower = new Union({ lowers: this.s.lowers(this.parentOf(key)) });
    return (p: string) => statOrNull(lower, p);
  }

  /**
   * The upper dir as a layer, in one pass, in process. A dir renamed from a lower layer (a
   * redirect) is written whole from the merged view, which the layer writer reads as a path: for
   * that rare case alone the view is mounted with FUSE (if it is not mounted already).
   */
  commit(key: string, config: ImageConfig, o: CommitOptions = {}): ImageRecord {
    if (this.info(key).kind !== 'active') refuse('invalid', `${this.mountOptions(key).what} is a read-only view: it has nothing to commit`);
    const below = config.rootfs.diff_ids;
    const d = this.dirs(key);
    o.progress?.({ task: 'commit', item: key.slice(0, 12), done: 0, unit: 'bytes' });
    const img = withMountedAt(
      () => this.mounts(key),
      d.merged,
      this.mountOptions(key),
      (merged) =>
        this.s.addLayerFromTree(
          d.upper,
          { overlay: true, merged, lowerHas: this.lowerHas(key) },
          (layer) => {
            o.progress?.({ task: 'commit', item: key.slice(0, 12), done: layer.size, total: layer.size, unit: 'bytes', finished: true });
            config.rootfs = { type: 'layers' as const, diff_ids: [...below, layer.diffId] };
            return this.s.addImage(config, o.tag, o.parent);
          },
          // the tar's bytes so far, as the one-pass writer goes
          (_entries, bytes) => o.progress?.({ task: 'commit', item: key.slice(0, 12), done: bytes, unit: 'bytes' }),
        ),
    );
    return img;
  }

  /** Unmount (forced: nothing may keep a removed snapshot busy) and remove its dirs and record. */
  remove(key: string): void {
    const d = this.dirs(key);
    unmountAt(d.merged, true);
    for (const p of [d.upper, d.work, d.merged, this.infoFile(key)]) removeTree(p);
    try {
      fs.rmdirSync(d.dir); // the key's dir, unless something else (a container's log) is in it
    } catch {
      /* not empty, or never made */
    }
  }

  /** Whether the merged view is mounted with FUSE now (by anyone: a container's supervisor, strata mount). */
  mountedNow(key: string): boolean {
    return isMounted(this.dirs(key).merged);
  }
}
