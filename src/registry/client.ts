// The distribution API (OCI distribution spec) for one registry: manifests, blobs (with Range to
// resume, uploads monolithic or chunked, and cross-repository mounts), the catalog and tag lists
// (following Link pagination). Each call carries the scope it needs; a 401 is answered once by the
// Authenticator and the call sent again. A registry's error document becomes one sentence.
import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { StrataError } from '../sys/errors.js';
import { Authenticator, type Credential } from './auth.js';
import { readBody, RegistryHttp, type Request, type Response } from './http.js';

export const MANIFEST_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;
const ACCEPT = Object.values(MANIFEST_TYPES).join(', ');

export interface Fetched {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface RegistryOptions {
  /** HOST[:PORT] as in the reference. */
  host: string;
  /** Plain http (loopback or a registry named insecure). */
  plainHttp: boolean;
  ca?: string[];
  insecureTls?: boolean;
  credential: Credential | null;
  /** For tests: fewer and shorter retries. */
  attempts?: number;
  backoffMs?: number;
  /** Told of each retry (the CLI prints it). */
  onRetry?: (why: string, waitMs: number) => void;
}

/** docker.io's API lives at registry-1.docker.io. */
export const apiHost = (host: string) => (host === 'docker.io' ? 'registry-1.docker.io' : host);

export const pullScope = (repo: string) => `repository:${repo}:pull`;
export const pushScope = (repo: string) => `repository:${repo}:pull,push`;

export class Registry {
  readonly http: RegistryHttp;
  private auth: Authenticator;
  /** Requests sent, by method (tests assert what a dedup saved; the bench reports it). */
  readonly sent = { HEAD: 0, GET: 0, POST: 0, PUT: 0, PATCH: 0 } as Record<string, number>;

  constructor(readonly o: RegistryOptions) {
    this.http = new RegistryHttp({
      base: `${o.plainHttp ? 'http' : 'https'}://${apiHost(o.host)}`,
      ca: o.ca,
      insecureTls: o.insecureTls,
      attempts: o.attempts,
      backoffMs: o.backoffMs,
    });
    this.auth = new Authenticator(this.http, o.credential);
  }

  close(): void {
    this.http.close();
  }

  /** Send with the scope's credentials, answering one 401 challenge. */
  async call(req: Request, scope: string): Promise<Response> {
    for (let round = 0; ; round++) {
      const h = this.auth.header(scope);
      this.sent[req.method] = (this.sent[req.method] ?? 0) + 1;
      const res = await this.http.send({ ...req, headers: { ...req.headers, ...(h ? { Authorization: h } : {}) } }, this.o.onRetry);
      if (res.status !== 401) return res;
      res.resume();
      if (round > 0 || !(await this.auth.challenged(res.headers['www-authenticate'] as string | undefined, scope)))
        throw new StrataError(
          'failed',
          `${this.o.host} refused the credentials${this.o.credential ? ` of ${this.o.credential.username}` : ' (none given: run strata login first)'}`,
        );
    }
  }

  /** GET /v2/: whether the registry answers, with the credential if it asks for one (login checks it so). */
  async ping(): Promise<void> {
    const res = await this.call({ method: 'GET', url: '/v2/' }, '');
    res.resume();
    if (res.status !== 200) throw await this.errorOf(res, 'the registry API (/v2/)');
  }

  async manifest(repo: string, ref: string): Promise<Fetched> {
    const res = await this.call({ method: 'GET', url: `/v2/${repo}/manifests/${ref}`, headers: { Accept: ACCEPT } }, pullScope(repo));
    if (res.status !== 200) throw await this.errorOf(res, `manifest ${repo}:${ref}`);
    const bytes = await readBody(res, 4 << 20);
    const digest = sha256(bytes);
    if (ref.startsWith('sha256:') && digest !== ref)
      throw new StrataError(
        'damaged',
        `the manifest ${this.o.host}/${repo}@${ref.slice(0, 19)}… does not match its digest (it hashes to ${digest.slice(0, 19)}…)`,
      );
    const mediaType =
      String(res.headers['content-type'] ?? '')
        .split(';')[0]
        .trim() || mediaTypeIn(bytes);
    return { bytes, mediaType, digest };
  }

