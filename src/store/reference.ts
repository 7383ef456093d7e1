// Image references with docker's grammar and normalisation:
//   [DOMAIN[:PORT]/]PATH[:TAG][@ALGO:HEX]
// The first component is a registry when it holds a '.' or a ':', or is "localhost"; else the
// registry is docker.io, where a one-component path lives under library/. So `busybox` is
// docker.io/library/busybox:latest. The store keys tags by the familiar form, the one docker
// shows: docker.io/ and library/ dropped, any other registry kept (127.0.0.1:5000/x/y:1).
import { refuse } from '../sys/errors.js';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_RE =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export const DOCKER_HUB = 'docker.io';

export interface ImageRef {
  /** The registry: docker.io, or HOST[:PORT]. */
  domain: string;
  /** The repository in it: library/busybox, x/y. */
  path: string;
  tag?: string;
  digest?: string;
}

/** Parse a reference as docker does; a bad one is refused with a sentence that says which part is wrong. */
export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) refuse('invalid', `"${ref}" has an invalid digest (sha256: and 64 hex digits)`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) refuse('invalid', `"${ref}" has an invalid tag (letters, digits, _ . -, at most 128)`);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  let domain = DOCKER_HUB;
  let path = rest;
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN_RE.test(first)) refuse('invalid', `"${ref}" has an invalid registry name "${first}"`);
    domain = first === 'index.docker.io' ? DOCKER_HUB : first;
    path = rest.slice(slash + 1);
  }
  if (!PATH_RE.test(path)) refuse('invalid', `"${ref}" is not a valid image name (lowercase letters, digits, and . _ - / separators)`);
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (domain.length + 1 + path.length > 255) refuse('invalid', `"${ref}" is longer than 255 characters`);
  return { domain, path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The name as docker shows it: docker.io/library/busybox is busybox, docker.io/x/y is x/y. */
export function familiarName(r: ImageRef): string {
  if (r.domain !== DOCKER_HUB) return `${r.domain}/${r.path}`;
  return r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
}

/** The full name, registry included: docker.io/library/busybox. */
export const fullName = (r: ImageRef) => `${r.domain}/${r.path}`;

const suffix = (r: ImageRef) => (r.digest ? `@${r.digest}` : `:${r.tag ?? 'latest'}`);

/** The reference in its familiar form with its tag or digest (busybox:latest, x@sha256:…). */
export const familiarRef = (r: ImageRef) => familiarName(r) + suffix(r);

/** The reference in full, registry included, as docker ends a pull with it (docker.io/library/busybox:latest). */
export const fullRef = (r: ImageRef) => fullName(r) + suffix(r);

/** NAME[:TAG] as the store keys tags: the familiar name and the tag (latest by default). */
export function parseRef(ref: string): string {
  const r = parseImageRef(ref);
  if (r.digest) refuse('invalid', `"${ref}" names a digest: a tag is NAME[:TAG]`);
  return `${familiarName(r)}:${r.tag ?? 'latest'}`;
}

/** The canonical NAME:TAG of a reference, or the reference as given when it does not parse (an ID). */
export function safeRef(ref: string): string {
  try {
    return parseRef(ref);
  } catch {
    return ref;
  }
}
