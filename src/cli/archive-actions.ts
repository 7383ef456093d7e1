// `strata save` / `strata load`: images as one tar, in the layout docker 25+ writes: an OCI image
// layout (oci-layout, index.json, blobs/sha256/…) with docker's manifest.json beside it, so that
// `docker load`, skopeo and umoci read what strata saves. `load` takes that, a plain OCI layout,
// or an older docker archive; every blob is checked against its digest and every layer against
// its image's diffID before anything is recorded.
import crypto from 'node:crypto';
import { refuse, StrataError } from '../sys/errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { parseRef, safeRef, type ImageRecord, type Store } from '../store/store.js';
import { MEDIA, type ImageConfig, type Manifest } from '../oci/image.js';
import { cleanName } from '../oci/layer-builder.js';
import { openTar } from '../oci/tar-apply.js';
import { packEntry } from '../oci/tar-write.js';
import { hexOf } from '../oci/digest.js';
import { withStore } from './image-actions.js';
import { fatal } from './fatal.js';

interface DockerManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** docker.io/library/busybox:latest and busybox:latest name the same image; strata keeps the short form. */
const shortRef = (t: string) => t.replace(/^docker\.io\/(library\/)?/, '');

export function save(refs: string[], o: { output?: string }): Promise<void> {
  if (!o.output && process.stdout.isTTY) fatal('refusing to write a tar to a terminal; use -o FILE or redirect it (strata save IMAGE > image.tar)');
  return withStore(async (s) => {
    const wanted = refs.map((ref) => ({ ref, img: s.image(ref) }));
    const blobs = new Map<string, string>(); // hex -> file
    const index: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] = [];
    const dockerManifest: DockerManifestEntry[] = [];
    for (const { ref, img } of wanted) {
      const manifestFile = s.blobPath(img.manifest);
      const m: Manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      for (const d of [img.manifest, m.config.digest, ...m.layers.map((l) => l.digest)]) blobs.set(hexOf(d), s.blobPath(d));
      const tag = s.tagsOf(img.id).includes(safeRef(ref)) ? safeRef(ref) : undefined;
      const size = fs.statSync(manifestFile).size;
      index.push({ mediaType: MEDIA.manifest, digest: img.manifest, size, ...(tag ? { annotations: { 'io.containerd.image.name': `docker.io/${tag.includes('/') ? '' : 'library/'}${tag}`, 'org.opencontainers.image.ref.name': tag.slice(tag.lastIndexOf(':') + 1) } } : {}) });
      dockerManifest.push({ Config: `blobs/sha256/${hexOf(m.config.digest)}`, RepoTags: tag ? [tag] : null, Layers: m.layers.map((l) => `blobs/sha256/${hexOf(l.digest)}`) });
    }
    const pack = tar.pack();
    const out = o.output ? fs.createWriteStream(`${o.output}.tmp-${process.pid}`) : process.stdout;
    const done = pipeline(pack as unknown as Readable, out);
    const small = (name: string, data: string) => new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())));
    await small('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await small('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: index }));
    await small('manifest.json', JSON.stringify(dockerManifest));
    for (const [hex, file] of blobs) await packEntry(pack, { name: `blobs/sha256/${hex}`, mode: 0o644, size: fs.statSync(file).size, mtime: new Date(0) }, file);
    pack.finalize();
    await done;
    if (o.output) {
      fs.renameSync(`${o.output}.tmp-${process.pid}`, o.output);
    }
  });
}

