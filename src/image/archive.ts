// save and load: copies between the store's images and an archive (see archive-write, layout,
// docker-archive). load checks every blob against its digest and every layer against its diffID
// before anything is recorded, and a failed load removes the layers it had added.
import { removeTree } from '../sys/remove-tree.js';
import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { refuse } from '../sys/errors.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import { safeRef, type Store } from '../store/store.js';
import type { Image } from './image.js';
import { StoreImage } from './store-image.js';
import { writeArchive } from './archive-write.js';
import { readLayout } from './layout.js';
import { readDockerArchive } from './docker-archive.js';
import { unpackArchive } from './unpack.js';
import { copyToStore } from './copy.js';
import { counted } from './counting.js';

/** The images `refs` name, each tagged in the archive with its ref when the ref is one of its tags. */
export function imagesToSave(s: Store, refs: string[]): Image[] {
  return refs.map((ref) => {
    const record = s.image(ref);
    const tag = s.tagsOf(record.id).includes(safeRef(ref)) ? safeRef(ref) : undefined;
    return new StoreImage(s, record, tag ? [tag] : []);
  });
}

export async function save(s: Store, refs: string[], out: Writable, sink: ProgressSink = noProgress): Promise<void> {
  await writeArchive(imagesToSave(s, refs), out, sink);
}

/** Save to `file`, written whole or not at all: a temp file beside it, renamed when complete, removed if anything fails. */
export async function saveToFile(s: Store, refs: string[], file: string, sink: ProgressSink = noProgress): Promise<void> {
  const images = imagesToSave(s, refs);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeArchive(images, fs.createWriteStream(tmp), sink);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export interface Loaded {
  id: string;
  tags: string[];
}

/** The images of an unpacked archive: docker's manifest.json (tags and layer paths), else the OCI index. */
export function archiveImages(dir: string): Image[] {
  if (fs.existsSync(`${dir}/manifest.json`)) return readDockerArchive(dir);
  if (fs.existsSync(`${dir}/index.json`)) return readLayout(dir);
  return refuse('damaged', 'this is not an image archive: it has neither manifest.json nor index.json');
}

/** Load an archive (`size`: its bytes, when known, for progress) into the store. */
export async function load(s: Store, input: Readable, o: { size?: number } = {}, sink: ProgressSink = noProgress): Promise<Loaded[]> {
  const dir = s.tmpPath('load');
  fs.mkdirSync(dir, { mode: 0o700 });
  try {
    await unpackArchive(counted(input, sink, 'read', 'archive', o.size), dir);
    const images = archiveImages(dir);
    // Layers this load adds go again if it fails: an image is recorded whole or not at all.
    const added: string[] = [];
    const loaded: Loaded[] = [];
    try {
      for (const img of images) {
        const { record, tags } = await copyToStore(s, img, added, sink);
        loaded.push({ id: record.id, tags });
      }
    } catch (err) {
      s.dropUnusedLayers(added);
      throw err;
    }
    return loaded;
  } finally {
    removeTree(dir);
  }
}
