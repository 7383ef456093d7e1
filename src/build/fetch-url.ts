// ADD <URL>: the file fetched over http or https into a temp dir, as docker's classic builder
// fetches it: redirects followed, mode 0600, its mtime from Last-Modified (the epoch without one),
// and the sha256 of its bytes (the step's cache key: the same bytes hit the cache). A fetch that
// fails (a refused connection, a status other than 200) is one sentence naming the URL.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { refuse } from '../sys/errors.js';

export interface Fetched {
  url: string;
  /** The fetched file, in the temp dir given. */
  file: string;
  sha256: string;
  /** The file's own name: the URL path's last part, or Content-Disposition's filename (null if neither says). */
  name: string | null;
}

const MAX_REDIRECTS = 10;
const IDLE_MS = 60_000;

export const isUrl = (src: string) => /^https?:\/\//i.test(src);

/** Fetch `url` into `dir` (a dir of its own per URL, made here), following redirects. */
export async function fetchUrl(url: string, dir: string): Promise<Fetched> {
  let at = url;
  for (let hops = 0; ; hops++) {
    const res = await get(url, at);
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      res.resume();
      if (hops >= MAX_REDIRECTS) refuse('failed', `ADD could not fetch ${url}: more than ${MAX_REDIRECTS} redirects`);
      at = new URL(res.headers.location, at).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      refuse('failed', `ADD could not fetch ${url}: the server answered ${status} ${res.statusMessage ?? ''}`.trim());
    }
    const name = nameOf(url, res.headers['content-disposition']);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, name ?? 'download');
    const h = crypto.createHash('sha256');
    res.on('data', (chunk: Buffer) => h.update(chunk));
    try {
      await pipeline(res, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      refuse('failed', `ADD could not fetch ${url}: ${(err as Error).message}`, err);
    }
    fs.chmodSync(file, 0o600); // whatever the umask
    const modified = Date.parse(String(res.headers['last-modified'] ?? ''));
    const mtime = new Date(Number.isNaN(modified) ? 0 : modified);
    fs.utimesSync(file, mtime, mtime);
    return { url, file, sha256: h.digest('hex'), name };
  }
}

/** One GET of `at` (`url`: what the Dockerfile named, for the sentence). */
function get(url: string, at: string): Promise<http.IncomingMessage> {
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const client = at.startsWith('https:') ? https : http;
    const req = client.get(at, { headers: { 'user-agent': 'strata-build' } }, resolve);
    req.setTimeout(IDLE_MS, () => req.destroy(new Error(`no answer in ${IDLE_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? 'no such host' : err.message;
      reject(Object.assign(new Error(), { sentence: `ADD could not fetch ${url}: ${why}` }));
    });
  }).catch((err: { sentence?: string }) => refuse('failed', err.sentence ?? `ADD could not fetch ${url}`, err));
}

/** The name a fetched file takes: the last part of the URL's path as the Dockerfile gave it, else Content-Disposition's filename. */
function nameOf(url: string, disposition: string | undefined): string | null {
  const decode = (v: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  const usable = (v: string) => (v && v !== '.' && v !== '..' ? v : null);
  const last = usable(path.posix.basename(decode(new URL(url).pathname.split('/').pop() ?? '')));
  if (last) return last;
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition ?? '');
  return m ? usable(path.posix.basename(decode(m[1]))) : null;
}
