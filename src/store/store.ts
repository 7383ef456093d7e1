// The image store under STRATA_ROOT: content-addressed blobs, extracted read-only layer dirs (by
// diffID, in the overlayfs format), containers (upper, work, merged), and one LMDB environment for
// images, tags, layers and containers. A blob or layer dir appears only when complete (temp name,
// fsync, rename); every change of metadata is one LMDB transaction.
import { removeTree } from '../sys/remove-tree.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { refuse, type StrataError } from '../sys/errors.js';
import { alive } from '../sys/process.js';
import { open, strataRoot, checkDataFile, checkFreeSpace, type Database, type RootDatabase } from '../sys/lmdb.js';
import { familiarName, parseImageRef, parseRef, safeRef } from './reference.js';
import { writeHashed, hexOf } from '../oci/digest.js';
import { applyLayer } from '../oci/tar-apply.js';
import { writeLayerFromTree, type LayerWritten, type LayerProgress } from '../oci/layer-from-tree.js';
import { writeLayerFiles } from '../oci/layer-files.js';
import { syncTree, fsyncPath } from './durable.js';
import type { TreeOptions } from '../oci/tree-entries.js';
import { withFileLock } from '../sys/file-lock.js';
import { serialize, MEDIA, type Descriptor, type ImageConfig } from '../oci/image.js';

export interface LayerRecord {
  diffId: string;
  blob: string;
  size: number; // bytes of the uncompressed tar
  entries: number;
  /** Compressed forms of this layer known to be in registries (pulled from, or pushed to there). */
  sources?: LayerSource[];
}

/** A compressed blob of a layer and the repositories (HOST/PATH) known to hold it. */
export interface LayerSource {
  digest: string;
  size: number;
  mediaType: string;
  repos: string[];
}

export interface ImageRecord {
  id: string; // sha256 of the config
  manifest: string;
  layers: string[]; // diffIDs, bottom first
  created: string;
  /** The image a build step started from: an untagged image with children is a build's intermediate, not dangling. */
  parent?: string;
  /** NAME@sha256:… of the manifests registries serve it by (pulled or pushed), as docker's RepoDigests. */
  repoDigests?: string[];
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
  /** Volumes, binds and tmpfs mounts (-v, --mount, the image's VOLUMEs), fixed at create. */
  mounts?: ContainerMount[];
  /** 'host' (the default: the host's network) or 'none' (a network namespace of its own, loopback only). */
  network?: 'host' | 'none';
  /** -p mappings as given; on the host's network each is the same port on both sides. */
  ports?: string[];
}

/** One mount of a container: a volume (by name), a host path bound in, or a tmpfs. */
export interface ContainerMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** The volume's name, or the host path; none for a tmpfs. */
  source?: string;
  /** Where it appears inside the container (absolute). */
  target: string;
  readOnly?: boolean;
  /** tmpfs size in bytes and mode. */
  size?: number;
  mode?: number;
  /** A volume that is empty gets the image's content at the target on first start, unless this is set (volume-nocopy). */
  noCopy?: boolean;
}

/** docker's rule for a volume's name: two characters at least, letters, digits, _ . - */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A volume: a dir under STRATA_ROOT/volumes/NAME/_data, as docker's local driver keeps them. */
export interface VolumeRecord {
  name: string;
  created: string;
  labels: Record<string, string>;
  /** Made for one container (a -v /path or an image's VOLUME): `rm -v` and `volume prune` remove it. */
  anonymous?: boolean;
}

export { parseRef, safeRef };

/** Where a container's dirs are: one place, for every command and service. */
export interface ContainerPaths {
  dir: string;
  upper: string;
  work: string;
  merged: string;
  log: string;
}

const NAMES = ['brave', 'calm', 'eager', 'keen', 'quiet', 'swift', 'bold', 'lucid'];
const SURNAMES = ['turing', 'hopper', 'lovelace', 'ritchie', 'thompson', 'torvalds', 'kernighan', 'liskov'];
const randomName = () => `${NAMES[crypto.randomInt(NAMES.length)]}_${SURNAMES[crypto.randomInt(SURNAMES.length)]}${crypto.randomInt(100)}`;

/** What a new container is made of; the store gives it its ID (and a name, if none is asked for). */
export type NewContainer = Omit<ContainerRecord, 'id' | 'name' | 'created' | 'state'> & { name?: string };

