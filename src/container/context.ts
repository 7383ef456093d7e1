// What the container verbs (lifecycle, fs-verbs, logs) need of the service that calls them.
import type { ContainerRecord, Store } from '../store/store.js';
import { alive } from '../sys/process.js';
import type { FuseSnapshotter } from './snapshot-fuse.js';
import type { LocalSnapshotter } from './snapshot-local.js';
import type { Volumes } from './volumes.js';

/** What a container's state is, beyond its record: whether it really runs, is paused, has lost its daemon. */
export interface ContainerState {
  running: boolean;
  paused: boolean;
  daemonDead: boolean;
}

export interface ContainerContext {
  readonly s: Store;
  readonly fuse: FuseSnapshotter;
  readonly local: LocalSnapshotter;
  /** The command that supervises a detached container, run with `start -a --supervise ID`. */
  readonly supervisor: string[];
  /** The copy-up trace file its mounts write, passed on to a supervisor (run/start --trace). */
  readonly trace?: string;
  /** The container's snapshot key, its snapshot prepared if it has none yet. */
  snapshot(c: ContainerRecord): string;
  /** The record as stored now, or the one given if it is gone. */
  fresh(c: ContainerRecord): ContainerRecord;
  state(c: ContainerRecord): ContainerState;
  /** Kill what runs, unmount, remove its snapshot and record (`volumes`: its anonymous volumes too). */
  removeRecord(c: ContainerRecord, o?: { volumes?: boolean }): void;
  readonly volumes: Volumes;
}

/** Whether a container really runs (a record saying so after its supervisor was killed does not). */
export const running = (c: ContainerRecord) => c.state === 'running' && alive(c.pid);
