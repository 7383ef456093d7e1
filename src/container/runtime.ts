// Run a command chrooted into a container's merged view, in new mount, PID, UTS and IPC
// namespaces (util-linux unshare), with /proc, /sys (read-only), a minimal /dev with /dev/shm, and
// the container's own /etc/hosts, /etc/hostname and /etc/resolv.conf in place (the image's init
// layer gives them somewhere to go). They are mounts in the container's private mount namespace, so nothing of them lands in
// the upper dir.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { RunConfig } from '../oci/image.js';
import { openPty, runOnPty } from './pty.js';
import { spawnRelayed, type ContainerIO } from './container-io.js';
import { refuse } from '../sys/errors.js';
import { splitKeyValue, withEnv } from '../sys/key-value.js';
import type { HostMount } from './volumes.js';

export { alive } from '../sys/process.js';

export interface RunSpec {
  merged: string;
  hostname: string;
  argv: string[];
  env: string[];
  workdir: string;
  user?: string;
  /** A pseudo-terminal of its own (-t). */
  tty?: boolean;
  /** Our stdin goes to the command (-i); without it the command reads /dev/null, as in docker. */
  interactive?: boolean;
  /** A cgroup dir the container's processes start in (for pause), if the host has one. */
  cgroup?: string | null;
  /** The container's own /etc/hosts, /etc/hostname and /etc/resolv.conf (containerEtc), bound over the image's. */
  etc: EtcFiles;
  /** Where its terminal or stdio goes instead of ours: the attach hub of a detached container's supervisor. */
  io?: ContainerIO;
  /** Volumes, binds and tmpfs mounts, shallowest first, their targets already made (Volumes.prepare). */
  mounts?: HostMount[];
  /** 'none': a network namespace of its own with only loopback; else the host's network. */
  network?: 'host' | 'none';
}

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolv: string;
}

/**
 * Write a container's /etc/hosts, /etc/hostname and /etc/resolv.conf into its dir, as docker does
 * for a container on the host's network: the host's hosts and resolv.conf (copies: the container
 * may change its own, never the host's), with its hostname added.
 */
export function containerEtc(dir: string, hostname: string): EtcFiles {
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const hosts = read('/etc/hosts') || '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
  const files: EtcFiles = { hosts: `${dir}/hosts`, hostname: `${dir}/hostname`, resolv: `${dir}/resolv.conf` };
  fs.writeFileSync(files.hosts, `${hosts}${hosts.endsWith('\n') ? '' : '\n'}127.0.1.1\t${hostname}\n`);
  fs.writeFileSync(files.hostname, hostname + '\n');
  fs.writeFileSync(files.resolv, read('/etc/resolv.conf'));
  return files;
}

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const isFile = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The command line, env and workdir a container runs, from the image config and run flags. */
export function runSpecOf(
  cfg: RunConfig,
  o: { cmd: string[]; env?: string[]; workdir?: string; user?: string; tty?: boolean; interactive?: boolean },
): Omit<RunSpec, 'merged' | 'hostname' | 'etc'> {
  const argv = [...(cfg.Entrypoint ?? []), ...(o.cmd.length ? o.cmd : (cfg.Cmd ?? []))];
  if (argv.length === 0) refuse('invalid', 'no command given and the image has none (CMD)');
  let env = [...(cfg.Env ?? [])];
  for (const kv of o.env ?? []) {
    const [k, v] = splitKeyValue(kv);
    env = withEnv(env, k, v ?? process.env[k] ?? '');
  }
  if (o.tty && !env.some((e) => e.startsWith('TERM='))) env.push(`TERM=${process.env.TERM || 'xterm'}`);
  return {
    argv,
    env,
    workdir: o.workdir ?? cfg.WorkingDir ?? '/',
    user: o.user ?? cfg.User,
    ...(o.tty ? { tty: true } : {}),
    ...(o.interactive ? { interactive: true } : {}),
  };
}

/** uid:gid of USER (a name from the image's /etc/passwd, or numbers). */
function ids(merged: string, user: string): [number, number] {
  const [u, g] = user.split(':');
  const passwd = fs.existsSync(`${merged}/etc/passwd`)
    ? fs
        .readFileSync(`${merged}/etc/passwd`, 'utf8')
        .split('\n')
        .map((l) => l.split(':'))
    : [];
  const row = passwd.find((r) => r[0] === u || r[2] === u);
  const uid = /^\d+$/.test(u) ? Number(u) : row ? Number(row[2]) : NaN;
  if (Number.isNaN(uid)) refuse('invalid', `unknown user ${u} in the image`);
  const gid = g !== undefined ? Number(g) : row ? Number(row[3]) : uid;
  return [uid, gid];
}

