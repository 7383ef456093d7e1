// OCI image config and manifest (image-spec config.md, manifest.md), as strata writes them.
import { sha256 } from './digest.js';

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  index: 'application/vnd.oci.image.index.v1+json',
};

export interface History {
  created: string;
  created_by?: string;
  comment?: string;
  author?: string;
  empty_layer?: boolean;
}

export interface RunConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  /** The shell RUN, CMD and ENTRYPOINT take their shell form with (SHELL; default /bin/sh -c). */
  Shell?: string[];
  /** The signal `stop` sends first (STOPSIGNAL; default SIGTERM). */
  StopSignal?: string;
  /** HEALTHCHECK, as docker stores it (durations in nanoseconds). */
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  Volumes?: Record<string, Record<string, never>>;
  /** ONBUILD triggers: instructions a build FROM this image runs first. */
  OnBuild?: string[];
}

export interface ImageConfig {
  created: string;
  author?: string;
  architecture: string;
  os: string;
  config: RunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: History[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

export function newConfig(run: RunConfig = {}): ImageConfig {
  return {
    created: new Date().toISOString(),
    architecture: ARCH[process.arch] ?? process.arch,
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...run },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/** The config and manifest as stored bytes; the image ID is the config's digest (as docker's). */
export function serialize(config: ImageConfig, layers: Descriptor[], raw?: Buffer): { configJson: Buffer; manifestJson: Buffer; id: string } {
  const configJson = raw ?? Buffer.from(JSON.stringify(config));
  const id = sha256(configJson);
  const manifest: Manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: { mediaType: MEDIA.config, digest: id, size: configJson.length }, layers };
  return { configJson, manifestJson: Buffer.from(JSON.stringify(manifest)), id };
}
