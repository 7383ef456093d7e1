// login, logout and search: the registry side of an account, and its catalog.
import { StrataError } from '../sys/errors.js';
import { DOCKER_HUB } from '../store/reference.js';
import type { Credential } from './auth.js';
import { connect, type ConnectOptions } from './connect.js';
import { removeCredential, saveCredential } from './credentials.js';

/** HOST[:PORT] of what a user types: `https://reg:5000/`, `reg:5000`, nothing (Docker Hub). */
export function registryHost(arg?: string): string {
  if (!arg) return DOCKER_HUB;
  const host = arg.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) throw new StrataError('invalid', `"${arg}" is not a registry host (HOST[:PORT])`);
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/** Check a credential against the registry, then save it; returns where it went. Nothing is saved when it is refused. */
export async function login(host: string, c: Credential, o: ConnectOptions = {}): Promise<string> {
  if (!c.username) throw new StrataError('invalid', 'login needs a username (--username)');
  if (!c.password) throw new StrataError('invalid', 'login needs a password (--password-stdin, or --password)');
  const reg = await connect(host, { ...o, credential: c });
  try {
    await reg.ping();
  } finally {
    reg.close();
  }
  return saveCredential(host, c);
}

export const logout = (host: string): boolean => removeCredential(host);

export interface SearchRow {
  name: string;
  description: string;
  stars: number;
  official: boolean;
}

/** Repositories of HOST whose name holds TERM (`HOST/TERM`), from the catalog; at most `limit`. */
export async function search(query: string, limit = 25, o: ConnectOptions = {}): Promise<SearchRow[]> {
  const slash = query.indexOf('/');
  if (slash < 0)
    throw new StrataError('invalid', `search takes HOST/TERM (the registry's catalog is searched; Docker Hub's search API is not there to use here)`);
  const host = registryHost(query.slice(0, slash));
  const term = query.slice(slash + 1).toLowerCase();
  const reg = await connect(host, o);
  try {
    const repos = await reg.catalog();
    return repos
      .filter((r) => r.toLowerCase().includes(term))
      .slice(0, limit)
      .map((r) => ({ name: `${host}/${r}`, description: '', stars: 0, official: false }));
  } finally {
    reg.close();
  }
}

/** The tags of HOST/REPO, every page of them. */
export async function listTags(query: string, o: ConnectOptions = {}): Promise<string[]> {
  const slash = query.indexOf('/');
  if (slash < 0) throw new StrataError('invalid', '--list-tags takes HOST/REPO');
  const host = registryHost(query.slice(0, slash));
  const reg = await connect(host, o);
  try {
    return (await reg.tags(query.slice(slash + 1))).sort();
  } finally {
    reg.close();
  }
}
