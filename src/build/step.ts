// One build step: what makes its result (its cache key, with the parent image) and how to make it.
import type { ImageRecord, Store } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';
import type { Containers } from '../container/service.js';

export interface Step {
  /** What makes this step's result: with the parent image, its cache key. */
  signature: string;
  /** The step's image on `parent` (null: FROM scratch); `config` is the parent's, the step's to change. */
  run(parent: ImageRecord | null, config: ImageConfig): Promise<ImageRecord>;
}

/** What steps work with: the store, the containers their RUN and COPY happen in, the context dir. */
export interface StepEnv {
  s: Store;
  containers: Containers;
  ctx: string;
  /** The images of the stages built so far, by name (lower case) and by index: COPY --from and FROM take them. */
  stages: Map<string, ImageRecord>;
}

export const SHELL = ['/bin/sh', '-c'];

/** A step's config: made now, with its history entry (each step's image records its parent, which makes it an intermediate). */
export function withHistory(config: ImageConfig, createdBy: string, empty: boolean): ImageConfig {
  const now = new Date().toISOString();
  config.created = now;
  config.history = [...config.history, { created: now, created_by: createdBy, ...(empty ? { empty_layer: true } : {}) }];
  return config;
}
