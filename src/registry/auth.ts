// Authentication as the registry's 401 challenge asks for it (WWW-Authenticate):
// - Basic: the stored credential, on every request;
// - Bearer: a token from the realm, for a service and a scope ("repository:x/y:pull,push"),
//   fetched with the credential (Basic) if there is one, anonymously otherwise, and cached per
//   scope until it expires.
import { StrataError } from '../sys/errors.js';
import { readBody, type RegistryHttp } from './http.js';

export interface Credential {
  username: string;
  password: string;
  /** An identity token (OAuth refresh token) instead of a password. */
  identityToken?: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parse `Bearer realm="…",service="…",scope="…"` (or Basic realm="…"); null when neither. */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (!header) return null;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return null;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g))
    params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme, params };
}

interface Token {
  value: string;
  expires: number;
}

export class Authenticator {
  private tokens = new Map<string, Token>();
  private basic = false;

  constructor(
    private http: RegistryHttp,
    private credential: Credential | null,
  ) {}

  /** The Authorization header for a request in `scope`, if one is known yet. */
  header(scope: string): string | undefined {
    if (this.basic && this.credential) return basicHeader(this.credential);
    const t = this.tokens.get(scope);
    if (t && t.expires > Date.now()) return `Bearer ${t.value}`;
    return undefined;
  }

  /** Answer a 401: learn the scheme, fetch a (new) token for `scope` if it is Bearer. False when there is nothing more to try. */
  async challenged(header: string | undefined, scope: string): Promise<boolean> {
    const c = parseChallenge(header);
    if (!c) throw new StrataError('failed', `${this.http.host} refused the request (401) without saying how to authenticate`);
    if (c.scheme === 'basic') {
      if (!this.credential) throw new StrataError('failed', `${this.http.host} asks for a login: run strata login ${this.http.host}`);
      if (this.basic) return false; // the credential was sent and refused
      this.basic = true;
      return true;
    }
    this.tokens.set(scope, await this.fetchToken(c.params, scope));
    return true;
  }

  private async fetchToken(p: Record<string, string>, scope: string): Promise<Token> {
    const realm = p.realm;
    if (!realm) throw new StrataError('failed', `${this.http.host} asks for a token but names no realm to get it from`);
    const url = new URL(realm);
    if (p.service) url.searchParams.set('service', p.service);
    for (const s of (scope || p.scope || '').split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.credential) headers.Authorization = basicHeader(this.credential);
    const res = await this.http.send({ method: 'GET', url: url.toString(), headers });
    const body = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403)
      throw new StrataError(
        'failed',
        `${url.host} refused the credentials for ${this.http.host}${this.credential ? ` (user ${this.credential.username})` : ''}: ${res.status}`,
      );
    if (res.status !== 200) throw new StrataError('failed', `the token service ${url.host} answered ${res.status}: ${body.toString('utf8').slice(0, 200)}`);
    let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      throw new StrataError('damaged', `the token service ${url.host} answered with something that is not JSON`);
    }
    const value = doc.token ?? doc.access_token;
    if (typeof value !== 'string' || !value) throw new StrataError('damaged', `the token service ${url.host} answered without a token`);
    const issued = doc.issued_at ? Date.parse(doc.issued_at) : Date.now();
    const lifetime = (typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60) * 1000;
    // a little early, so a token never expires in flight
    return { value, expires: (Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now())) + lifetime - 5000 };
  }
}

export const basicHeader = (c: Credential) => 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
