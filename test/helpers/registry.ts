// Real registries for the registry-client tests: Debian's docker-registry 2.8.2 (distribution) on 127.0.0.1
// with its data in a temp dir, a token server for bearer auth, a fault-injecting reverse proxy, and images
// built with umoci and pushed with skopeo, so that strata meets what other tools produce.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';

interface T {
  teardown(fn: () => unknown): void;
}

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const BASIC_REALM = 'strata-test';
export const TOKEN_SERVICE = 'strata-test-registry';
export const TOKEN_ISSUER = 'strata-test-issuer';
const START_TIMEOUT_MS = 15_000;

export function tmpdir(t: T, prefix = 'strata-reg-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Run a tool; a failure throws with its stderr. */
function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env, timeout: 60_000 });
  } catch (e) {
    const err = e as { status?: number; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.status}): ${err.stderr ?? e}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// One-shot HTTP for tests. Node 20's agents keep sockets alive, which keeps a finished test waiting: agent:false.

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json(): unknown;
}

export function request(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca?: string | Buffer; basic?: [string, string]; bearer?: string } = {},
): Promise<Reply> {
  const headers = { ...o.headers };
  if (o.basic) headers.authorization = 'Basic ' + Buffer.from(o.basic.join(':')).toString('base64');
  if (o.bearer) headers.authorization = 'Bearer ' + o.bearer;
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method: o.method ?? 'GET', headers, agent: false, ca: o.ca, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

// ---------------------------------------------------------------------------------------------------------
// The registry

/** One request the registry (or the fault proxy) answered. `path` has no query; `query` keeps its `?`. */
export interface Served {
  method: string;
  path: string;
  query: string;
  status: number;
}

export interface TokenRequest {
  user?: string;
  service?: string;
  scopes: string[];
  /** 200 when a token was issued. */
  status: number;
  access: Access[];
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface RegistryOptions {
  /** user → password, checked with htpasswd (bcrypt) Basic auth. */
  htpasswd?: Record<string, string>;
  /** Bearer token auth through a token server (a child process) at tokenUrl. */
  token?: boolean;
  /** user → password the token server accepts (HTTP Basic). */
  tokenUsers?: Record<string, string>;
  /** The token server gives anonymous requests a pull-only token (otherwise 401). */
  anonymousPull?: boolean;
  tls?: boolean;
}

export interface Reg {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http(s)://127.0.0.1:PORT' */
  url: string;
  /** The self-signed certificate (for 127.0.0.1 and localhost) to trust, with tls. */
  caFile?: string;
  dataDir: string;
  /** The token server's realm URL, with token. */
  tokenUrl?: string;
  /** How many tokens the token server issued. */
  readonly tokensIssued: number;
  tokenRequests(): TokenRequest[];
  /** Requests served so far, from the access log (which the registry writes after each response). */
  requests(): Served[];
  resetRequests(): void;
  /** Wait until the access log has been quiet for a moment, so that requests() holds what was answered. */
  settle(): Promise<void>;
  stderr(): string;
  /** The running registry's process id (undefined while stopped). */
  readonly pid: number | undefined;
  /** Kill the registry (SIGTERM, SIGKILL after 3 s), keeping its data; pass SIGKILL for an abrupt stop. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port with the same data. */
  restart(): Promise<void>;
}

// log.accesslog is gorilla/handlers' CombinedLoggingHandler writing to the registry's *stdout* (logrus goes to
// stderr), one line per request once its handler returned, auth failures and router 404s included, e.g.
//   127.0.0.1 - - [01/Dec/2026:10:39:50 +0000] "GET /v2/_catalog?n=1&last=a%20b HTTP/1.1" 200 20 "" "curl/7.88.1"
// that is: remote ident user [time] "METHOD request-uri PROTO" status bytes "referer" "user-agent". The
// request-uri is the raw RequestURI, so it holds no space or quote; the user field is '-' here.
const ACCESS_LINE = /^\S+ \S+ .*?\[[^\]]*\] "([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (?:\d+|-)/;

export function parseAccessLine(line: string): Served | undefined {
  const m = ACCESS_LINE.exec(line);
  if (!m) return undefined;
  const q = m[2].indexOf('?');
  return { method: m[1], path: q < 0 ? m[2] : m[2].slice(0, q), query: q < 0 ? '' : m[2].slice(q), status: Number(m[3]) };
}

// Processes still running when the test process exits (a failed test that skipped teardown).
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of liveDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temp dir for a server's files, removed by `removeDir` after the server stopped (or when this process exits). */
function serverDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  liveDirs.add(d);
  return d;
}