/**
 * The store. Its LMDB databases are private: every change goes through a method here, and each
 * method that changes what another command could be relying on takes the store lock itself.
 *
 * Lifecycle of what it holds:
 * - A **blob** (`putBlob`) and a **layer** (`addLayer`, `addLayerFromTree`) appear only whole,
 *   under their digest; a layer dir and its file manifest (`layerFilesPath`, what `system check`
 *   compares the dir with) are on the disk (syncfs) before the layer is recorded.
 * - An **image** (`addImage`) names its layers by diffID; `tag` and `untag` move names;
 *   `deleteImage` removes it and every layer and blob no other image uses (layer GC).
 * - A **container** (`createContainer`) has its dirs (`containerPaths`); `updateContainer` changes its
 *   record in one transaction; `removeContainer` removes both.
 * - The **build cache** maps a step's key to the image it made (`cacheImage`, `cacheStep`).
 */
export class Store {
  readonly root: string;
  private env: RootDatabase;
  private images: Database<ImageRecord, string>;
  private tags: Database<string, string>;
  private layers: Database<LayerRecord, string>;
  private containers: Database<ContainerRecord, string>;
  private buildCache: Database<BuildCacheRecord, string>;
  private volumes: Database<VolumeRecord, string>;
  private lockDepth = 0;

  private constructor(root: string, env: RootDatabase) {
    this.root = root;
    this.env = env;
    this.images = env.openDB({ name: 'images' });
    this.tags = env.openDB({ name: 'tags' });
    this.layers = env.openDB({ name: 'layers' });
    this.containers = env.openDB({ name: 'containers' });
    this.buildCache = env.openDB({ name: 'buildcache' });
    this.volumes = env.openDB({ name: 'volumes' });
  }