  /** The digest a tag points at now (HEAD), or null when the tag is not there. */
  async manifestDigest(repo: string, ref: string): Promise<string | null> {
    const res = await this.call({ method: 'HEAD', url: `/v2/${repo}/manifests/${ref}`, headers: { Accept: ACCEPT } }, pullScope(repo));
    res.resume();
    if (res.status === 404) return null;
    if (res.status !== 200) throw await this.errorOf(res, `manifest ${repo}:${ref}`);
    return (res.headers['docker-content-digest'] as string | undefined) ?? null;
  }

  async putManifest(repo: string, ref: string, m: { bytes: Buffer; mediaType: string }): Promise<string> {
    const res = await this.call(
      {
        method: 'PUT',
        url: `/v2/${repo}/manifests/${ref}`,
        headers: { 'Content-Type': m.mediaType, 'Content-Length': String(m.bytes.length) },
        body: () => m.bytes,
      },
      pushScope(repo),
    );
    res.resume();
    if (res.status !== 201 && res.status !== 200) throw await this.errorOf(res, `the manifest of ${repo}:${ref}`);
    return (res.headers['docker-content-digest'] as string | undefined) ?? sha256(m.bytes);
  }

  /** Whether the repository has a blob (HEAD). */
  async hasBlob(repo: string, digest: string, scope = pullScope(repo)): Promise<boolean> {
    const res = await this.call({ method: 'HEAD', url: `/v2/${repo}/blobs/${digest}` }, scope);
    res.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.errorOf(res, `blob ${digest.slice(0, 19)}…`);
  }

  /** A blob's bytes from `offset` (a resumed download asks with Range and expects 206). */
  async blob(repo: string, digest: string, offset = 0): Promise<Response> {
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const res = await this.call({ method: 'GET', url: `/v2/${repo}/blobs/${digest}`, headers }, pullScope(repo));
    if (res.status === 200 && offset === 0) return res;
    if (res.status === 206 && offset > 0) return res;
    if (res.status === 200 && offset > 0) {
      res.destroy();
      throw new StrataError('failed', `${this.o.host} cannot resume blob ${digest.slice(0, 19)}… (it ignores Range)`);
    }
    throw await this.errorOf(res, `blob ${digest.slice(0, 19)}…`);
  }

  /** Mount a blob from another repository of this registry; true when the registry did (201). */
  async mountBlob(repo: string, digest: string, from: string): Promise<boolean> {
    const res = await this.call(
      {
        method: 'POST',
        url: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
        headers: { 'Content-Length': '0' },
      },
      `${pushScope(repo)} ${pullScope(from)}`,
    );
    res.resume();
    if (res.status === 201) return true;
    if (res.status === 202) {
      // An upload was opened instead: cancel it, the caller uploads in the usual way.
      const loc = res.headers.location;
      if (loc) (await this.call({ method: 'DELETE', url: loc }, pushScope(repo)).catch(() => null))?.resume();
      return false;
    }
    throw await this.errorOf(res, `mounting blob ${digest.slice(0, 19)}… from ${from}`);
  }

  /** Upload a blob whose bytes are all at hand (a config): POST for a session, then one PUT with the bytes and their digest. */
  async uploadBlob(repo: string, digest: string, bytes: Buffer): Promise<void> {
    const scope = pushScope(repo);
    const start = await this.call({ method: 'POST', url: `/v2/${repo}/blobs/uploads/`, headers: { 'Content-Length': '0' } }, scope);
    start.resume();
    if (start.status !== 202) throw await this.errorOf(start, `starting an upload to ${repo}`);
    const res = await this.call(
      {
        method: 'PUT',
        url: withQuery(locationOf(start, `starting an upload to ${repo}`), 'digest', digest),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
        body: () => bytes,
      },
      scope,
    );
    res.resume();
    if (res.status !== 201) throw await this.errorOf(res, `uploading blob ${digest.slice(0, 19)}…`);
  }

