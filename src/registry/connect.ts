// Which registry a reference names, and how to reach it: https by default, trusting the system's
// CAs, SSL_CERT_FILE, the certs.d dirs docker and podman read (/etc/docker/certs.d/HOST/*.crt,
// /etc/containers/certs.d/HOST/*.crt) and --cert-dir. Plain http only for a loopback address that
// does not speak TLS, or a registry named insecure (--tls-verify=false, or listed in
// STRATA_ROOT/registries.json as {"insecure": ["HOST[:PORT]", …]}), as docker treats insecure registries.
import fs from 'node:fs';
import path from 'node:path';
import { StrataError } from '../sys/errors.js';
import { strataRoot } from '../sys/lmdb.js';
import { Registry, type RegistryOptions } from './client.js';
import { readBody } from './http.js';
import { credentialFor } from './credentials.js';
import type { Credential } from './auth.js';

export interface ConnectOptions {
  /** false: skip certificate checks and allow plain http (docker's insecure registry). */
  tlsVerify?: boolean;
  /** A dir of CA certificates (*.crt, *.pem) for this registry. */
  certDir?: string;
  /** A credential to use instead of the stored one (login checks it so). */
  credential?: Credential | null;
  attempts?: number;
  backoffMs?: number;
  onRetry?: (why: string, waitMs: number) => void;
}

export const isLoopback = (host: string) => {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
};

function configuredInsecure(host: string): boolean {
  const file = path.join(strataRoot(), 'registries.json');
  let doc: { insecure?: unknown };
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new StrataError('damaged', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return Array.isArray(doc.insecure) && doc.insecure.includes(host);
}

function certsIn(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /\.(crt|pem)$/.test(n) && !n.endsWith('.key')).map((n) => fs.readFileSync(path.join(dir, n), 'utf8'));
}

// The system's CA bundle (Debian's, then Fedora's), as Go's crypto/x509 reads it for docker: the
// installed `strata` unsets NODE_EXTRA_CA_CERTS, so a CA added with update-ca-certificates comes from here.
const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

function caFor(host: string, certDir?: string): string[] {
  const ca: string[] = [];
  if (process.env.SSL_CERT_FILE) {
    try {
      ca.push(fs.readFileSync(process.env.SSL_CERT_FILE, 'utf8'));
    } catch (err) {
      throw new StrataError('failed', `SSL_CERT_FILE names ${process.env.SSL_CERT_FILE}, which cannot be read: ${(err as Error).message}`);
    }
  } else {
    const system = SYSTEM_CA_FILES.find((f) => fs.existsSync(f));
    if (system) ca.push(fs.readFileSync(system, 'utf8'));
  }
  for (const d of [`/etc/docker/certs.d/${host}`, `/etc/containers/certs.d/${host}`]) ca.push(...certsIn(d));
  if (certDir) {
    if (!fs.existsSync(certDir)) throw new StrataError('invalid', `--cert-dir ${certDir} does not exist`);
    ca.push(...certsIn(certDir));
  }
  return ca;
}

/**
 * A client for `host`, its scheme settled: https, or plain http where that is allowed and the
 * registry does not speak TLS (found out with one GET /v2/).
 */
export async function connect(host: string, o: ConnectOptions = {}): Promise<Registry> {
  const insecure = o.tlsVerify === false || configuredInsecure(host);
  const base: Omit<RegistryOptions, 'plainHttp'> = {
    host,
    ca: caFor(host, o.certDir),
    insecureTls: insecure,
    credential: o.credential !== undefined ? o.credential : credentialFor(host),
    attempts: o.attempts,
    backoffMs: o.backoffMs,
    onRetry: o.onRetry,
  };
  const secure = new Registry({ ...base, plainHttp: false });
  if (!insecure && !isLoopback(host)) return secure;
  // Asked in plain http first (no TLS context to build, ~80 ms): a TLS port answers that with a 400
  // "Client sent an HTTP request to an HTTPS server", or drops the connection.
  const plain = new Registry({ ...base, plainHttp: true });
  try {
    const res = await plain.http.send({ method: 'GET', url: '/v2/' }, o.onRetry); // a refused connection is retried: the registry may be restarting
    const body = res.status === 400 ? (await readBody(res, 4096)).toString('utf8') : (res.resume(), '');
    if (!/HTTP request to an HTTPS server/i.test(body)) {
      secure.close();
      return plain;
    }
  } catch (err) {
    if (!/connection to .* failed|socket hang up|ECONNRESET/.test((err as Error).message)) throw err;
  }
  plain.close();
  return secure;
}
