// What the registry commands do: call the registry services and print as docker does.
import fs from 'node:fs';
import { pull as pullImage } from '../registry/pull.js';
import { push as pushImage } from '../registry/push.js';
import { listTags, login as loginTo, logout as logoutFrom, registryHost, search as searchIn } from '../registry/account.js';
import type { ConnectOptions } from '../registry/connect.js';
import { withStore, describeError } from './with-store.js';
import { fatal } from './fatal.js';
import { progressBars } from './progress-bar.js';
import { table } from './format.js';

interface TlsFlags {
  tlsVerify?: boolean;
  certDir?: string;
}

const connectOptions = (o: TlsFlags): ConnectOptions => ({
  tlsVerify: o.tlsVerify,
  certDir: o.certDir,
  onRetry: (why, ms) => process.stderr.write(`strata: ${why}: retrying in ${(ms / 1000).toFixed(1)} s\n`),
});

export async function pull(ref: string, o: TlsFlags & { allTags?: boolean; platform?: string; quiet?: boolean; maxConcurrentDownloads?: number }) {
  const { parsePlatform } = await import('../registry/manifests.js');
  await withStore(async (s) => {
    const bars = progressBars();
    try {
      const pulled = await pullImage(s, ref, {
        ...connectOptions(o),
        allTags: o.allTags,
        platform: o.platform ? parsePlatform(o.platform) : undefined,
        parallel: o.maxConcurrentDownloads,
        say: o.quiet ? undefined : bars.log,
        progress: o.quiet ? undefined : bars.sink,
      });
      bars.stop();
      for (const p of pulled) process.stdout.write(`${fullRef(p.ref)}\n`);
    } finally {
      bars.stop();
    }
  });
}

/** docker ends a pull with the full reference: docker.io/library/busybox:latest. */
function fullRef(familiar: string): string {
  const first = familiar.split('/')[0];
  if (familiar.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return familiar;
  return `docker.io/${familiar.includes('/') ? '' : 'library/'}${familiar}`;
}

export async function push(ref: string, o: TlsFlags & { quiet?: boolean; maxConcurrentUploads?: number }) {
  await withStore(async (s) => {
    const bars = progressBars();
    try {
      const r = await pushImage(s, ref, {
        ...connectOptions(o),
        parallel: o.maxConcurrentUploads,
        say: o.quiet ? undefined : bars.log,
        progress: o.quiet ? undefined : bars.sink,
      });
      bars.stop();
      if (o.quiet) process.stdout.write(`${r.digest}\n`);
    } finally {
      bars.stop();
    }
  });
}

export async function login(server: string | undefined, o: TlsFlags & { username?: string; password?: string; passwordStdin?: boolean }) {
  try {
    const host = registryHost(server);
    if (o.password && o.passwordStdin) fatal('--password and --password-stdin are exclusive', 1);
    let password = o.password;
    if (o.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (o.passwordStdin) password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    const where = await loginTo(host, { username: o.username ?? '', password: password ?? '' }, connectOptions(o));
    if (where.endsWith('.json')) process.stderr.write(`WARNING! Your password will be stored unencrypted in ${where}.\n`);
    process.stdout.write('Login Succeeded\n');
  } catch (err) {
    const { message, status } = describeError(err);
    fatal(message, status);
  }
}

export async function logout(server: string | undefined) {
  try {
    const host = registryHost(server);
    if (logoutFrom(host)) process.stdout.write(`Removing login credentials for ${host}\n`);
    else process.stdout.write(`Not logged in to ${host}\n`);
  } catch (err) {
    const { message, status } = describeError(err);
    fatal(message, status);
  }
}

export async function search(q: string, o: TlsFlags & { limit?: number; format?: string; listTags?: boolean }) {
  try {
    if (o.listTags) {
      const tags = await listTags(q, connectOptions(o));
      if (o.format === 'json') process.stdout.write(JSON.stringify(tags) + '\n');
      else process.stdout.write(tags.map((t) => t + '\n').join(''));
      return;
    }
    const rows = await searchIn(q, o.limit, connectOptions(o));
    if (o.format === 'json') process.stdout.write(JSON.stringify(rows) + '\n');
    else
      process.stdout.write(
        table(
          ['NAME', 'DESCRIPTION', 'STARS', 'OFFICIAL'],
          rows.map((r) => [r.name, r.description, String(r.stars), r.official ? '[OK]' : '']),
        ),
      );
  } catch (err) {
    const { message, status } = describeError(err);
    fatal(message, status);
  }
}
