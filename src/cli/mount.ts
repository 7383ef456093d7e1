// `strata mount` / `strata umount`, and the mount.fuse form (`strata SOURCE MOUNTPOINT -o OPTS`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { preflight, MountError, type MountSpec } from '../fuse/preflight.js';
import { serve } from '../fuse/daemon.js';
import { unmount, UnmountError } from '../fuse/mounts.js';

interface MountFlags {
  lower?: string;
  upper?: string;
  work?: string;
  foreground?: boolean;
  o?: string[];
  readyFd?: string;
  log?: string;
  debug?: boolean;
  entryTimeout?: string;
  attrTimeout?: string;
}

/** lowerdir=A:B,upperdir=U,workdir=W (overlayfs's option names) into a spec. */
export function parseMountOptions(opts: string[]): Partial<MountSpec> & { ro?: boolean } {
  const out: Partial<MountSpec> & { ro?: boolean } = {};
  for (const o of opts.flatMap((s) => s.split(','))) {
    const [k, v] = o.split(/=(.*)/s, 2);
    if (k === 'lowerdir') out.lowers = v.split(':').filter(Boolean);
    else if (k === 'upperdir') out.upper = v;
    else if (k === 'workdir') out.work = v;
    else if (k === 'ro') out.ro = true;
  }
  return out;
}

export function mountCommand(): Command {
  return new Command('mount')
    .description('mount a merged view of lower dirs (top first) and an optional upper dir')
    .argument('<mountpoint>')
    .option('--lower <dirs>', 'lower dirs, top first, separated by ":" (as overlayfs lowerdir)')
    .option('--upper <dir>', 'the writable upper dir (without it the mount is read-only)')
    .option('--work <dir>', 'the work dir, on the same filesystem as the upper dir')
    .option('-o <options>', 'mount options: lowerdir=,upperdir=,workdir=,ro', (v: string, prev: string[] = []) => [...prev, v])
    .option('-f, --foreground', 'serve in the foreground instead of returning once mounted')
    .option('--log <file>', 'daemon log (background mode)')
    .option('--entry-timeout <s>', 'kernel entry cache timeout in seconds', '1')
    .option('--attr-timeout <s>', 'kernel attribute cache timeout in seconds', '1')
    .option('-d, --debug', 'print every FUSE request')
    .addOption(new Command().createOption('--ready-fd <fd>').hideHelp())
    .action((mountpoint: string, flags: MountFlags) => runMount(mountpoint, flags));
}

function runMount(mountpoint: string, flags: MountFlags): void {
  const fromO = parseMountOptions(flags.o ?? []);
  let spec: MountSpec;
  try {
    spec = preflight({
      lowers: flags.lower ? flags.lower.split(':').filter(Boolean) : (fromO.lowers ?? []),
      upper: fromO.ro ? undefined : (flags.upper ?? fromO.upper),
      work: fromO.ro ? undefined : (flags.work ?? fromO.work),
      mountpoint,
    });
  } catch (err) {
    if (err instanceof MountError) fatal(err.message);
    throw err;
  }
  const daemonOpts = {
    debug: flags.debug,
    entryTimeout: Number(flags.entryTimeout),
    attrTimeout: Number(flags.attrTimeout),
  };
  if (flags.foreground || flags.readyFd) {
    serve(spec, { ...daemonOpts, readyFd: flags.readyFd ? Number(flags.readyFd) : undefined });
    return;
  }
  // Background: a detached daemon reports "ready" (or its error) on a pipe, then we return.
  const args = [fileURLToPath(new URL('./main.js', import.meta.url)), 'mount', spec.mountpoint, '--lower', spec.lowers.join(':'), '--ready-fd', '3', '--entry-timeout', flags.entryTimeout!, '--attr-timeout', flags.attrTimeout!];
  if (spec.upper) args.push('--upper', spec.upper, '--work', spec.work!);
  if (flags.debug) args.push('--debug');
  const log = flags.log ? fs.openSync(flags.log, 'a') : 'ignore';
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log, 'pipe'] });
  let said = '';
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  pipe.on('data', (d: Buffer) => (said += d.toString()));
  pipe.on('end', () => {
    if (said.startsWith('ready')) {
      child.unref();
      process.exit(0);
    }
    fatal(said.replace(/^error: /, '').trim() || 'the mount daemon exited before the mount was ready');
  });
}

export function umountCommand(): Command {
  return new Command('umount')
    .description('unmount a strata mount (refuses while busy unless --lazy or --force)')
    .argument('<mountpoint>')
    .option('-l, --lazy', 'detach now; the daemon serves open files until they close')
    .option('--force', 'abort the FUSE connection (frees processes stuck on a dead daemon), then detach')
    .action((mountpoint: string, o: { lazy?: boolean; force?: boolean }) => {
      try {
        unmount(resolveNoFollow(mountpoint), o);
      } catch (err) {
        if (err instanceof UnmountError) fatal(err.message);
        throw err;
      }
    });
}

/** Absolute path without stat-ing it (a dead FUSE mount would hang or fail a realpath). */
function resolveNoFollow(p: string): string {
  return p.startsWith('/') ? p.replace(/\/+$/, '') || '/' : process.cwd() + '/' + p.replace(/\/+$/, '');
}

export function fatal(msg: string): never {
  process.stderr.write(`strata: ${msg}\n`);
  process.exit(1);
}