function removeDir(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  liveDirs.delete(d);
}

/** Kills `pid` if this process dies without teardown (e.g. tap's timeout), which runs no exit hook. */
function orphanGuard(pid: number): ChildProcess {
  const g = spawn('sh', ['-c', 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -9 "$1" 2>/dev/null', String(process.pid), String(pid)], {
    stdio: 'ignore',
    detached: true,
  });
  g.unref();
  return g;
}

function killGroup(p: ChildProcess): void {
  try {
    if (p.pid && p.exitCode === null && p.signalCode === null) process.kill(-p.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function openssl(args: string[]): void {
  run('openssl', args);
}

/** A self-signed RSA certificate; `san` makes it a server certificate for those names. */
function selfSigned(dir: string, name: string, cn: string, san?: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  openssl(args);
  return { cert, key };
}

const yamlStr = (s: string) => JSON.stringify(s); // a JSON string is a YAML string

export async function startRegistry(t: T, o: RegistryOptions = {}): Promise<Reg> {
  const dir = serverDir('strata-registry-');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  let tok: TokenServer | undefined;
  let child: ChildProcess | undefined;
  let guard: ChildProcess | undefined;
  t.teardown(async () => {
    await stop();
    await tok?.close();
    removeDir(dir);
  });

  const auth: string[] = [];
  if (o.htpasswd && o.token) throw new Error('startRegistry: htpasswd and token auth are exclusive');
  if (o.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    fs.writeFileSync(
      file,
      Object.entries(o.htpasswd)
        .map(([u, pw]) => `${u}:${bcrypt.hashSync(pw, 5)}\n`)
        .join(''),
    );
    auth.push('auth:', '  htpasswd:', `    realm: ${BASIC_REALM}`, `    path: ${yamlStr(file)}`);
  }
  if (o.token) {
    tok = await startTokenServer(dir, o.tokenUsers ?? {}, !!o.anonymousPull);
    auth.push(
      'auth:',
      '  token:',
      `    realm: ${yamlStr(tok.url)}`,
      `    service: ${TOKEN_SERVICE}`,
      `    issuer: ${TOKEN_ISSUER}`,
      `    rootcertbundle: ${yamlStr(tok.certFile)}`,
    );
  }
  const tls: string[] = [];
  let caFile: string | undefined;
  if (o.tls) {
    const c = selfSigned(dir, 'tls', 'localhost', 'DNS:localhost,IP:127.0.0.1');
    // Alone in a directory: skopeo's --cert-dir takes each *.crt there as a CA (and a *.key as a client key).
    fs.mkdirSync(path.join(dir, 'certs'));
    caFile = path.join(dir, 'certs/ca.crt');
    fs.copyFileSync(c.cert, caFile);
    tls.push('  tls:', `    certificate: ${yamlStr(c.cert)}`, `    key: ${yamlStr(c.key)}`);
  }
  const config = (addr: string) =>
    [
      'version: 0.1',
      'log:',
      '  level: info', // 'listening on' is an info line
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${yamlStr(dataDir)}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${addr}`,
      '  secret: strata-test-secret', // a fixed one, not a random one with a warning
      ...tls,
      ...auth,
      '',
    ].join('\n');
  const configFile = path.join(dir, 'config.yml');

  // The registry's logs go to files, not pipes: the CLI tests block this process in spawnSync, and a
  // pipe nobody reads fills up (64 KiB) and stalls the registry mid-request.
  const accessLog = path.join(dir, 'access.log');
  const errorLog = path.join(dir, 'registry.log');
  fs.writeFileSync(accessLog, '');
  fs.writeFileSync(errorLog, '');
  let from = 0; // the access log's bytes before this are not the test's requests
  let port = 0;
  const served = (): Served[] =>
    fs
      .readFileSync(accessLog)
      .subarray(from)
      .toString('utf8')
      .split('\n')
      .map(parseAccessLine)
      .filter((r): r is Served => r !== undefined);

  async function launch(): Promise<void> {
    fs.writeFileSync(configFile, config(`127.0.0.1:${port}`));
    // REGISTRY_* variables override the config file.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
    const errStart = fs.statSync(errorLog).size; // this run's 'listening on', not an earlier run's
    const out = fs.openSync(accessLog, 'a');
    const err = fs.openSync(errorLog, 'a');
    const c = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', out, err], env });
    fs.closeSync(out);
    fs.closeSync(err);
    child = c;
    live.add(c);
    if (c.pid) guard = orphanGuard(c.pid);
    c.once('close', () => live.delete(c));
    const mine = () => fs.readFileSync(errorLog).subarray(errStart).toString('utf8');
    const deadline = Date.now() + START_TIMEOUT_MS;
    const fail = async (why: string) => {
      const text = mine();
      await stop('SIGKILL');
      return new Error(`docker-registry ${why}; stderr:\n${text}`);
    };
    for (;;) {
      const m = /msg="listening on 127\.0\.0\.1:(\d+)/.exec(mine());
      if (m) {
        port = Number(m[1]);
        break;
      }
      if (c.exitCode !== null || c.signalCode !== null) throw await fail(`exited at start (${c.exitCode ?? c.signalCode})`);
      if (Date.now() > deadline) throw await fail(`did not say where it listens within ${START_TIMEOUT_MS} ms`);
      await sleep(25);
    }
    const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const ca = caFile && fs.readFileSync(caFile);
    for (;;) {
      const status = await request(url + '/v2/', { ca }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200 || status === 401) break;
      if (c.exitCode !== null || c.signalCode !== null) throw await fail(`exited at start (${c.exitCode ?? c.signalCode})`);
      if (Date.now() > deadline) throw await fail(`did not answer GET /v2/ within ${START_TIMEOUT_MS} ms (last status ${status})`);
      await sleep(50);
    }
    // The probes are not the test's requests.
    await settle();
    from = fs.statSync(accessLog).size;
  }

  async function stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (child) await kill(child, signal);
    if (guard) killGroup(guard);
    child = guard = undefined;
  }

  async function settle(): Promise<void> {
    // A line is written once its handler returns, a moment after the client has its answer: wait until the log is still.
    await sleep(50);
    const until = Date.now() + 2000;
    for (let size = -1; Date.now() < until; await sleep(50)) {
      const now = fs.statSync(accessLog).size;
      if (now === size) break;
      size = now;
    }
  }

  await launch();
  const host = `127.0.0.1:${port}`;
  const reg: Reg = {
    host,
    url: `${o.tls ? 'https' : 'http'}://${host}`,
    caFile,
    dataDir,
    tokenUrl: tok?.url,
    get tokensIssued() {
      return tok ? tok.requests().filter((r) => r.status === 200).length : 0;
    },
    tokenRequests: () => tok?.requests() ?? [],
    requests: served,
    resetRequests: () => {
      from = fs.statSync(accessLog).size;
    },
    settle,
    stderr: () => fs.readFileSync(errorLog, 'utf8'),
    get pid() {
      return child?.pid;
    },
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
  return reg;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function kill(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  // 'close' comes after stdout ended, so the last access-log lines are in.
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.kill(signal);
  const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
  await closed;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------------
// The token server and the fault proxy run in a node child process of their own: tests run strata's CLI
// with spawnSync, which blocks this process's event loop, so a server in here could not answer it. They
// take commands from a file the test appends to and record each request in a file before answering it,
// both synchronous, so a fault set before a request applies to it and a client holding an answer finds its
// record. The child is plain JS (no TypeScript loader there), kept below as a string.

const AUX_SOURCE = String.raw`
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const [kind, cfgJson] = process.argv.slice(2);
const cfg = JSON.parse(cfgJson);
// The test process holds our stdin: when it is gone (killed without its teardown), so are we.
process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
const record = (rec) => fs.appendFileSync(cfg.logFile, JSON.stringify(rec) + '\n');
const server = http.createServer(kind === 'token' ? tokenHandler() : proxyHandler());
let origin = ''; // ours, for the proxy's Locations
server.listen(0, '127.0.0.1', () => {
  origin = 'http://127.0.0.1:' + server.address().port;
  process.stdout.write('listening ' + server.address().port + '\n');
});

const CODES = { 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'NAME_UNKNOWN', 405: 'UNSUPPORTED', 429: 'TOOMANYREQUESTS', 503: 'UNAVAILABLE' };
const errorBody = (status, message) => JSON.stringify({ errors: [{ code: CODES[status] || 'UNKNOWN', message, detail: null }] });

// distribution's token auth (docs/spec/auth/token.md): RS256 JWTs with a libtrust kid header, signed with
// the key of the one certificate in the registry's rootcertbundle; aud must be a string, not an array.
function tokenHandler() {
  const priv = crypto.createPrivateKey(fs.readFileSync(cfg.keyFile));
  const b64 = (x) => Buffer.from(x).toString('base64url');
  const header = b64(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: cfg.kid }));
  const sign = (claims) => {
    const input = header + '.' + b64(JSON.stringify(claims));
    return input + '.' + b64(crypto.sign('sha256', Buffer.from(input), priv));
  };
  // 'repository:a/b:pull,push': the type ends at the first ':', the actions start after the last one.
  const parseScope = (s) => {
    const i = s.indexOf(':');
    const j = s.lastIndexOf(':');
    return i < 0 || j <= i ? undefined : { type: s.slice(0, i), name: s.slice(i + 1, j), actions: s.slice(j + 1).split(',').filter(Boolean) };
  };
  return (req, res) => {
    const u = new URL(req.url || '/', 'http://x');
    const scopes = u.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean));
    const rec = { service: u.searchParams.get('service') ?? undefined, scopes, status: 0, access: [] };
    const answer = (status, message) => {
      rec.status = status;
      record(rec);
      res.writeHead(status, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="strata-test-token"' });
      res.end(errorBody(status, message));
    };
    if (u.pathname !== '/token') return answer(404, 'not found');
    // containers/image and docker ask with GET; the OAuth2 POST form is for identity tokens, not served here.
    if (req.method !== 'GET') return answer(405, 'only GET');
    if (rec.service !== undefined && rec.service !== cfg.service) return answer(400, 'unknown service ' + rec.service);
    let access = scopes.map(parseScope).filter(Boolean);
    const authz = req.headers.authorization || '';
    if (authz) {
      const m = /^basic\s+(\S+)$/i.exec(authz);
      const cred = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
      const colon = cred.indexOf(':');
      rec.user = colon < 0 ? '' : cred.slice(0, colon);
      if (colon < 0 || !Object.hasOwn(cfg.users, rec.user) || cfg.users[rec.user] !== cred.slice(colon + 1)) return answer(401, 'invalid credentials');
    } else if (cfg.anonymousPull) {
      access = access.filter((a) => a.type === 'repository' && a.actions.includes('pull')).map((a) => ({ ...a, actions: ['pull'] }));
    } else {
      return answer(401, 'authentication required');
    }
    const now = Math.floor(Date.now() / 1000);
    const token = sign({ iss: cfg.issuer, sub: rec.user || '', aud: cfg.service, exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access });
    rec.status = 200;
    rec.access = access;
    record(rec);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  };
}

function proxyHandler() {
  const target = cfg.target;
  const targetHost = target.slice(0, target.lastIndexOf(':'));
  const targetPort = Number(target.slice(target.lastIndexOf(':') + 1));
  const targetOrigin = 'http://' + target;
  const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);
  const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;
  let early = [];
  let corrupt = new Set();
  let drops = new Map();
  let controlRead = 0;
  // Commands are whole lines; a line still being written waits for the next request.
  const readControl = () => {
    const buf = fs.readFileSync(cfg.controlFile);
    const end = buf.lastIndexOf(10) + 1;
    if (end <= controlRead) return;
    const lines = buf.subarray(controlRead, end).toString('utf8').split('\n').filter(Boolean);
    controlRead = end;
    for (const c of lines.map((l) => JSON.parse(l))) {
      if (c.op === 'early') early.push({ left: c.n, status: c.status, retryAfter: c.retryAfter, match: c.match && new RegExp(c.match.source, c.match.flags) });
      else if (c.op === 'corrupt') corrupt.add(c.digest);
      else if (c.op === 'drop') drops.set(c.digest, { bytes: c.bytes, left: c.times });
      else if (c.op === 'clear') {
        early = [];
        corrupt = new Set();
        drops = new Map();
      }
    }
  };
  return (req, res) => {
    readControl();
    const uri = req.url || '/';
    const qi = uri.indexOf('?');
    const rec = { method: req.method, path: qi < 0 ? uri : uri.slice(0, qi), query: qi < 0 ? '' : uri.slice(qi), status: 0 };
    const f = early.find((e) => e.left > 0 && (!e.match || e.match.test(rec.method + ' ' + rec.path)));
    if (f) {
      f.left--;
      rec.status = f.status;
      rec.fault = f.retryAfter === undefined ? 'fail' : 'throttle';
      const headers = { 'content-type': 'application/json; charset=utf-8', 'docker-distribution-api-version': 'registry/2.0' };
      if (f.retryAfter !== undefined) headers['retry-after'] = String(f.retryAfter);
      const body = errorBody(f.status, f.retryAfter === undefined ? 'injected fault ' + f.status : 'too many requests');
      // Read the request body first, so that an upload's client sees the answer and not a reset.
      req.resume();
      req.on('end', () => {
        record(rec);
        res.writeHead(f.status, headers).end(body);
      });
      return;
    }
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = target;
    const up = http.request({ host: targetHost, port: targetPort, method: req.method, path: uri, headers, agent: false }, (ur) => {
      rec.status = ur.statusCode;
      const out = {};
      for (const [k, v] of Object.entries(ur.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
      // The registry builds absolute Locations from the Host it was sent.
      const loc = ur.headers.location;
      if (loc && loc.startsWith(targetOrigin)) out.location = origin + loc.slice(targetOrigin.length);
      const m = req.method === 'GET' && (rec.status === 200 || rec.status === 206) ? BLOB_PATH.exec(rec.path) : null;
      const drop = m ? drops.get(m[1]) : undefined;
      const flip = m !== null && corrupt.has(m[1]);
      if (drop && drop.left > 0) {
        drop.left--;
        rec.fault = 'drop';
      } else if (flip) rec.fault = 'corrupt';
      record(rec);
      res.writeHead(rec.status, out);
      if (!rec.fault) return void ur.pipe(res);
      const flipAt = Math.floor(Number(ur.headers['content-length'] || 0) / 2);
      let offset = 0;
      ur.on('data', (chunk) => {
        if (offset < 0) return;
        if (flip && flipAt >= offset && flipAt < offset + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flipAt - offset] ^= 0xff;
        }
        if (rec.fault === 'drop' && offset + chunk.length >= drop.bytes) {
          // Headers and a short body, then FIN: a connection lost mid-blob. end() flushes what was written
          // (destroy() could discard it).
          ur.destroy();
          res.flushHeaders();
          const part = chunk.subarray(0, drop.bytes - offset);
          if (part.length) res.write(part);
          res.socket && res.socket.end();
          offset = -1;
          return;
        }
        offset += chunk.length;
        if (!res.write(chunk)) {
          ur.pause();
          res.once('drain', () => ur.resume());
        }
      });
      ur.on('end', () => offset >= 0 && res.end());
    });
    up.on('error', () => {
      if (res.headersSent) return void res.destroy();
      rec.status = 502;
      record(rec);
      res.writeHead(502, { 'content-type': 'application/json' }).end(errorBody(502, 'fault proxy: registry unreachable'));
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  };
}
`;

interface Aux {
  port: number;
  stderr(): string;
  close(): Promise<void>;
}

async function startAux(dir: string, kind: 'token' | 'proxy', cfg: object): Promise<Aux> {
  const script = path.join(dir, 'aux-server.mjs');
  fs.writeFileSync(script, AUX_SOURCE);
  // Not tap's hooks (NODE_OPTIONS): this process is not under test.
  const { NODE_OPTIONS: _o, ...env } = process.env;
  const c = spawn(process.execPath, [script, kind, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'], env });
  live.add(c);
  c.once('close', () => live.delete(c));
  let stderr = '';
  c.stderr!.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 1_000_000) stderr += s;
  });
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the ${kind} server did not start within ${START_TIMEOUT_MS} ms; stderr:\n${stderr}`)), START_TIMEOUT_MS);
    c.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^listening (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    c.once('close', (code, signal) => reject(new Error(`the ${kind} server exited (${code ?? signal}); stderr:\n${stderr}`)));
  }).catch(async (e: Error) => {
    await kill(c, 'SIGKILL');
    throw e;
  });
  clearTimeout(timer);
  return { port, stderr: () => stderr, close: () => kill(c, 'SIGTERM') };
}

/** The whole lines of a file of JSON lines, from byte `from`. */
function readJsonLines<R>(file: string, from = 0): R[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return [];
  }
  const end = buf.lastIndexOf(10) + 1;
  if (end <= from) return [];
  return buf
    .subarray(from, end)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as R);
}

const fileSize = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);

interface TokenServer {
  url: string;
  certFile: string;
  requests(): TokenRequest[];
  close(): Promise<void>;
}

/** libtrust's key ID: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, 12 groups of 4. */
export function libtrustKeyId(pub: crypto.KeyObject): string {
  const h = crypto
    .createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let v = 0;
  let s = '';
  for (const b of h) {
    v = ((v << 8) | b) & 0xffff; // at most 12 bits are pending
    bits += 8;
    while (bits >= 5) {
      s += alphabet[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return s.match(/.{4}/g)!.join(':');
}

async function startTokenServer(dir: string, users: Record<string, string>, anonymousPull: boolean): Promise<TokenServer> {
  const { cert, key } = selfSigned(dir, 'token-signer', 'strata test token signer');
  const kid = libtrustKeyId(new crypto.X509Certificate(fs.readFileSync(cert)).publicKey);
  const logFile = path.join(dir, 'token-requests.jsonl');
  const aux = await startAux(dir, 'token', { keyFile: key, kid, users, anonymousPull, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, logFile });
  return { url: `http://127.0.0.1:${aux.port}/token`, certFile: cert, requests: () => readJsonLines<TokenRequest>(logFile), close: aux.close };
}

// ---------------------------------------------------------------------------------------------------------
// The fault proxy

export interface ProxyServed extends Served {
  /** The fault injected into this request, if any. */
  fault?: 'fail' | 'throttle' | 'corrupt' | 'drop';
}

export interface Proxy {
  host: string;
  url: string;
  /** Answer the next n requests (those whose 'METHOD /path' matches `match`, if given) with `status` and a registry-style error. */
  failNext(n: number, status: number, match?: RegExp): void;
  /** Answer the next n (matching) requests with 429 and Retry-After. */
  throttleNext(n: number, retryAfterSeconds: number, match?: RegExp): void;
  /** Flip a byte in the middle of every GET /v2/…/blobs/<digest> response body. */
  corruptBlob(digest: string): void;
  /** Send `bytes` bytes of the next `times` GET /v2/…/blobs/<digest> response bodies, then close the connection. */
  dropBlobAfter(digest: string, bytes: number, times?: number): void;
  /** Remove every fault still pending. */
  clearFaults(): void;
  /** Every request answered so far (recorded before its answer was sent). */
  requests(): ProxyServed[];
  resetRequests(): void;
}

export async function startFaultProxy(t: T, target: string): Promise<Proxy> {
  const dir = serverDir('strata-proxy-');
  const controlFile = path.join(dir, 'control.jsonl');
  const logFile = path.join(dir, 'requests.jsonl');
  fs.writeFileSync(controlFile, '');
  const aux = await startAux(dir, 'proxy', { target, controlFile, logFile }).catch((e: Error) => {
    removeDir(dir);
    throw e;
  });
  t.teardown(async () => {
    await aux.close();
    removeDir(dir);
  });
  const send = (c: object) => fs.appendFileSync(controlFile, JSON.stringify(c) + '\n');
  const re = (m?: RegExp) => m && { source: m.source, flags: m.flags };
  let from = 0;
  const host = `127.0.0.1:${aux.port}`;
  return {
    host,
    url: `http://${host}`,
    failNext: (n, status, match) => send({ op: 'early', n, status, match: re(match) }),
    throttleNext: (n, retryAfter, match) => send({ op: 'early', n, status: 429, retryAfter, match: re(match) }),
    corruptBlob: (digest) => send({ op: 'corrupt', digest }),
    dropBlobAfter: (digest, bytes, times = 1) => send({ op: 'drop', digest, bytes, times }),
    clearFaults: () => send({ op: 'clear' }),
    requests: () => readJsonLines<ProxyServed>(logFile, from),
    resetRequests: () => {
      from = fileSize(logFile);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Images made by the real tools: umoci builds OCI layouts, skopeo converts and pushes them.

/** A file's content, with its mode (0o644 otherwise), or a symlink. */
export type FileSpec = string | Buffer | { data: string | Buffer; mode?: number } | { symlink: string };

/**
 * path → content; a path ending in '/' is a directory, null deletes the path (a whiteout in that layer).
 * undefined is skipped, so that an array of differently shaped literals is still LayerFiles[].
 */
export type LayerFiles = Record<string, FileSpec | null | undefined>;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BuiltManifest extends Descriptor {
  /** 'amd64', 'arm64', 'arm/v7' … as asked for. */
  platform: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface BuiltImage {
  /** The OCI layout directory. */
  layout: string;
  tag: string;
  /** 'oci:<layout>:<tag>' for skopeo. */
  ref: string;
  /** The tag's manifest, or its index when multi-arch. */
  digest: string;
  mediaType: string;
  manifests: BuiltManifest[];
}

export interface LayoutOptions {
  tag?: string;
  /** Recompress the layers with zstd (skopeo). */
  zstd?: boolean;
  /** Make an OCI image index with one image per platform ('amd64', 'arm64', 'arm/v7'). */
  arches?: string[];
  cmd?: string[];
}

const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

/**
 * An OCI layout in a temp dir with `files` as its layers (one record per layer, applied in order), made with
 * `umoci unpack` + `umoci repack` (umoci insert writes truncated tars). `files` may depend on the platform.
 */
export function makeLayout(t: T, files: LayerFiles | LayerFiles[] | ((platform: string) => LayerFiles | LayerFiles[]), o: LayoutOptions = {}): BuiltImage {
  const dir = tmpdir(t, 'strata-oci-');
  const layout = path.join(dir, 'oci');
  const tag = o.tag ?? 'latest';
  run('umoci', ['init', '--layout', layout]);
  const platforms = o.arches ?? ['amd64'];
  const built: { platform: string; tag: string }[] = [];
  for (const platform of platforms) {
    const itag = o.arches ? `${tag}-${platform.replace(/\//g, '-')}` : tag;
    const image = `${layout}:${itag}`;
    run('umoci', ['new', '--image', image]);
    run('umoci', [
      'config',
      '--image',
      image,
      '--os',
      'linux',
      '--architecture',
      platform.split('/')[0],
      ...(o.cmd ?? ['/bin/sh']).flatMap((c) => ['--config.cmd', c]),
    ]);
    const spec = typeof files === 'function' ? files(platform) : files;
    (Array.isArray(spec) ? spec : [spec]).forEach((layer, i) => {
      const bundle = path.join(dir, `bundle-${itag}-${i}`);
      run('umoci', ['unpack', '--image', image, bundle]);
      writeFiles(path.join(bundle, 'rootfs'), layer);
      run('umoci', ['repack', '--image', image, bundle]);
      fs.rmSync(bundle, { recursive: true, force: true });
    });
    built.push({ platform, tag: itag });
  }
  if (o.arches) {
    const index = readIndexJson(layout);
    const manifests = built.map((b) => {
      const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === b.tag)!;
      const [architecture, variant] = b.platform.split('/');
      return { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: { architecture, os: 'linux', ...(variant ? { variant } : {}) } };
    });
    const blob = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPE, manifests }));
    const digest = 'sha256:' + crypto.createHash('sha256').update(blob).digest('hex');
    fs.writeFileSync(path.join(layout, 'blobs/sha256', digest.slice(7)), blob);
    index.manifests.push({ mediaType: INDEX_TYPE, digest, size: blob.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
    fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  }
  run('umoci', ['gc', '--layout', layout]);
  if (!o.zstd) return readLayout(layout, tag, platforms);
  // Through a second layout: a zstd copy straight to docker:// reuses the gzip blobs already there.
  const zlayout = path.join(dir, 'oci-zstd');
  run('skopeo', ['copy', ...(o.arches ? ['--all'] : []), '--dest-compress', '--dest-compress-format', 'zstd', `oci:${layout}:${tag}`, `oci:${zlayout}:${tag}`]);
  return readLayout(zlayout, tag, platforms);
}

function writeFiles(rootfs: string, files: LayerFiles): void {
  for (const [p, content] of Object.entries(files)) {
    const dest = path.join(rootfs, p);
    if (content === undefined) continue;
    if (content === null) fs.rmSync(dest, { recursive: true, force: true });
    else if (p.endsWith('/')) fs.mkdirSync(dest, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.rmSync(dest, { force: true });
      if (typeof content === 'object' && 'symlink' in content) fs.symlinkSync(content.symlink, dest);
      else if (typeof content === 'object' && 'data' in content) {
        fs.writeFileSync(dest, content.data);
        fs.chmodSync(dest, content.mode ?? 0o644);
      } else fs.writeFileSync(dest, content);
    }
  }
}

interface IndexJson {
  schemaVersion: number;
  manifests: (Descriptor & { annotations?: Record<string, string>; platform?: { architecture: string; variant?: string } })[];
}

function readIndexJson(layout: string): IndexJson {
  return JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as IndexJson;
}

function readBlob(layout: string, digest: string): Buffer {
  return fs.readFileSync(path.join(layout, 'blobs', ...digest.split(':')));
}

/** What a layout holds under `tag`: the manifest (or index and its manifests) with their blobs' descriptors. */
export function readLayout(layout: string, tag: string, platforms: string[] = ['amd64']): BuiltImage {
  const top = readIndexJson(layout).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!top) throw new Error(`no tag ${tag} in ${layout}`);
  const manifest = (d: Descriptor, platform: string): BuiltManifest => {
    const m = JSON.parse(readBlob(layout, d.digest).toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
    const strip = ({ mediaType, digest, size }: Descriptor) => ({ mediaType, digest, size });
    return { ...strip(d), platform, config: strip(m.config), layers: m.layers.map(strip) };
  };
  let manifests: BuiltManifest[];
  if (top.mediaType === INDEX_TYPE) {
    const idx = JSON.parse(readBlob(layout, top.digest).toString('utf8')) as IndexJson;
    manifests = idx.manifests.map((d) => manifest(d, [d.platform!.architecture, d.platform!.variant].filter(Boolean).join('/')));
  } else manifests = [manifest(top, platforms[0])];
  return { layout, tag, ref: `oci:${layout}:${tag}`, digest: top.digest, mediaType: top.mediaType, manifests };
}

export interface SkopeoTarget {
  host: string;
  caFile?: string;
}

function skopeoEnv(): NodeJS.ProcessEnv {
  // No stored logins of the machine: only the credentials a test passes.
  return { ...process.env, REGISTRY_AUTH_FILE: path.join(os.tmpdir(), 'strata-no-such-auth.json') };
}

function tlsArgs(reg: SkopeoTarget, prefix: '--dest-' | '--src-' | '--'): string[] {
  // A TLS registry is verified against its CA; for plain http, tls-verify=false lets skopeo use http.
  return reg.caFile ? [`${prefix}cert-dir`, path.dirname(reg.caFile)] : [`${prefix}tls-verify=false`];
}

/** Push an image to `reg` as `repoTag` ('name:tag') with skopeo; returns the digest the registry has it under. */
export function pushImage(img: BuiltImage, reg: SkopeoTarget, repoTag: string, o: { creds?: string; format?: 'v2s2' } = {}): string {
  const digestFile = path.join(path.dirname(img.layout), `pushed-${crypto.randomUUID()}`);
  const args = ['copy', ...tlsArgs(reg, '--dest-'), '--digestfile', digestFile];
  if (img.mediaType === INDEX_TYPE) args.push('--all');
  if (o.creds) args.push('--dest-creds', o.creds);
  if (o.format) args.push('--format', o.format);
  else args.push('--preserve-digests');
  run('skopeo', [...args, img.ref, `docker://${reg.host}/${repoTag}`], skopeoEnv());
  const digest = fs.readFileSync(digestFile, 'utf8').trim();
  fs.rmSync(digestFile);
  return digest;
}

/** `skopeo inspect` (the parsed JSON), or with raw the manifest as stored. */
export function skopeoInspect(reg: SkopeoTarget, repoRef: string, o: { creds?: string; raw?: boolean } = {}): Record<string, unknown> {
  const args = ['inspect', ...tlsArgs(reg, '--'), ...(o.creds ? ['--creds', o.creds] : []), ...(o.raw ? ['--raw'] : []), `docker://${reg.host}/${repoRef}`];
  return JSON.parse(run('skopeo', args, skopeoEnv())) as Record<string, unknown>;
}
