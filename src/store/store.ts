// The image store under STRATA_ROOT: content-addressed blobs, extracted read-only layer dirs (by
// diffID, in the overlayfs format), containers (upper, work, merged), and one LMDB environment for
// images, tags, layers and containers. A blob or layer dir appears only when complete (temp name,
// fsync, rename); every change of metadata is one LMDB transaction.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { native, LOCK_EX } from '../native/index.js';
import { check } from '../union/errors.js';
import { alive } from '../container/process.js';
import { open, type Database, type RootDatabase } from '../index/lmdb.js';
import { strataRoot, checkDataFile, checkFreeSpace } from '../index/db.js';
import { writeHashed, hexOf } from '../oci/digest.js';
import { applyLayer } from '../oci/tar-apply.js';
import { writeLayerFromTree, type LayerWritten } from '../oci/layer-from-tree.js';
import type { TreeOptions } from '../oci/tree-entries.js';
import { serialize, MEDIA, type Descriptor, type ImageConfig } from '../oci/image.js';

export class StoreError extends Error {
  override name = 'StoreError';
}

export interface LayerRecord {
  diffId: string;
  blob: string;
  size: number; // bytes of the uncompressed tar
  entries: number;
}

export interface ImageRecord {
  id: string; // sha256 of the config
  manifest: string;
  layers: string[]; // diffIDs, bottom first
  created: string;
  /** The image a build step started from: an untagged image with children is a build's intermediate, not dangling. */
  parent?: string;
}

/** A build step's result, by the hash of what made it (parent image, instruction, files, args). */
export interface BuildCacheRecord {
  image: string;
  created: string;
}

export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  created: string;
  command: string[];
  state: 'created' | 'running' | 'exited';
  exitCode?: number;
  /** What it runs (argv, env, workdir, user), fixed at create so that start runs it again. */
  spec?: { argv: string[]; env: string[]; workdir: string; user?: string; tty?: boolean; interactive?: boolean };
  /** While running: the pid of the `unshare` that holds its namespaces. */
  pid?: number;
  /** When it last started and last exited (ISO), for ps's "Up 3 minutes" and "Exited (0) 2 minutes ago". */
  started?: string;
  finished?: string;
}

const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** NAME[:TAG] with docker's rules; the tag defaults to latest. */
export function parseRef(ref: string): string {
  const i = ref.lastIndexOf(':');
  const [name, tag] = i > ref.lastIndexOf('/') && i >= 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
  if (!NAME_RE.test(name)) throw new StoreError(`"${ref}" is not a valid image name (lowercase letters, digits, and . _ - / separators)`);
  if (!TAG_RE.test(tag)) throw new StoreError(`"${ref}" has an invalid tag (letters, digits, _ . -, at most 128)`);
  return `${name}:${tag}`;
}

export class Store {
  readonly root: string;
  private env: RootDatabase;
  readonly images: Database<ImageRecord, string>;
  readonly tags: Database<string, string>;
  readonly layers: Database<LayerRecord, string>;
  readonly containers: Database<ContainerRecord, string>;
  readonly buildCache: Database<BuildCacheRecord, string>;
  private lockDepth = 0;
  private lockFd = -1;

  private constructor(root: string, env: RootDatabase) {
    this.root = root;
    this.env = env;
    this.images = env.openDB({ name: 'images' });
    this.tags = env.openDB({ name: 'tags' });
    this.layers = env.openDB({ name: 'layers' });
    this.containers = env.openDB({ name: 'containers' });
    this.buildCache = env.openDB({ name: 'buildcache' });
  }