/** Run it; resolves with the command's exit code (128+N for a signal, as a shell reports it). */
export function runInContainer(spec: RunSpec, onStart?: (pid: number) => void): Promise<number> {
  const m = spec.merged;
  const setup: string[] = ['set -e', `hostname ${q(spec.hostname)}`];
  if (fs.existsSync(`${m}/dev`)) {
    setup.push(`mount -t tmpfs -o mode=755,size=65536k,nosuid strata-dev ${q(m + '/dev')}`);
    for (const d of DEVICES) setup.push(`: > ${q(`${m}/dev/${d}`)}; mount --bind /dev/${d} ${q(`${m}/dev/${d}`)}`);
    setup.push(
      `ln -s /proc/self/fd ${q(m + '/dev/fd')}; ln -s /proc/self/fd/0 ${q(m + '/dev/stdin')}; ln -s /proc/self/fd/1 ${q(m + '/dev/stdout')}; ln -s /proc/self/fd/2 ${q(m + '/dev/stderr')}`,
    );
    setup.push(`mkdir -p ${q(m + '/dev/pts')} ${q(m + '/dev/shm')}`);
    setup.push(`mount -t tmpfs -o mode=1777,size=65536k,nosuid,nodev,noexec shm ${q(m + '/dev/shm')}`);
  }
  // -t: the container's terminal appears inside as itself (/dev/pts/N) and as /dev/console, as in docker.
  const pty = spec.tty ? openPty() : null;
  if (pty && fs.existsSync(`${m}/dev`)) {
    for (const at of [pty[2], '/dev/console']) setup.push(`: > ${q(m + at)}; mount --bind ${q(pty[2])} ${q(m + at)}`);
  }
  // each over the file the image (or its init layer) has there: a bind needs a file to land on
  const etc: [string, string][] = [
    [spec.etc.hosts, '/etc/hosts'],
    [spec.etc.hostname, '/etc/hostname'],
    [spec.etc.resolv, '/etc/resolv.conf'],
  ];
  for (const [from, at] of etc) if (isFile(m + at)) setup.push(`mount --bind ${q(from)} ${q(m + at)}`);
  if (fs.existsSync(`${m}/sys`)) setup.push(`mount -t sysfs -o ro,nosuid,nodev,noexec sysfs ${q(m + '/sys')}`);
  for (const v of spec.mounts ?? []) setup.push(...mountLines(v));
  if (spec.network === 'none') setup.push('ip link set lo up 2>/dev/null || true');
  const inner = ['unshare', `--root=${m}`, `--wd=${spec.workdir}`];
  if (fs.existsSync(`${m}/proc`)) inner.push('--mount-proc');
  if (spec.user) {
    const [uid, gid] = ids(m, spec.user);
    inner.push(`--setgid=${gid}`, `--setuid=${uid}`);
  }
  inner.push('--', '/usr/bin/env', '-i', ...spec.env, ...spec.argv);
  // /usr/bin/env runs inside the new root: fall back to the command itself if the image has no env.
  if (!fs.existsSync(`${m}/usr/bin/env`)) inner.splice(inner.indexOf('/usr/bin/env'), 2 + spec.env.length);
  setup.push(`exec ${inner.map(q).join(' ')}`);
  const args = [
    '--mount',
    '--uts',
    '--ipc',
    '--pid',
    ...(spec.network === 'none' ? ['--net'] : []),
    '--fork',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    setup.join('\n'),
  ];
  // Into the container's cgroup before anything forks, so that every process of it is there.
  if (spec.cgroup)
    return runChild(
      '/bin/sh',
      ['-c', `echo $$ > ${q(spec.cgroup + '/cgroup.procs')} && exec "$@"`, 'sh', 'unshare', ...args],
      pty,
      onStart,
      spec.interactive,
      spec.io,
    );
  return runChild('unshare', args, pty, onStart, spec.interactive, spec.io);
}

/** The shell lines that make one volume, bind or tmpfs mount (docker binds recursively, rbind). */
function mountLines(v: HostMount): string[] {
  if (v.kind === 'tmpfs') {
    const opts = [`mode=${(v.mode ?? 0o1777).toString(8)}`, ...(v.size ? [`size=${v.size}`] : []), 'nosuid', 'nodev', ...(v.readOnly ? ['ro'] : [])];
    return [`mount -t tmpfs -o ${opts.join(',')} tmpfs ${q(v.target)}`];
  }
  const lines = [`mount --rbind ${q(v.source!)} ${q(v.target)}`];
  if (v.readOnly) lines.push(`mount -o remount,bind,ro ${q(v.target)}`);
  return lines;
}

/** Spawn with our stdio or `io` (or on the pty), resolve with the exit code, 128+N for a signal, as a shell reports it. */
function runChild(
  cmd: string,
  args: string[],
  pty: [number, number, string] | null,
  onStart?: (pid: number) => void,
  input = false,
  io?: ContainerIO,
): Promise<number> {
  const code = (c: number | null, sig: NodeJS.Signals | null) =>
    c ?? 128 + (sig ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 } as Record<string, number>)[sig] ?? 1) : 1);
  if (pty) {
    const r = runOnPty(pty, cmd, args, { input, io });
    if (r.child.pid) onStart?.(r.child.pid);
    return r.exited.then((e) => code(e.code, e.signal));
  }
  if (io) {
    const r = spawnRelayed(cmd, args, io, input);
    if (r.child.pid) onStart?.(r.child.pid);
    return r.exited.then((e) => code(e.code, e.signal));
  }
  const child = spawn(cmd, args, { stdio: [input ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
  if (child.pid) onStart?.(child.pid);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c, sig) => resolve(code(c, sig)));
  });
}

/** The container's PID 1 (in the host's numbering): the child of the `unshare --fork` we started. */
export function initPid(unsharePid: number): number | null {
  try {
    const kids = fs.readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : null;
  } catch {
    return null;
  }
}

/** Run a command inside a running container: its namespaces, its root and working dir. */
export function execInContainer(pid1: number, env: string[], argv: string[], tty = false, interactive = false): Promise<number> {
  const args = [
    '--target',
    String(pid1),
    '--mount',
    '--uts',
    '--ipc',
    '--pid',
    '--net', // the container's own with --network none; the host's, the same as ours, otherwise
    '--root',
    '--wd',
    '--',
    '/usr/bin/env',
    '-i',
    ...env,
    ...(tty && !env.some((e) => e.startsWith('TERM=')) ? [`TERM=${process.env.TERM || 'xterm'}`] : []),
    ...argv,
  ];
  return runChild('nsenter', args, tty ? openPty() : null, undefined, interactive);
}
