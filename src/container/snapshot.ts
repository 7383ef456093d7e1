// Container filesystems as snapshots, after containerd's Snapshotter (core/snapshots/snapshotter.go).
// A snapshot is an image's layers (the lowers, read-only) and, when active, an upper and a work dir
// of its own in the overlayfs format. Two implementations reach its merged view: a FUSE mount served
// by our daemon (snapshot-fuse.ts), for processes that need a path (run, exec, export), and a Union
// in this process (snapshot-local.ts), for the services' own reads and writes (diff, commit, build's
// COPY), with no mount and no FUSE round trip. Both keep the same dirs, so either sees what the
// other wrote (never at the same time: see LocalSnapshotter.open).
import type { ImageRecord } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';
import type { ProgressSink } from '../sys/progress.js';

export type SnapshotKind = 'active' | 'view';

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  /** The image whose layers are the lowers. */
  parent: string;
  /** Mounted over the image's own init layer (an active snapshot of an image that needs one). */
  init?: true;
}

/** How to mount a snapshot, as containerd's mount.Mount: a description, not a mount. */
export interface Mount {
  type: 'overlay';
  /** Lower dirs, top first (overlayfs's lowerdir). */
  lowers: string[];
  /** The upper and work dirs; absent for a view. */
  upper?: string;
  work?: string;
  /** The same as overlayfs options (`lowerdir=A:B`, `upperdir=U`, `workdir=W`): `strata mount -o` and `mount -t overlay` take them. */
  options: string[];
}

export interface CommitOptions {
  /** A reference to tag the new image with. */
  tag?: string;
  /** The image it was built on, when it is a build step (which makes the parent an intermediate). */
  parent?: string;
  progress?: ProgressSink;
}

/**
 * Snapshots keyed by a string (a container's ID).
 *
 * Lifecycle:
 * - `prepare(key, parent)`: an **active** snapshot: an empty upper dir and a work dir over the parent
 *   image's layers. What is written to its merged view lands in the upper dir only (copy-up, whiteouts).
 * - `view(key, parent)`: a **view**: the parent's layers alone, read-only.
 * - `stat(key)`: what a key is (kind, parent), or undefined for a key never prepared.
 * - `mounts(key)`: how to mount it (lowers, upper, work). It mounts nothing.
 * - `commit(key, config, o)`: an active snapshot's upper dir as a new layer (an OCI changeset: `.wh.`
 *   whiteouts, opaque dirs), recorded as an image with `config`, whose diff_ids get the new layer.
 *   Unlike containerd, the active snapshot stays (docker commit keeps the container) and can be
 *   committed again; a view has nothing to commit ('invalid').
 * - `remove(key)`: unmounts what is mounted of it and removes its dirs; nothing of it is left.
 * A key is prepared once (again: 'conflict'); an unknown key is 'not-found'. A snapshot does not keep
 * its parent image alive: the container record that uses the key does.
 */
export interface Snapshotter {
  prepare(key: string, parent: ImageRecord): Mount;
  view(key: string, parent: ImageRecord): Mount;
  stat(key: string): SnapshotInfo | undefined;
  mounts(key: string): Mount;
  commit(key: string, config: ImageConfig, o?: CommitOptions): ImageRecord;
  remove(key: string): void;
}

export function mountOf(lowers: string[], upper?: string, work?: string): Mount {
  const options = [`lowerdir=${lowers.join(':')}`, ...(upper && work ? [`upperdir=${upper}`, `workdir=${work}`] : [])];
  return { type: 'overlay', lowers, ...(upper && work ? { upper, work } : {}), options };
}
