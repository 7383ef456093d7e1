// Registry credentials where docker and podman keep them:
// - docker's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): "auths" with a
//   base64 "user:password" per registry, or a credential helper named by "credHelpers" (per
//   registry) or "credsStore" (for all): the program docker-credential-NAME, spoken to on stdin
//   and stdout (get / store / erase);
// - containers' auth.json ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
//   ~/.config/containers/auth.json), read as a fallback, in the same "auths" format.
// Login writes where docker would: the helper if one is named, else config.json, mode 0600,
// through a temp file and a rename.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { StrataError } from '../sys/errors.js';
import type { Credential } from './auth.js';

/** Docker Hub's key in config.json, as docker writes it. */
const HUB_KEY = 'https://index.docker.io/v1/';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

export const dockerConfigPath = () => path.join(process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker'), 'config.json');

function authFiles(): string[] {
  const out: string[] = [];
  if (process.env.REGISTRY_AUTH_FILE) out.push(process.env.REGISTRY_AUTH_FILE);
  if (process.env.XDG_RUNTIME_DIR) out.push(path.join(process.env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  out.push(path.join(os.homedir(), '.config/containers/auth.json'));
  return out;
}

/** The key a registry has in "auths": docker.io is Docker Hub's v1 URL, anything else its HOST[:PORT]. */
export const authKey = (host: string) => (host === 'docker.io' || host === 'registry-1.docker.io' || host === 'index.docker.io' ? HUB_KEY : host);

function readConfig(file: string): DockerConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new StrataError('failed', `cannot read ${file}: ${(err as Error).message}`);
  }
  if (!text.trim()) return {};
  try {
    const doc = JSON.parse(text);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
    return doc as DockerConfig;
  } catch (err) {
    throw new StrataError('damaged', `${file} is not valid JSON (${(err as Error).message}): fix or remove it`);
  }
}

/** The entry for a registry in an "auths" map, matching docker's URL-shaped keys (https://host/v1/) too. */
function findEntry(auths: Record<string, AuthEntry> | undefined, host: string): AuthEntry | undefined {
  if (!auths) return undefined;
  const key = authKey(host);
  if (auths[key]) return auths[key];
  for (const [k, v] of Object.entries(auths)) {
    const bare = k.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (bare === host || (key === HUB_KEY && (bare === 'index.docker.io' || bare === 'docker.io'))) return v;
  }
  return undefined;
}

function decodeEntry(e: AuthEntry, where: string): Credential | null {
  if (e.identitytoken) return { username: e.username ?? '<token>', password: '', identityToken: e.identitytoken };
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i < 0) throw new StrataError('damaged', `the credential for a registry in ${where} is not base64 of user:password`);
    return { username: plain.slice(0, i), password: plain.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return null;
}

/** The helper that holds a registry's credential, if config.json names one. */
function helperFor(cfg: DockerConfig, host: string): string | undefined {
  return cfg.credHelpers?.[authKey(host)] ?? cfg.credHelpers?.[host] ?? cfg.credsStore;
}

function runHelper(name: string, verb: 'get' | 'store' | 'erase', input: string): { ok: boolean; out: string } {
  const prog = `docker-credential-${name}`;
  const r = spawnSync(prog, [verb], { input, encoding: 'utf8', timeout: 30000 });
  // EPIPE: the helper exited without reading all its input (an erase that needs none): its status tells.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new StrataError('failed', `the credential helper ${prog} named in ${dockerConfigPath()} is not installed`);
    throw new StrataError('failed', `the credential helper ${prog} failed: ${r.error.message}`);
  }
  return { ok: r.status === 0, out: (r.stdout || r.stderr || '').trim() };
}

/** The credential for a registry, or null (anonymous). */
export function credentialFor(host: string): Credential | null {
  const cfgFile = dockerConfigPath();
  const cfg = readConfig(cfgFile);
  const helper = helperFor(cfg, host);
  if (helper) {
    const r = runHelper(helper, 'get', authKey(host));
    if (r.ok) {
      let doc: { Username?: string; Secret?: string };
      try {
        doc = JSON.parse(r.out);
      } catch {
        throw new StrataError('failed', `the credential helper docker-credential-${helper} answered with something that is not JSON`);
      }
      if (doc.Username === '<token>') return { username: '<token>', password: '', identityToken: doc.Secret ?? '' };
      if (doc.Username !== undefined && doc.Secret !== undefined) return { username: doc.Username, password: doc.Secret };
    }
    // "credentials not found": fall back to the files, as docker does for a credsStore
  }
  const fromDocker = findEntry(cfg.auths, host);
  if (fromDocker) {
    const c = decodeEntry(fromDocker, cfgFile);
    if (c) return c;
  }
  for (const f of authFiles()) {
    const e = findEntry(readConfig(f).auths, host);
    const c = e && decodeEntry(e, f);
    if (c) return c;
  }
  return null;
}

function writeConfig(file: string, cfg: DockerConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeFileSync(fd, JSON.stringify(cfg, null, '\t') + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new StrataError('failed', `cannot write ${file}: ${(err as Error).message}`);
  }
}

/** Save a credential (after it was checked); returns where it went. */
export function saveCredential(host: string, c: Credential): string {
  const file = dockerConfigPath();
  const cfg = readConfig(file);
  const helper = helperFor(cfg, host);
  if (helper) {
    const r = runHelper(helper, 'store', JSON.stringify({ ServerURL: authKey(host), Username: c.username, Secret: c.password }));
    if (!r.ok) throw new StrataError('failed', `the credential helper docker-credential-${helper} could not store the credential: ${r.out}`);
    return `docker-credential-${helper}`;
  }
  cfg.auths = { ...(cfg.auths ?? {}), [authKey(host)]: { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') } };
  writeConfig(file, cfg);
  return file;
}

/** Remove a registry's credential; false when there was none. */
export function removeCredential(host: string): boolean {
  const file = dockerConfigPath();
  const cfg = readConfig(file);
  let removed = false;
  const helper = helperFor(cfg, host);
  if (helper) removed = runHelper(helper, 'erase', authKey(host)).ok;
  const key = Object.keys(cfg.auths ?? {}).find((k) => findEntry({ [k]: cfg.auths![k] }, host));
  if (key) {
    delete cfg.auths![key];
    writeConfig(file, cfg);
    removed = true;
  }
  return removed;
}
