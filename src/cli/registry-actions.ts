// What the registry commands do: call the registry services and print as docker does.
import fs from 'node:fs';
import { pull as pullImage } from '../registry/pull.js';
// push and the account calls load only for those commands: a pull starts without them
const pushImage: typeof import('../registry/push.js').push = async (...a) => (await import('../registry/push.js')).push(...a);
const account = () => import('../registry/account.js');
import type { ConnectOptions } from '../registry/connect.js';
import { fullRef, parseImageRef } from '../store/reference.js';
import { withStore, describeError } from './with-store.js';
import { fatal } from './fatal.js';
import { progressBars } from './progress-bar.js';
import type { ProgressSink } from '../sys/progress.js';
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

/** Status lines and live bars for a pull or push (none with -q); the bars are gone before the result is printed. */
async function drawn<T>(quiet: boolean | undefined, work: (out: { say?: (line: string) => void; progress?: ProgressSink }) => Promise<T>): Promise<T> {
  const bars = progressBars();
  try {
    return await work(quiet ? {} : { say: bars.log, progress: bars.sink });
  } finally {
    bars.stop();
  }
}

export async function pull(ref: string, o: TlsFlags & { allTags?: boolean; platform?: string; quiet?: boolean; maxConcurrentDownloads?: number }) {
  const { parsePlatform } = await import('../registry/manifests.js');
  await withStore(async (s) => {
    const pulled = await drawn(o.quiet, (out) =>
      pullImage(s, ref, {
        ...connectOptions(o),
        ...out,
        allTags: o.allTags,
        platform: o.platform ? parsePlatform(o.platform) : undefined,
        parallel: o.maxConcurrentDownloads,
      }),
    );
    for (const p of pulled) process.stdout.write(`${fullRef(parseImageRef(p.ref))}\n`);
  });
}

export async function push(ref: string, o: TlsFlags & { quiet?: boolean; maxConcurrentUploads?: number }) {
  await withStore(async (s) => {
    const r = await drawn(o.quiet, (out) => pushImage(s, ref, { ...connectOptions(o), ...out, parallel: o.maxConcurrentUploads }));
    if (o.quiet) process.stdout.write(`${r.digest}\n`);
  });
}

export async function login(server: string | undefined, o: TlsFlags & { username?: string; password?: string; passwordStdin?: boolean }) {
  try {
    const { registryHost } = await account();
    const host = registryHost(server);
    if (o.password && o.passwordStdin) fatal('--password and --password-stdin are exclusive', 1);
    let password = o.password;
    if (o.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (o.passwordStdin) password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    const where = await (await account()).login(host, { username: o.username ?? '', password: password ?? '' }, connectOptions(o));
    if (where.endsWith('.json')) process.stderr.write(`WARNING! Your password will be stored unencrypted in ${where}.\n`);
    process.stdout.write('Login Succeeded\n');
  } catch (err) {
    const { message, status } = describeError(err);
    fatal(message, status);
  }
}

export async function logout(server: string | undefined) {
  try {
    const { registryHost } = await account();
    const host = registryHost(server);
    if ((await account()).logout(host)) process.stdout.write(`Removing login credentials for ${host}\n`);
    else process.stdout.write(`Not logged in to ${host}\n`);
  } catch (err) {
    const { message, status } = describeError(err);
    fatal(message, status);
  }
}

export async function search(q: string, o: TlsFlags & { limit?: number; format?: string; listTags?: boolean }) {
  try {
    if (o.listTags) {
      const tags = await (await account()).listTags(q, connectOptions(o));
      if (o.format === 'json') process.stdout.write(JSON.stringify(tags) + '\n');
      else process.stdout.write(tags.map((t) => t + '\n').join(''));
      return;
    }
    const rows = await (await account()).search(q, o.limit, connectOptions(o));
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
