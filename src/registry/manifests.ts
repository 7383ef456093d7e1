// Reading what a registry serves: an image manifest (OCI or Docker schema 2) or an index
// (OCI image index or Docker manifest list), from which one platform is chosen. Anything else, or
// a document that does not have the fields it must, is refused in one sentence.
import { StrataError } from '../sys/errors.js';
import { MANIFEST_TYPES, parseJson, type Fetched } from './client.js';

export interface BlobDesc {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ImageManifest {
  config: BlobDesc;
  layers: BlobDesc[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

interface IndexEntry extends BlobDesc {
  platform?: Platform;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export const isIndex = (f: Fetched) => f.mediaType === MANIFEST_TYPES.ociIndex || f.mediaType === MANIFEST_TYPES.dockerList;

function desc(x: unknown, what: string, host: string): BlobDesc {
  const d = x as Partial<BlobDesc>;
  if (!d || typeof d.digest !== 'string' || !DIGEST.test(d.digest) || typeof d.size !== 'number' || d.size < 0 || !Number.isSafeInteger(d.size))
    throw new StrataError('damaged', `${host} served a manifest whose ${what} has no valid digest and size`);
  return { mediaType: typeof d.mediaType === 'string' ? d.mediaType : '', digest: d.digest, size: d.size };
}

export function parseImageManifest(f: Fetched, host: string): ImageManifest {
  if (f.mediaType !== MANIFEST_TYPES.ociManifest && f.mediaType !== MANIFEST_TYPES.dockerManifest)
    throw new StrataError('unsupported', `${host} served a manifest of type ${f.mediaType || 'unknown'}; strata takes OCI and Docker schema 2 images`);
  const doc = parseJson(f.bytes, `the manifest from ${host}`) as { config?: unknown; layers?: unknown };
  if (!Array.isArray(doc.layers)) throw new StrataError('damaged', `${host} served a manifest without a list of layers`);
  return { config: desc(doc.config, 'config', host), layers: doc.layers.map((l, i) => desc(l, `layer ${i + 1}`, host)) };
}

/** This host's platform, in the registry's words (amd64, arm64, arm/v7). */
export function hostPlatform(): Platform {
  const arch =
    { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }[process.arch as string] ?? process.arch;
  return { os: 'linux', architecture: arch, ...(arch === 'arm64' ? { variant: 'v8' } : arch === 'arm' ? { variant: 'v7' } : {}) };
}

/** `os/arch[/variant]` */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split('/');
  if (!os || !architecture || extra !== undefined) throw new StrataError('invalid', `--platform ${s} is not os/arch[/variant] (linux/amd64, linux/arm/v7)`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export const platformName = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The entry of an index for `want`: os and architecture must match, and the variant where both name one. */
export function choosePlatform(f: Fetched, want: Platform, host: string): BlobDesc {
  const doc = parseJson(f.bytes, `the index from ${host}`) as { manifests?: unknown };
  if (!Array.isArray(doc.manifests)) throw new StrataError('damaged', `${host} served an index without a list of manifests`);
  const entries = doc.manifests.map((m, i) => ({ ...desc(m, `entry ${i + 1}`, host), platform: (m as IndexEntry).platform }) as IndexEntry);
  const hit = entries.find(
    (e) =>
      e.platform?.os === want.os &&
      e.platform?.architecture === want.architecture &&
      (!want.variant || !e.platform.variant || e.platform.variant === want.variant),
  );
  if (!hit) {
    const offered = entries.map((e) => (e.platform ? platformName(e.platform) : '?')).join(', ');
    throw new StrataError('not-found', `no image for ${platformName(want)} in the index (it has ${offered || 'none'}); choose one with --platform`);
  }
  return hit;
}
