// HTTP to one registry: https by default (the system's CAs plus any given), plain http only when
// the caller allows it (loopback, or a registry named insecure). Retries what is worth retrying:
// a dropped or refused connection and 5xx answers, with exponential backoff, and 429 after its
// Retry-After. Every failure becomes one sentence.
import http from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { StrataError } from '../sys/errors.js';

export interface HttpOptions {
  /** https://HOST[:PORT] or http://HOST[:PORT] */
  base: string;
  /** Extra CA certificates (PEM), trusted beside the system's. */
  ca?: string[];
  /** Skip certificate checks (--tls-verify=false on an https registry). */
  insecureTls?: boolean;
  /** Attempts for a retryable failure (default 5). */
  attempts?: number;
  /** Milliseconds before the first retry (doubles each time; default 200). */
  backoffMs?: number;
  /** Upper bound of one wait, Retry-After included (default 30 s). */
  maxWaitMs?: number;
}

export interface Request {
  method: string;
  /** A path (/v2/…) or an absolute URL (a Location, a token realm). */
  url: string;
  headers?: Record<string, string>;
  /** A body, made anew for each attempt (a stream can be read only once). */
  body?: () => Buffer | Readable;
  /** Don't retry (a request whose body cannot be made again, or a probe). */
  once?: boolean;
}

export type Response = http.IncomingMessage & { status: number };

const RETRY_STATUS = new Set([500, 502, 503, 504, 429]);
// https and tls load only for a TLS registry: a loopback one in plain http (and a pull that finds
// everything present) does without their ~20 ms of start-up.
const require = createRequire(import.meta.url);
const httpsModule = (): typeof import('node:https') => require('node:https');

const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export class RegistryHttp {
  private agent: http.Agent;
  private readonly attempts: number;

  constructor(readonly o: HttpOptions) {
    const secure = o.base.startsWith('https:');
    this.agent = secure
      ? new (httpsModule().Agent)({
          keepAlive: true,
          maxSockets: 8,
          ca: o.ca?.length ? [...(require('node:tls') as typeof import('node:tls')).rootCertificates, ...o.ca] : undefined,
          rejectUnauthorized: !o.insecureTls,
        })
      : new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.attempts = o.attempts ?? 5;
  }

  get host(): string {
    return new URL(this.o.base).host;
  }

  /** Send a request, retrying dropped connections, 5xx and 429; any other answer is returned as it is. */
  async send(req: Request, onRetry?: (why: string, waitMs: number) => void): Promise<Response> {
    let wait = this.o.backoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      const last = req.once || attempt >= this.attempts;
      let res: Response;
      try {
        res = await this.once(req);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (last || !RETRY_CODES.has(code)) throw this.networkError(err as NodeJS.ErrnoException);
        onRetry?.(code, wait);
        await sleep(wait);
        wait = Math.min(wait * 2, this.o.maxWaitMs ?? 30000);
        continue;
      }
      if (!RETRY_STATUS.has(res.status) || last) return res;
      res.resume();
      const after = res.status === 429 ? retryAfterMs(res.headers['retry-after']) : null;
      const w = Math.min(after ?? wait, this.o.maxWaitMs ?? 30000);
      onRetry?.(`HTTP ${res.status}`, w);
      await sleep(w);
      wait = Math.min(wait * 2, this.o.maxWaitMs ?? 30000);
    }
  }

  private once(req: Request): Promise<Response> {
    const url = new URL(req.url, this.o.base);
    const mod = url.protocol === 'https:' ? httpsModule() : http;
    const sameHost = url.origin === new URL(this.o.base).origin;
    return new Promise((resolve, reject) => {
      const r = mod.request(url, { method: req.method, headers: req.headers, agent: sameHost ? this.agent : undefined, timeout: 60000 }, (res) =>
        resolve(Object.assign(res, { status: res.statusCode ?? 0 })),
      );
      r.on('timeout', () => r.destroy(Object.assign(new Error('no answer for 60 s'), { code: 'ETIMEDOUT' })));
      r.on('error', reject);
      const body = req.body?.();
      if (!body) r.end();
      else if (Buffer.isBuffer(body)) r.end(body);
      else {
        body.on('error', (err) => r.destroy(err));
        body.pipe(r);
      }
    });
  }

  private networkError(err: NodeJS.ErrnoException): StrataError {
    const host = this.host;
    const code = err.code ?? '';
    if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')
      return new StrataError(
        'failed',
        `TLS to ${host} failed: ${err.message}; give its CA with --cert-dir or SSL_CERT_FILE, or name it with --tls-verify=false if you trust the network`,
      );
    if (code === 'EPROTO' || /wrong version number|packet length too long/.test(err.message))
      return new StrataError('failed', `TLS to ${host} failed: it does not speak TLS there (${err.message}); for a plain-http registry use --tls-verify=false`);
    if (code === 'ECONNREFUSED') return new StrataError('failed', `cannot reach the registry ${host}: the connection was refused`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new StrataError('failed', `cannot reach the registry ${host}: its name does not resolve`);
    return new StrataError('failed', `the connection to ${host} failed: ${err.message}`);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Retry-After in seconds or as an HTTP date; null when absent or unreadable. */
function retryAfterMs(v: string | undefined): number | null {
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The whole body of a response, at most `limit` bytes (a hostile registry must not fill memory). */
export async function readBody(res: Readable, limit = 16 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res) {
    n += (chunk as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new StrataError('damaged', `the registry sent more than ${limit} bytes where a small document was expected`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}
