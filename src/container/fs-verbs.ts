// What the container verbs do to a container's files: diff (its upper dir as A/C/D), commit (its
// upper dir as a new layer and image, the container paused meanwhile) and export (its merged view
// as a tar). diff and commit read the upper dir in process; export reads the merged view mounted.
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { refuse } from '../sys/errors.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import { walkOverlay } from '../sys/overlay-walk.js';
import { isDir, type Stat } from '../sys/stat.js';
import { parseRef, type ContainerRecord, type ImageRecord } from '../store/store.js';
import { applyChanges } from '../oci/changes.js';
import type { ImageConfig } from '../oci/image.js';
import { treeEntries } from '../oci/tree-entries.js';
import { packEntry } from '../oci/tar-write.js';
import { canFreeze, isFrozen, setFrozen } from './freezer.js';
import { running, type ContainerContext } from './context.js';

/** docker diff's kinds: A added, C changed, D deleted. */
export type Change = ['A' | 'C' | 'D', string];

/**
 * A/C/D from the upper dir, sorted by path: a path nothing below has is added, and so is all under
 * an added or opaque dir. A dir that is there only because something in it changed (copied up with
 * the mode, size and mtime it has below) is not a change, as in docker.
 */
export function changes(k: ContainerContext, c: ContainerRecord): Change[] {
  const key = k.snapshot(c);
  const lowerStat = k.local.lowerStat(key);
  const fresh = new Set<string>(); // dirs whose whole contents are new
  const out: Change[] = [];
  for (const e of walkOverlay(k.s.containerPaths(c.id).upper, { sorted: true })) {
    if (e.whiteout) {
      out.push(['D', e.rel]);
      continue;
    }
    const below = fresh.has(e.rel.slice(0, e.rel.lastIndexOf('/'))) ? null : lowerStat(e.rel);
    const added = below === null;
    if (below && e.dir && !e.opaque() && sameDir(e.st, below)) continue;
    out.push([added ? 'A' : 'C', e.rel]);
    if (e.dir && (added || e.opaque())) fresh.add(e.rel);
  }
  return out.sort((a, b) => a[1].localeCompare(b[1]));
}

/** docker's test for a dir that did not change: same mode, size and mtime as below. */
const sameDir = (up: Stat, below: Stat) =>
  isDir(below.mode) && up.mode === below.mode && up.size === below.size && up.mtimeSec === below.mtimeSec && up.mtimeNsec === below.mtimeNsec;

export interface CommitRequest {
  /** repository[:tag] for the new image. */
  repo?: string;
  author?: string;
  message?: string;
  /** Dockerfile instructions applied to the config (-c). */
  change?: string[];
  /** Pause a running container while its layer is read (default true, as docker). */
  pause?: boolean;
  progress?: ProgressSink;
}

/** The container's upper dir as a new image on its image (docker commit). */
export function commitContainer(k: ContainerContext, c: ContainerRecord, o: CommitRequest): ImageRecord {
  const key = k.snapshot(c);
  const tag = o.repo ? parseRef(o.repo) : undefined;
  const img = k.s.imageById(c.image) ?? refuse('not-found', `the image of container ${c.name} is gone`);
  // The new config is made (and -c checked) before the long work; only the layer's diffID is missing.
  const parent = k.s.config(img);
  const now = new Date().toISOString();
  const config: ImageConfig = { ...parent, created: now, config: applyChanges(parent.config, o.change ?? []) };
  if (o.author) config.author = o.author;
  const createdBy = c.command.join(' ') || (parent.config.Cmd ?? []).join(' ');
  const entry = { created: now, created_by: createdBy, ...(o.author ? { author: o.author } : {}), ...(o.message ? { comment: o.message } : {}) };
  config.history = [...parent.history, entry];
  // As docker, a running container is paused while its layer is read, so the layer is one moment of it.
  const pause = o.pause !== false && running(c) && canFreeze(c.id) && !isFrozen(c.id);
  if (pause) setFrozen(c.id, true);
  try {
    // its parent is the container's image, as docker records it (images -a, ps -f ancestor=)
    return k.local.commit(key, config, { tag, progress: o.progress, parent: img.id });
  } finally {
    if (pause) setFrozen(c.id, false);
  }
}

/** The merged view as a tar stream, written as the reader takes it; progress in bytes of file data. */
export function exportTar(k: ContainerContext, c: ContainerRecord, progress: ProgressSink = noProgress): Readable {
  const key = k.snapshot(c);
  const pack = tar.pack();
  const item = c.name;
  const write = async (merged: string) => {
    let done = 0;
    for (const { h, src } of treeEntries(merged)) {
      await packEntry(pack, h, src);
      done += h.size ?? 0;
      progress({ task: 'export', item, done });
    }
    pack.finalize();
    progress({ task: 'export', item, done, finished: true });
  };
  k.fuse.withMounted(key, (mounted) => write(mounted())).catch((err) => pack.destroy(err));
  return pack as unknown as Readable;
}