  /**
   * Upload a blob made while it is sent (a layer being gzipped): PATCHes of up to `chunk` bytes,
   * each streamed as the bytes come, then a PUT with the digest they hash to. Nothing is retried
   * (the bytes are gone): a failure fails the upload.
   */
  async uploadStream(repo: string, source: AsyncIterable<Buffer>, chunk = 64 << 20): Promise<{ digest: string; size: number }> {
    const scope = pushScope(repo);
    const start = await this.call({ method: 'POST', url: `/v2/${repo}/blobs/uploads/`, headers: { 'Content-Length': '0' } }, scope);
    start.resume();
    if (start.status !== 202) throw await this.errorOf(start, `starting an upload to ${repo}`);
    let loc = locationOf(start, `starting an upload to ${repo}`);
    const hash = crypto.createHash('sha256');
    const it = source[Symbol.asyncIterator]();
    let size = 0;
    for (let done = false; !done;) {
      const body = new PassThrough();
      const answer = this.call({ method: 'PATCH', url: loc, headers: { 'Content-Type': 'application/octet-stream' }, body: () => body, once: true }, scope);
      answer.catch(() => body.destroy()); // stop feeding a request that failed
      for (let sent = 0; sent < chunk;) {
        const next = await it.next();
        if (next.done) {
          done = true;
          break;
        }
        const c = next.value;
        hash.update(c);
        size += c.length;
        sent += c.length;
        if (!body.write(c)) await new Promise((r) => body.once('drain', r));
      }
      body.end();
      const res = await answer;
      res.resume();
      if (res.status !== 202) throw await this.errorOf(res, 'an upload chunk');
      loc = locationOf(res, 'an upload chunk');
    }
    const digest = 'sha256:' + hash.digest('hex');
    const fin = await this.call({ method: 'PUT', url: withQuery(loc, 'digest', digest), headers: { 'Content-Length': '0' } }, scope);
    fin.resume();
    if (fin.status !== 201) throw await this.errorOf(fin, `finishing the upload of blob ${digest.slice(0, 19)}…`);
    return { digest, size };
  }

  /** Every repository of the catalog (pages of `page`), or the first `limit`. */
  async catalog(limit = Infinity, page = 100): Promise<string[]> {
    return this.paged(`/v2/_catalog?n=${Math.min(page, limit)}`, 'registry:catalog:*', 'repositories', limit);
  }

  async tags(repo: string, limit = Infinity, page = 100): Promise<string[]> {
    return this.paged(`/v2/${repo}/tags/list?n=${Math.min(page, limit)}`, pullScope(repo), 'tags', limit);
  }

  private async paged(first: string, scope: string, field: 'repositories' | 'tags', limit: number): Promise<string[]> {
    const out: string[] = [];
    let url: string | null = first;
    for (let pages = 0; url && out.length < limit; pages++) {
      if (pages > 10000) throw new StrataError('damaged', `${this.o.host} keeps sending more pages: stopped after 10000`);
      const res = await this.call({ method: 'GET', url, headers: { Accept: 'application/json' } }, scope);
      if (res.status !== 200) throw await this.errorOf(res, field === 'tags' ? 'the tag list' : 'the catalog');
      const doc = parseJson(await readBody(res), `${this.o.host}'s ${field === 'tags' ? 'tag list' : 'catalog'}`) as Record<string, unknown>;
      const items = doc[field];
      if (items !== null && items !== undefined && !Array.isArray(items)) throw new StrataError('damaged', `${this.o.host}'s answer has no list of ${field}`);
      for (const x of (items as unknown[]) ?? []) if (typeof x === 'string') out.push(x);
      url = nextLink(res.headers.link as string | undefined);
    }
    return out.slice(0, limit);
  }

  /** One sentence from an error answer: the registry's code and message when it sent them. */
  async errorOf(res: Response, what: string): Promise<StrataError> {
    let detail = '';
    try {
      const body = await readBody(res, 64 << 10);
      const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
      const e = doc.errors?.[0];
      if (e) detail = `${e.code ?? 'ERROR'}: ${e.message ?? ''}`.trim();
    } catch {
      // not JSON, or cut off: the status says enough
    }
    return new StrataError(res.status === 404 ? 'not-found' : 'failed', `${this.o.host} answered ${res.status} for ${what}${detail ? ` (${detail})` : ''}`);
  }
}

export const sha256 = (b: Buffer) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

function mediaTypeIn(bytes: Buffer): string {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    return doc.mediaType ?? (doc.manifests ? MANIFEST_TYPES.ociIndex : MANIFEST_TYPES.ociManifest);
  } catch {
    return '';
  }
}

export function parseJson(b: Buffer, what: string): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    throw new StrataError('damaged', `${what} is not valid JSON`);
  }
}

function locationOf(res: Response, what: string): string {
  const loc = res.headers.location;
  if (!loc) throw new StrataError('damaged', `the registry answered ${what} without a Location`);
  return loc;
}

function withQuery(url: string, k: string, v: string): string {
  return url + (url.includes('?') ? '&' : '?') + `${k}=${encodeURIComponent(v)}`;
}

/** The next page of a Link header: `</v2/_catalog?last=x&n=10>; rel="next"`. */
function nextLink(link: string | undefined): string | null {
  const m = link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return m ? m[1] : null;
}