  static open(root = strataRoot()): Store {
    for (const d of ['blobs/sha256', 'layers', 'containers', 'tmp', 'db']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o700 });
    checkFreeSpace(path.join(root, 'db'), "strata's store");
    checkDataFile(path.join(root, 'db/data.mdb'));
    const env = open({ path: path.join(root, 'db'), maxDbs: 8, mapSize: 2 ** 30 });
    const s = new Store(root, env);
    s.cleanTmp();
    return s;
  }

  close(): void {
    this.env.close();
  }

  /**
   * Leftovers of killed commands in tmp/: temp files and half-made layers whose maker is gone. A
   * temp name carries its maker's pid, so a long commit running beside this command keeps its files.
   */
  staleTemps(): string[] {
    return fs.readdirSync(path.join(this.root, 'tmp')).filter((n) => {
      const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(n)?.[1]);
      return !(pid && pid !== process.pid && alive(pid));
    });
  }

  private cleanTmp(): void {
    for (const n of this.staleTemps()) {
      try {
        fs.rmSync(path.join(this.root, 'tmp', n), { recursive: true, force: true });
      } catch {
        /* another command cleaned it */
      }
    }
  }

  tmpPath(what: string): string {
    return path.join(this.root, 'tmp', `${what}-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  }

  blobPath(digest: string): string {
    return path.join(this.root, 'blobs/sha256', hexOf(digest));
  }

  layerDir(diffId: string): string {
    return path.join(this.root, 'layers', hexOf(diffId));
  }

  containerDir(id: string): string {
    return path.join(this.root, 'containers', id);
  }

  /** Move a complete temp file into the blob store under its digest (a blob that exists is kept). */
  private publishBlob(tmp: string, digest: string): void {
    const dst = this.blobPath(digest);
    if (fs.existsSync(dst)) fs.rmSync(tmp, { force: true });
    else fs.renameSync(tmp, dst);
  }

  putBlob(data: Buffer, digest: string): void {
    const tmp = this.tmpPath('blob');
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.publishBlob(tmp, digest);
  }

  /**
   * A layer from an uncompressed tar stream, in one pass: the stream is hashed and written as the
   * blob while it is applied into a temp dir; both are renamed into place once whole. A layer
   * already stored is reused.
   */
  async addLayer<T>(tar: Readable, use: (layer: LayerRecord) => T, expect?: string): Promise<T> {
    const { tmp, dir } = this.layerTemps();
    const [toBlob, toDir] = tee(tar);
    let w: LayerWritten;
    try {
      const [hashed, { entries }] = await Promise.all([
        writeHashed(toBlob, tmp).catch((err) => {
          toDir.destroy(err);
          throw err;
        }),
        applyLayer(toDir, dir).catch((err) => {
          toBlob.destroy(err);
          throw err;
        }),
      ]);
      w = { ...hashed, entries };
      // A layer that is not what its image says it is is never published.
      if (expect && w.digest !== expect) throw new StoreError(`a layer's content is ${w.digest.slice(0, 19)}, but its image says ${expect.slice(0, 19)}: the archive is damaged`);
    } catch (err) {
      this.dropTemps(tmp, dir);
      throw err;
    }
    return this.publishLayer(tmp, dir, w, use);
  }

  /** A layer from a tree (an upper dir as a changeset, or a plain dir), read once (see layer-from-tree). */
  addLayerFromTree<T>(root: string, o: TreeOptions, use: (layer: LayerRecord) => T): T {
    const { tmp, dir } = this.layerTemps();
    let w: LayerWritten;
    try {
      w = writeLayerFromTree(root, o, tmp, dir);
    } catch (err) {
      this.dropTemps(tmp, dir);
      throw err;
    }
    return this.publishLayer(tmp, dir, w, use);
  }

  /**
   * Run `fn` holding the store's lock (flock on STRATA_ROOT/lock, re-entrant). Publishing a layer
   * and recording the image that uses it must not interleave with a deletion that finds the layer
   * unused; both are short (renames and LMDB writes), the long work happens before.
   */
  locked<T>(fn: () => T): T {
    if (this.lockDepth++ === 0) {
      this.lockFd = fs.openSync(path.join(this.root, 'lock'), 'a', 0o600);
      check(native.flock(this.lockFd, LOCK_EX));
    }
    try {
      return fn();
    } finally {
      if (--this.lockDepth === 0) {
        fs.closeSync(this.lockFd); // closing releases the lock
        this.lockFd = -1;
      }
    }
  }

  private layerTemps(): { tmp: string; dir: string } {
    const dir = this.tmpPath('layer');
    fs.mkdirSync(dir, { mode: 0o755 });
    return { tmp: this.tmpPath('layer.tar'), dir };
  }

  private dropTemps(tmp: string, dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(tmp, { force: true });
  }

  /** Move a whole blob and layer dir into place, record the layer and hand it to `use`, under the lock. */
  private publishLayer<T>(tmp: string, dir: string, w: LayerWritten, use: (layer: LayerRecord) => T): T {
    let drop = false; // our temps, once the lock is released: deleting a big layer dir takes a while
    try {
      return this.locked(() => {
        const known = this.layers.get(w.digest);
        const dst = this.layerDir(w.digest);
        if (known && fs.existsSync(dst)) {
          drop = true;
          return use(known);
        }
        this.publishBlob(tmp, w.digest);
        // A layer dir is renamed into place only when whole, so one already there (a record lost
        // in a crash) is as good as ours and is never replaced under a mount.
        try {
          fs.renameSync(dir, dst);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          fs.rmSync(dir, { recursive: true, force: true });
        }
        const rec: LayerRecord = { diffId: w.digest, blob: w.digest, size: w.size, entries: w.entries };
        this.layers.putSync(w.digest, rec);
        return use(rec);
      });
    } catch (err) {
      drop = true;
      throw err;
    } finally {
      if (drop) this.dropTemps(tmp, dir);
    }
  }

  /** Store an image's config and manifest, record it, and tag it (all metadata in one transaction). */
  addImage(config: ImageConfig, tag?: string, parent?: string, raw?: Buffer): ImageRecord {
    return this.locked(() => this.addImageLocked(config, tag, parent, raw));
  }

  /** `raw`: the config's own bytes (a loaded image keeps its ID only if they are kept as they were). */
  private addImageLocked(config: ImageConfig, tag?: string, parent?: string, raw?: Buffer): ImageRecord {
    const descs: Descriptor[] = config.rootfs.diff_ids.map((d) => {
      const l = this.layers.get(d) ?? this.fail(`layer ${d} is missing from the store`);
      return { mediaType: MEDIA.layer, digest: l.blob, size: l.size };
    });
    const { configJson, manifestJson, id } = serialize(config, descs, raw);
    const manifest = 'sha256:' + crypto.createHash('sha256').update(manifestJson).digest('hex');
    this.putBlob(configJson, id);
    this.putBlob(manifestJson, manifest);
    const rec: ImageRecord = { id, manifest, layers: config.rootfs.diff_ids, created: config.created, ...(parent ? { parent } : {}) };
    this.env.transactionSync(() => {
      this.images.putSync(id, rec);
      if (tag) this.tags.putSync(tag, id);
    });
    return rec;
  }

  config(img: ImageRecord): ImageConfig {
    return JSON.parse(fs.readFileSync(this.blobPath(img.id), 'utf8'));
  }

  /** An image by NAME[:TAG], full or short ID (with or without sha256:). */
  image(ref: string): ImageRecord {
    const tagged = /^[a-f0-9]{64}$/.test(ref.replace(/^sha256:/, '')) ? undefined : this.tags.get(safeRef(ref));
    if (tagged) return this.images.get(tagged) ?? this.fail(`image ${ref} is tagged but its record is missing (run strata system check)`);
    const hex = ref.replace(/^sha256:/, '');
    if (/^[a-f0-9]{4,64}$/.test(hex)) {
      const hits = [...this.images.getKeys({ start: 'sha256:' + hex, end: 'sha256:' + hex + '\uffff' })];
      if (hits.length === 1) return this.images.get(hits[0])!;
      if (hits.length > 1) this.fail(`${ref} matches several images: give more of the ID`);
    }
    return this.fail(`no such image: ${ref}`);
  }

  allImages(): ImageRecord[] {
    return [...this.images.getRange()].map((e) => e.value);
  }

  allContainers(): ContainerRecord[] {
    return [...this.containers.getRange()].map((e) => e.value);
  }

  tagsOf(id: string): string[] {
    return [...this.tags.getRange()].filter((e) => e.value === id).map((e) => e.key);
  }

  /** The layer dirs of an image, top first (as overlayfs's lowerdir). */
  lowers(img: ImageRecord): string[] {
    return [...img.layers].reverse().map((d) => this.layerDir(d));
  }

  container(ref: string): ContainerRecord {
    const byId = this.containers.get(ref);
    if (byId) return byId;
    const all = this.allContainers();
    const hit = all.filter((c) => c.name === ref || c.id.startsWith(ref));
    if (hit.length === 1) return hit[0];
    return this.fail(hit.length ? `${ref} matches several containers` : `no such container: ${ref}`);
  }

  putContainer(c: ContainerRecord): void {
    this.containers.putSync(c.id, c);
  }

  fail(msg: string): never {
    throw new StoreError(msg);
  }
}

/** Two readers of one stream, at the pace of the slower (the source pauses until both drain). */
function tee(src: Readable): [PassThrough, PassThrough] {
  const outs = [new PassThrough({ highWaterMark: 1 << 20 }), new PassThrough({ highWaterMark: 1 << 20 })] as const;
  src.on('data', (chunk: Buffer) => {
    const full = outs.filter((o) => !o.write(chunk));
    if (full.length === 0) return;
    src.pause();
    let waiting = full.length;
    for (const o of full) o.once('drain', () => --waiting === 0 && src.resume());
  });
  src.on('end', () => outs.forEach((o) => o.end()));
  src.on('error', (err) => outs.forEach((o) => o.destroy(err)));
  return [outs[0], outs[1]];
}

/** The canonical NAME:TAG of a reference, or the reference as given when it does not parse (an ID). */
export function safeRef(ref: string): string {
  try {
    return parseRef(ref);
  } catch {
    return ref;
  }
}
