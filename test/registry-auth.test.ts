// login, logout and credentials against a real registry: htpasswd Basic auth (bcrypt), the Bearer
// token flow with a token server written for the tests, TLS with a self-signed certificate, and
// the places docker and podman keep credentials (config.json, a credential helper, auth.json).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { storeCli } from './helpers/store.js';
import { CLI, ROOT, tmpdir } from './helpers/mount.js';
import { startRegistry } from './helpers/registry.js';

const base = tmpdir(t, 'strata-regauth-');
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);

/** A store with busybox, and a docker config dir of its own. */
function setup(name: string) {
  const s = storeCli(`${base}/${name}`);
  t.teardown(s.cleanup);
  s.env.DOCKER_CONFIG = `${base}/${name}-docker`;
  s.env.XDG_RUNTIME_DIR = `${base}/${name}-run`;
  s.env.HOME = `${base}/${name}-home`;
  s.ok('import', rootfs, '--tag', 'busybox');
  const withInput = (input: string, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: s.env, input, timeout: 60_000 });
  // The token server runs in this process: its CLI calls must not block our event loop.
  const later = (input: string | null, ...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, ...args], { env: s.env });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
      p.stdin.end(input ?? '');
    });
  return { ...s, withInput, later, configFile: `${s.env.DOCKER_CONFIG}/config.json` };
}

t.test('htpasswd Basic auth: a wrong password is refused and nothing saved; login, push, pull, logout', async (t) => {
  const reg = await startRegistry(t, { htpasswd: { alice: 's3cret' } });
  const s = setup('basic');
  const remote = `${reg.host}/private/bb:1`;
  s.ok('tag', 'busybox', remote);
  const anon = s.strata('push', remote);
  t.equal(anon.status, 1);
  t.equal(anon.stderr, `strata: ${reg.host} asks for a login: run strata login ${reg.host}\n`, 'no credential: one sentence that says what to do');
  const wrong = s.withInput('nope\n', 'login', '-u', 'alice', '--password-stdin', reg.host);
  t.equal(wrong.status, 1, 'a wrong password is refused');
  t.equal(wrong.stderr, `strata: ${reg.host} refused the credentials of alice\n`);
  t.notOk(fs.existsSync(s.configFile), 'and nothing is saved');
  const right = s.withInput('s3cret\n', 'login', '-u', 'alice', '--password-stdin', reg.host);
  t.equal(right.status, 0, right.stderr);
  t.equal(right.stdout, 'Login Succeeded\n');
  t.equal(fs.statSync(s.configFile).mode & 0o777, 0o600, 'config.json is 0600');
  const cfg = JSON.parse(fs.readFileSync(s.configFile, 'utf8'));
  t.equal(Buffer.from(cfg.auths[reg.host].auth, 'base64').toString(), 'alice:s3cret', "kept where docker keeps it, in docker's form");
  t.match(s.ok('push', remote), /Pushed/);
  const other = setup('basic-b');
  fs.mkdirSync(path.dirname(other.configFile), { recursive: true });
  fs.copyFileSync(s.configFile, other.configFile); // a config.json docker wrote works as it is
  t.match(other.ok('pull', remote), /Downloaded newer image/);
  const warned = s.strata('login', '-u', 'alice', '-p', 's3cret', reg.host);
  t.match(warned.stderr, /WARNING! Using --password via the CLI is insecure/, '--password works, with a warning');
  t.equal(s.ok('logout', reg.host), `Removing login credentials for ${reg.host}\n`);
  t.same(JSON.parse(fs.readFileSync(s.configFile, 'utf8')).auths, {}, 'the credential is gone');
  t.equal(s.ok('logout', reg.host), `Not logged in to ${reg.host}\n`);
  t.equal(s.strata('pull', remote).status, 1, 'logged out, the pull is refused');
});

