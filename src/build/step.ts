// One build step: what makes its result (its cache key, with the parent image) and how to make it.
import type { ImageRecord, Store } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';
import type { Containers } from '../container/service.js';
import type { SentFilter } from './context.js';

export interface Step {
  /** What makes this step's result: with the parent image, its cache key (a promise where it must fetch first: ADD of a URL). */
  signature: string | Promise<string>;
  /** The step's image on `parent` (null: FROM scratch); `config` is the parent's, the step's to change. */
  run(parent: ImageRecord | null, config: ImageConfig): Promise<ImageRecord>;
  /** Called once the step is done with, run or cached (a fetched file goes). */
  dispose?(): void;
}

/** What a step reports of its own: RUN's container (docker's ` ---> Running in ID` and `Removing intermediate container ID`). */
export type StepEvent = { type: 'running'; container: string } | { type: 'removed'; container: string };

/** What steps work with: the store, the containers their RUN and COPY happen in, the context dir. */
export interface StepEnv {
  s: Store;
  containers: Containers;
  ctx: string;
  /** Which context files are sent (.dockerignore): COPY and ADD see only those. */
  sent: SentFilter;
  /** The images of the stages built so far, by name (lower case) and by index: COPY --from and FROM take them. */
  stages: Map<string, ImageRecord>;
  /** false (--rm=false): RUN's containers are kept after the step, for diff and inspect. */
  rm: boolean;
  on: (e: StepEvent) => void;
}

export const SHELL = ['/bin/sh', '-c'];

/** A step's config: made now, with its history entry (each step's image records its parent, which makes it an intermediate). */
export function withHistory(config: ImageConfig, createdBy: string, empty: boolean): ImageConfig {
  const now = new Date().toISOString();
  config.created = now;
  config.history = [...config.history, { created: now, created_by: createdBy, ...(empty ? { empty_layer: true } : {}) }];
  return config;
}