export function load(o: { input?: string }): Promise<void> {
  if (!o.input && process.stdin.isTTY) fatal('no archive on stdin: use -i FILE or redirect one (strata load < image.tar)');
  return withStore(async (s) => {
    const dir = s.tmpPath('load');
    fs.mkdirSync(dir, { mode: 0o700 });
    try {
      const files = await unpack(o.input ? fs.createReadStream(o.input) : process.stdin, dir, s);
      const read = (p: string) => {
        const f = files.get(cleanName(p)) ?? refuse('failed', `the archive has no ${p}`);
        return f;
      };
      // The images: docker's manifest.json (tags and layer paths), or else the OCI index.
      const images: ArchivedImage[] = [];
      if (files.has('manifest.json')) {
        const list: DockerManifestEntry[] = JSON.parse(fs.readFileSync(read('manifest.json'), 'utf8'));
        for (const e of list) images.push({ config: read(e.Config), tags: (e.RepoTags ?? []).map(shortRef), layers: e.Layers.map((l) => ({ file: read(l) })) });
      } else if (files.has('index.json')) {
        const idx: { manifests: { digest: string; annotations?: Record<string, string> }[] } = JSON.parse(fs.readFileSync(read('index.json'), 'utf8'));
        for (const d of idx.manifests) {
          const m: Manifest = JSON.parse(fs.readFileSync(read(`blobs/sha256/${hexOf(d.digest)}`), 'utf8'));
          const name = d.annotations?.['io.containerd.image.name'];
          images.push({ config: read(`blobs/sha256/${hexOf(m.config.digest)}`), tags: name ? [shortRef(name)] : [], layers: m.layers.map((l) => ({ file: read(`blobs/sha256/${hexOf(l.digest)}`) })) });
        }
      } else refuse('failed', 'this is not an image archive: it has neither manifest.json nor index.json');
      // Layers this load adds go again if it fails: an image is recorded whole or not at all.
      const added: string[] = [];
      try {
        for (const im of images) await loadImage(s, im, added);
      } catch (err) {
        s.dropUnusedLayers(added);
        throw err;
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

interface ArchivedImage {
  config: string; // temp file of its config
  tags: string[];
  layers: { file: string }[];
}

/** One image: its layers (checked against the config's diffIDs as they are stored), then its record. */
async function loadImage(s: Store, im: ArchivedImage, added: string[]): Promise<void> {
  const raw = fs.readFileSync(im.config);
  const config: ImageConfig = JSON.parse(raw.toString('utf8'));
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== im.layers.length) refuse('failed', `an image in the archive lists ${im.layers.length} layers but its config ${diffIds.length}`);
  for (const [i, l] of im.layers.entries()) {
    if (s.layer(diffIds[i]) && fs.existsSync(s.layerDir(diffIds[i]))) continue; // stored already
    await s.addLayer(openTar(l.file), () => undefined, diffIds[i]);
    added.push(diffIds[i]);
  }
  const tags = im.tags.map((t) => parseRef(t));
  const rec: ImageRecord = s.addImage(config, tags[0], undefined, raw);
  for (const t of tags.slice(1)) s.tag(t, rec.id);
  if (tags.length) for (const t of tags) console.log(`Loaded image: ${t}`);
  else console.log(`Loaded image ID: ${rec.id}`);
}

/**
 * Every regular file of the archive into `dir`, by its clean path; a file under blobs/sha256/ must
 * hash to its name. Returns path -> temp file.
 */
async function unpack(input: Readable, dir: string, s: Store): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const extract = tar.extract();
  let n = 0;
  extract.on('entry', (h: tar.Header, source: unknown, next: (err?: Error | null) => void) => {
    const stream = source as Readable;
    let name: string;
    try {
      name = cleanName(h.name);
    } catch (err) {
      stream.resume();
      return next(err as Error);
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') {
      stream.resume();
      return next();
    }
    const file = path.join(dir, String(n++));
    const hash = crypto.createHash('sha256');
    const out = fs.createWriteStream(file);
    stream.on('data', (d: Buffer) => hash.update(d));
    pipeline(stream, out).then(() => {
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      if (m && hash.digest('hex') !== m[1]) return next(new StrataError('damaged', `blob ${m[1].slice(0, 12)} in the archive does not match its digest: the archive is damaged`));
      files.set(name, file);
      next();
    }, next);
  });
  try {
    await pipeline(input, extract as unknown as NodeJS.WritableStream);
  } catch (err) {
    if (err instanceof StrataError) throw err; // a blob that does not match its digest, a name escaping the root
    refuse('damaged', `this is not an image archive (a tar): ${(err as Error).message}`);
  }
  return files;
}