t.test('a credential helper named in config.json, and containers’ auth.json', async (t) => {
  const reg = await startRegistry(t, { htpasswd: { bob: 'pw' } });
  const s = setup('helper');
  const remote = `${reg.host}/h/bb:1`;
  s.ok('tag', 'busybox', remote);
  // A helper that keeps what it is given in a file, speaking docker-credential-helpers' protocol.
  const bin = `${base}/helper-bin`;
  const store = `${base}/helper-store.json`;
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    `${bin}/docker-credential-stratatest`,
    `#!/bin/sh\ncase "$1" in\n  store) cat > ${store} ;;\n  get) read url; if [ -f ${store} ]; then cat ${store}; else echo "credentials not found in native keychain"; exit 1; fi ;;\n  erase) read url; rm -f ${store} ;;\nesac\n`,
    { mode: 0o755 },
  );
  s.env.PATH = `${bin}:${process.env.PATH}`;
  fs.mkdirSync(s.env.DOCKER_CONFIG!, { recursive: true });
  fs.writeFileSync(s.configFile, JSON.stringify({ credHelpers: { [reg.host]: 'stratatest' } }));
  const login = s.withInput('pw', 'login', '-u', 'bob', '--password-stdin', reg.host);
  t.equal(login.status, 0, login.stderr);
  t.same(JSON.parse(fs.readFileSync(store, 'utf8')), { ServerURL: reg.host, Username: 'bob', Secret: 'pw' }, 'login stored it through the helper');
  t.notOk(JSON.parse(fs.readFileSync(s.configFile, 'utf8')).auths, 'and not in config.json');
  t.match(s.ok('push', remote), /Pushed/, 'the helper’s credential is used');
  s.ok('logout', reg.host);
  t.notOk(fs.existsSync(store), 'logout erased it through the helper');

  const podman = setup('authjson');
  const authFile = `${base}/auth.json`;
  fs.writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('bob:pw').toString('base64') } } }));
  podman.env.REGISTRY_AUTH_FILE = authFile;
  t.match(podman.ok('pull', remote), /Downloaded newer image/, "a credential from containers' auth.json");
});

t.test('the Bearer token flow: tokens from the realm, cached per scope', async (t) => {
  const reg = await startRegistry(t, { token: true, tokenUsers: { carol: 'tok3n' }, anonymousPull: true });
  const s = setup('token');
  const remote = `${reg.host}/tok/bb:1`;
  s.ok('tag', 'busybox', remote);
  const wrong = await s.later('bad', 'login', '-u', 'carol', '--password-stdin', reg.host);
  t.equal(wrong.status, 1);
  t.match(wrong.stderr, /^strata: .* refused the credentials for 127\.0\.0\.1:\d+ \(user carol\): 401\n$/, 'the token service refused it');
  t.notOk(fs.existsSync(s.configFile));
  t.equal((await s.later('tok3n', 'login', '-u', 'carol', '--password-stdin', reg.host)).status, 0);
  const before = reg.tokensIssued;
  t.match((await s.later(null, 'push', remote)).stdout, /Pushed/);
  t.equal(reg.tokensIssued - before, 1, 'one token served the whole push (one scope)');
  t.same(reg.tokenRequests().at(-1)!.scopes, ['repository:tok/bb:pull,push'], 'asked for the scope the challenge named');
  const anon = setup('token-anon');
  const mid = reg.tokensIssued;
  t.match((await anon.later(null, 'pull', remote)).stdout, /Downloaded newer image/, 'an anonymous pull with an anonymous token');
  t.equal(reg.tokensIssued - mid, 1, 'one token for the manifest and every blob');
  const denied = await anon.later(null, 'push', remote);
  t.equal(denied.status, 1, 'an anonymous push is refused');
});

t.test('TLS with a self-signed certificate: trusted with --cert-dir or SSL_CERT_FILE, one sentence without', async (t) => {
  const reg = await startRegistry(t, { tls: true });
  const s = setup('tls');
  const remote = `${reg.host}/tls/bb:1`;
  s.ok('tag', 'busybox', remote);
  const untrusted = s.strata('push', remote);
  t.equal(untrusted.status, 1);
  t.match(
    untrusted.stderr,
    new RegExp(`^strata: TLS to ${reg.host.replace(/\./g, '\\.')} failed: .*certificate.*; give its CA with --cert-dir or SSL_CERT_FILE`),
    'says what failed and what to do',
  );
  t.match(s.ok('push', '--cert-dir', path.dirname(reg.caFile!), remote), /Pushed/, '--cert-dir');
  const b = setup('tls-b');
  b.env.SSL_CERT_FILE = reg.caFile;
  t.match(b.ok('pull', remote), /Downloaded newer image/, 'SSL_CERT_FILE');
  const c = setup('tls-c');
  t.match(c.ok('pull', '--tls-verify=false', remote), /Downloaded newer image/, '--tls-verify=false skips the check');
  const d = setup('tls-d');
  fs.writeFileSync(`${d.env.STRATA_ROOT}/registries.json`, JSON.stringify({ insecure: [reg.host] }));
  t.match(d.ok('pull', remote), /Downloaded newer image/, 'so does a registry listed insecure in STRATA_ROOT/registries.json');
});