  static open(root = strataRoot()): Store {
    try {
      for (const d of ['blobs/sha256', 'layers', 'layer-files', 'containers', 'volumes', 'tmp', 'db'])
        fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o700 });
      checkFreeSpace(path.join(root, 'db'), "strata's store");
      checkDataFile(path.join(root, 'db/data.mdb'));
      // Opened under the store lock: opening an LMDB environment stores the txnid of the meta page
      // it read into the shared lock region, without LMDB's writer mutex (lmdb-js's mdb_env_open2).
      // A commit in between would be set back, and the next writer would build on the snapshot
      // before it: that commit (a tag) lost, or a commit spinning forever under our lock. Every
      // write to the store is made under this lock, so none can fall in that moment.
      const s = withFileLock(path.join(root, 'lock'), () => new Store(root, open({ path: path.join(root, 'db'), maxDbs: 8, mapSize: 2 ** 30 })));
      s.cleanTmp();
      return s;
    } catch (err) {
      const e = err as StrataError;
      refuse(e.code === 'no-space' ? 'no-space' : e.code === 'damaged' ? 'damaged' : 'failed', `the store cannot be opened: ${e.message}`, err);
    }
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
        // layers a killed pull had started to add (see pendingLayers): those no image uses go
        if (n.startsWith('pending-')) this.dropUnusedLayers(readLines(path.join(this.root, 'tmp', n)));
        removeTree(path.join(this.root, 'tmp', n));
      } catch {
        /* another command cleaned it */
      }
    }
  }

  /**
   * A note of the layers a long command (a pull) is adding, in tmp/: should it be killed, the next
   * command drops those of them no image uses (cleanTmp). Each is noted before it is added.
   */
  pendingLayers(): { add(diffId: string): void; done(): void } {
    const file = this.tmpPath('pending');
    return {
      add: (d) => fs.appendFileSync(file, d + '\n', { mode: 0o600 }),
      done: () => fs.rmSync(file, { force: true }),
    };
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

  /** A layer dir's file manifest (see oci/layer-files), written with the layer; layers stored before manifests existed have none. */
  layerFilesPath(diffId: string): string {
    return path.join(this.root, 'layer-files', hexOf(diffId));
  }

  containerPaths(id: string): ContainerPaths {
    const dir = path.join(this.root, 'containers', id);
    return { dir, upper: `${dir}/upper`, work: `${dir}/work`, merged: `${dir}/merged`, log: `${dir}/log` };
  }

  /** Move a complete temp file into the blob store under its digest (a blob that exists is kept). */
  private publishBlob(tmp: string, digest: string): void {
    const dst = this.blobPath(digest);
    if (fs.existsSync(dst)) fs.rmSync(tmp, { force: true });
    else fs.renameSync(tmp, dst);
  }

  putBlob(data: Buffer, digest: string): void {
    if (fs.existsSync(this.blobPath(digest))) return; // blobs are named by their content: the one there is this one
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
   * already stored is reused. `use` runs under the lock, so an image recorded there keeps the layer.
   */
  async addLayer<T>(tar: Readable, use: (layer: LayerRecord) => T, expect?: string): Promise<T> {
    const { tmp, dir, files } = this.layerTemps();
    const [toBlob, toDir] = tee(tar);
    let w: LayerWritten;
    try {
      const [hashed, { entries, hashes }] = await Promise.all([
        writeHashed(toBlob, tmp).catch((err) => {
          toDir.destroy(err);
          throw err;
        }),
        applyLayer(toDir, dir).catch((err) => {
          toBlob.destroy(err);
          throw err;
        }),
      ]);
      w = { ...hashed, entries, hashes };
      // A layer that is not what its image says it is is never published.
      if (expect && w.digest !== expect)
        refuse('damaged', `a layer's content is ${w.digest.slice(0, 19)}, but its image says ${expect.slice(0, 19)}: the archive is damaged`);
      this.finishLayer(dir, files, w);
    } catch (err) {
      this.dropTemps(tmp, dir, files);
      throw err;
    }
    return this.publishLayer(tmp, dir, files, w, use);
  }

  /** A layer from a tree (an upper dir as a changeset, or a plain dir), read once (see layer-from-tree). */
  addLayerFromTree<T>(root: string, o: TreeOptions, use: (layer: LayerRecord) => T, progress?: LayerProgress): T {
    const { tmp, dir, files } = this.layerTemps();
    let w: LayerWritten;
    try {
      w = writeLayerFromTree(root, o, tmp, dir, progress);
      this.finishLayer(dir, files, w);
    } catch (err) {
      this.dropTemps(tmp, dir, files);
      throw err;
    }
    return this.publishLayer(tmp, dir, files, w, use);
  }

  /** A whole temp layer dir: its file manifest written, and both on the disk before anything refers to them. */
  private finishLayer(dir: string, files: string, w: LayerWritten): void {
    writeLayerFiles(dir, files, w.hashes);
    syncTree(dir);
  }

  /**
   * Run `fn` holding the store's lock (flock on STRATA_ROOT/lock, re-entrant). Publishing a layer
   * and recording the image that uses it must not interleave with a deletion that finds the layer
   * unused; both are short (renames and LMDB writes), the long work happens before. Methods that
   * change records take it themselves; a reader takes it to see several records as of one moment.
   */
  locked<T>(fn: () => T): T {
    return withFileLock(path.join(this.root, 'lock'), () => {
      // LMDB reads come from a snapshot that may predate the lock: another command may have
      // committed while this one waited for it. Read afresh, or a deletion decided under the lock
      // could miss a tag made just before (the concurrency test found it).
      if (this.lockDepth++ === 0) this.env.resetReadTxn();
      try {
        return fn();
      } finally {
        this.lockDepth--;
      }
    });
  }

  private layerTemps(): { tmp: string; dir: string; files: string } {
    const dir = this.tmpPath('layer');
    fs.mkdirSync(dir, { mode: 0o755 });
    return { tmp: this.tmpPath('layer.tar'), dir, files: this.tmpPath('layer.files') };
  }

  private dropTemps(tmp: string, dir: string, files: string): void {
    removeTree(dir);
    fs.rmSync(tmp, { force: true });
    fs.rmSync(files, { force: true });
  }

  /** Move a whole blob and layer dir into place, record the layer and hand it to `use`, under the lock. */
  private publishLayer<T>(tmp: string, dir: string, files: string, w: LayerWritten, use: (layer: LayerRecord) => T): T {
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
          removeTree(dir);
        }
        fs.renameSync(files, this.layerFilesPath(w.digest));
        // the renames, before the record that relies on them
        fsyncPath(path.join(this.root, 'layers'));
        fsyncPath(path.join(this.root, 'layer-files'));
        const rec: LayerRecord = { diffId: w.digest, blob: w.digest, size: w.size, entries: w.entries };
        this.layers.putSync(w.digest, rec);
        return use(rec);
      });
    } catch (err) {
      drop = true;
      throw err;
    } finally {
      if (drop) this.dropTemps(tmp, dir, files);
    }
  }

  // ---- images and tags ------------------------------------------------------------------------

  /** Store an image's config and manifest, record it, and tag it (all metadata in one transaction). */
  addImage(config: ImageConfig, tag?: string, parent?: string, raw?: Buffer): ImageRecord {
    return this.locked(() => this.addImageLocked(config, tag, parent, raw));
  }

  /** `raw`: the config's own bytes (a loaded image keeps its ID only if they are kept as they were). */
  private addImageLocked(config: ImageConfig, tag?: string, parent?: string, raw?: Buffer): ImageRecord {
    const descs: Descriptor[] = config.rootfs.diff_ids.map((d) => {
      const l = this.layers.get(d) ?? refuse('not-found', `layer ${d} is missing from the store`);
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
    const at = ref.indexOf('@sha256:');
    if (at > 0) {
      // NAME@sha256:… as a registry serves it (docker's RepoDigests)
      const r = parseImageRef(ref);
      const want = `${familiarName(r)}@${r.digest}`;
      for (const img of this.allImages()) if (img.repoDigests?.includes(want)) return img;
      return refuse('not-found', `no such image: ${ref}`);
    }
    const tagged = /^[a-f0-9]{64}$/.test(ref.replace(/^sha256:/, '')) ? undefined : this.tags.get(safeRef(ref));
    if (tagged) return this.images.get(tagged) ?? refuse('damaged', `image ${ref} is tagged but its record is missing (run strata system check)`);
    const hex = ref.replace(/^sha256:/, '');
    if (/^[a-f0-9]{4,64}$/.test(hex)) {
      const hits = [...this.images.getKeys({ start: 'sha256:' + hex, end: 'sha256:' + hex + '\uffff' })];
      if (hits.length === 1) return this.images.get(hits[0])!;
      if (hits.length > 1) refuse('invalid', `${ref} matches several images: give more of the ID`);
    }
    return refuse('not-found', `no such image: ${ref}`);
  }

  /** An image by its full ID, if the store has it. */
  imageById(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  allImages(): ImageRecord[] {
    return [...this.images.getRange()].map((e) => e.value);
  }

  /** The image ID a tag points at, if the tag exists. */
  tagged(ref: string): string | undefined {
    return this.tags.get(parseRef(ref));
  }

  tagsOf(id: string): string[] {
    return [...this.tags.getRange()].filter((e) => e.value === id).map((e) => e.key);
  }

  /** Every tag and the image it names. */
  allTags(): { ref: string; id: string }[] {
    return [...this.tags.getRange()].map((e) => ({ ref: e.key, id: e.value }));
  }

  /** Give image `id` the name `ref` (NAME:TAG, already parsed); refused if the image is gone. */
  tag(ref: string, id: string): void {
    this.locked(() => {
      if (!this.images.get(id)) refuse('not-found', `no such image: ${id}`);
      this.tags.putSync(ref, id);
    });
  }

  /** Remove a name; false if it named nothing. */
  untag(ref: string): boolean {
    return this.locked(() => this.tags.removeSync(ref));
  }

  /** The uncompressed size of an image: its layers' tars. */
  imageSize(img: ImageRecord): number {
    return img.layers.reduce((n, d) => n + (this.layers.get(d)?.size ?? 0), 0);
  }

  /**
   * Delete an image record and whatever of its blobs and layers no other image uses; returns the
   * bytes freed. With `ifUnused`, nothing happens (null) when, by the time the lock is held, a tag
   * names the image, a container uses it or another image was built on it: a deletion decided
   * a moment ago never loses a tag or a layer another command has just come to rely on.
   */
  deleteImage(id: string, o: { ifUnused?: boolean } = {}): number | null {
    return this.locked(() => {
      const img = this.images.get(id);
      if (!img) return null;
      const others = this.allImages().filter((i) => i.id !== id);
      if (o.ifUnused && (this.tagsOf(id).length > 0 || this.containersOf(id).length > 0 || others.some((i) => i.parent === id))) return null;
      const kept = new Set(others.flatMap((i) => i.layers));
      let freed = 0;
      this.images.removeSync(id);
      for (const d of img.layers) if (!kept.has(d)) freed += this.removeLayer(d);
      fs.rmSync(this.blobPath(img.id), { force: true });
      fs.rmSync(this.blobPath(img.manifest), { force: true });
      removeTree(this.initPath(img.id));
      for (const { key, value } of [...this.buildCache.getRange()]) if (value.image === id) this.buildCache.removeSync(key);
      return freed;
    });
  }

  // ---- layers ---------------------------------------------------------------------------------

  layer(diffId: string): LayerRecord | undefined {
    return this.layers.get(diffId);
  }

  /** Whether a layer is stored whole: its record and its dir. */
  hasLayer(diffId: string): boolean {
    return !!this.layers.get(diffId) && fs.existsSync(this.layerDir(diffId));
  }

  allLayers(): LayerRecord[] {
    return [...this.layers.getRange()].map((e) => e.value);
  }

  /** Note that a registry serves this image by `ref` (NAME@sha256:…): docker's RepoDigests. */
  addRepoDigest(id: string, ref: string): void {
    this.locked(() => {
      const img = this.images.get(id);
      if (!img) return;
      const name = ref.slice(0, ref.indexOf('@'));
      if (img.repoDigests?.includes(ref)) return;
      const kept = (img.repoDigests ?? []).filter((r) => r.slice(0, r.indexOf('@')) !== name);
      this.images.putSync(id, { ...img, repoDigests: [...kept, ref] });
    });
  }

  /** Note a compressed form of a layer and a repository (HOST/PATH) that holds it. */
  addLayerSource(diffId: string, src: { digest: string; size: number; mediaType: string; repo: string }): void {
    if (this.layers.get(diffId)?.sources?.some((x) => x.digest === src.digest && x.repos.includes(src.repo))) return; // known: no lock, no write
    this.locked(() => {
      const l = this.layers.get(diffId);
      if (!l) return;
      const sources = [...(l.sources ?? [])];
      const i = sources.findIndex((x) => x.digest === src.digest);
      if (i < 0) sources.push({ digest: src.digest, size: src.size, mediaType: src.mediaType, repos: [src.repo] });
      else if (!sources[i].repos.includes(src.repo)) sources[i] = { ...sources[i], repos: [...sources[i].repos, src.repo] };
      else return;
      this.layers.putSync(diffId, { ...l, sources });
    });
  }

  /** A layer's record, dir and blob; returns its size. The caller holds the lock. */
  private removeLayer(d: string): number {
    const l = this.layers.get(d);
    this.layers.removeSync(d);
    removeTree(this.layerDir(d));
    fs.rmSync(this.layerFilesPath(d), { force: true });
    // a layer's blob is its tar, named by the diffID (a pull killed after publishing it, before the record, leaves it so)
    fs.rmSync(this.blobPath(l?.blob ?? d), { force: true });
    return l?.size ?? 0;
  }

  /** Remove those of these layers no image uses (what a failed load had already added, or a leftover dir). */
  dropUnusedLayers(diffIds: string[]): number {
    return this.locked(() => {
      const kept = new Set(this.allImages().flatMap((i) => i.layers));
      let freed = 0;
      for (const d of diffIds) if (!kept.has(d)) freed += this.removeLayer(d);
      return freed;
    });
  }

  /** Where an image's init layer lives (see container/init-layer.ts); '' gives their parent dir. */
  initPath(imageId: string): string {
    return path.join(this.root, 'init', imageId.replace(/^sha256:/, ''));
  }

  /** The layer dirs of an image, top first (as overlayfs's lowerdir). */
  lowers(img: ImageRecord): string[] {
    return [...img.layers].reverse().map((d) => this.layerDir(d));
  }

  // ---- containers -----------------------------------------------------------------------------

  container(ref: string): ContainerRecord {
    const byId = this.containers.get(ref);
    if (byId) return byId;
    const all = this.allContainers();
    const hit = all.filter((c) => c.name === ref || c.id.startsWith(ref));
    if (hit.length === 1) return hit[0];
    return refuse(hit.length ? 'invalid' : 'not-found', hit.length ? `${ref} matches several containers` : `no such container: ${ref}`);
  }

  containerById(id: string): ContainerRecord | undefined {
    return this.containers.get(id);
  }

  allContainers(): ContainerRecord[] {
    return [...this.containers.getRange()].map((e) => e.value);
  }

  /** Containers that use an image. */
  containersOf(imageId: string): ContainerRecord[] {
    return this.allContainers().filter((c) => c.image === imageId);
  }

  /** A new container: its record and its dirs. A name already in use is refused; none given, one is made up. */
  createContainer(n: NewContainer): ContainerRecord {
    if (n.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(n.name)) refuse('invalid', `"${n.name}" is not a valid container name`);
    if (!this.images.get(n.image)) refuse('not-found', `no such image: ${n.image}`);
    return this.locked(() => {
      const taken = new Set(this.allContainers().map((c) => c.name));
      if (n.name && taken.has(n.name)) refuse('conflict', `the container name "${n.name}" is already in use`);
      let name = n.name;
      while (!name || taken.has(name)) name = randomName();
      const c: ContainerRecord = { ...n, id: crypto.randomBytes(32).toString('hex'), name, created: new Date().toISOString(), state: 'created' };
      const p = this.containerPaths(c.id);
      for (const d of [p.upper, p.work, p.merged]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      this.containers.putSync(c.id, c);
      return c;
    });
  }

  /** Change a container's record in one transaction (`edit` sees the record as stored now); returns the new one. */
  updateContainer(id: string, edit: (c: ContainerRecord) => ContainerRecord): ContainerRecord | undefined {
    // under the lock as every write, so that none is made while a command opens the store (see open)
    return this.locked(() =>
      this.containers.transactionSync(() => {
        const c = this.containers.get(id);
        if (!c) return undefined;
        const next = edit(c);
        this.containers.putSync(id, next);
        return next;
      }),
    );
  }

  /** Remove a container's record and its dirs (its merged view must be unmounted first). */
  removeContainer(id: string): void {
    this.locked(() => this.containers.removeSync(id));
    removeTree(this.containerPaths(id).dir);
  }

  // ---- volumes --------------------------------------------------------------------------------

  /** Where a volume's data is (docker's local driver layout: volumes/NAME/_data). */
  volumePath(name: string): string {
    return path.join(this.root, 'volumes', name, '_data');
  }

  volume(name: string): VolumeRecord {
    return this.volumes.get(name) ?? refuse('not-found', `no such volume: ${name}`);
  }

  volumeByName(name: string): VolumeRecord | undefined {
    return this.volumes.get(name);
  }

  allVolumes(): VolumeRecord[] {
    return [...this.volumes.getRange()].map((e) => e.value);
  }

  /** How many containers (running or not) mount each volume; a volume none mounts is not in it. */
  volumeLinks(): Map<string, number> {
    const links = new Map<string, number>();
    for (const c of this.allContainers()) for (const m of c.mounts ?? []) if (m.type === 'volume') links.set(m.source!, (links.get(m.source!) ?? 0) + 1);
    return links;
  }

  /** A volume and its dir; one of that name already there is returned as it is (docker's create is idempotent). */
  addVolume(v: { name?: string; labels?: Record<string, string>; anonymous?: boolean }): VolumeRecord {
    const name = v.name ?? crypto.randomBytes(32).toString('hex');
    if (!VOLUME_NAME.test(name)) refuse('invalid', `"${name}" is not a valid volume name: use letters, digits, _ . - (two characters at least)`);
    return this.locked(() => {
      const had = this.volumes.get(name);
      if (had) return had;
      const rec: VolumeRecord = { name, created: new Date().toISOString(), labels: v.labels ?? {}, ...(v.anonymous ? { anonymous: true } : {}) };
      fs.mkdirSync(this.volumePath(name), { recursive: true, mode: 0o755 });
      this.volumes.putSync(name, rec);
      return rec;
    });
  }

  /** Remove a volume's record, then its data. */
  removeVolume(name: string): void {
    this.locked(() => this.volumes.removeSync(name));
    removeTree(path.dirname(this.volumePath(name)));
  }

  // ---- the build cache ------------------------------------------------------------------------

  /** The image a cached build step made, if the step is cached and its image still exists. */
  cachedImage(key: string): ImageRecord | undefined {
    const hit = this.buildCache.get(key);
    return hit ? this.images.get(hit.image) : undefined;
  }

  cacheStep(key: string, imageId: string): void {
    this.locked(() => this.buildCache.putSync(key, { image: imageId, created: new Date().toISOString() }));
  }

  /** Every cached step, with the image it made (`live`: whether that image still exists). */
  cacheEntries(): { key: string; image: string; live: boolean }[] {
    return [...this.buildCache.getRange()].map((e) => ({ key: e.key, image: e.value.image, live: !!this.images.get(e.value.image) }));
  }

  /** Forget cached steps (all of them without `keys`); returns how many. */
  forgetCache(keys?: string[]): number {
    return this.locked(() => {
      const all = keys ?? [...this.buildCache.getKeys()];
      for (const k of all) this.buildCache.removeSync(k);
      return all.length;
    });
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

function readLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
