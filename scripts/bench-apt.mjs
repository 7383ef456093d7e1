// scripts/bench-apt.mjs: `apt-get update && apt-get install -y nginx` in a Debian 12 (bookworm)
// minbase image, on kernel overlayfs, fuse-overlayfs, strata (default transport), strata
// --transport fuse-native and `strata run`, interleaved per round, in one run.
// Prints a markdown table of medians with ratios (also written to $BENCH_OUT if set); the
// individual times go to stderr.
//   cd /work/wt-fuse && BENCH_RUNS=3 node scripts/bench-apt.mjs
// Env: BENCH_RUNS (rounds, default 3), BENCH_DIR (where temp dirs go, default os.tmpdir()),
//      BENCH_CACHE (the cached rootfs, default /var/tmp/strata-bench-debian),
//      BENCH_TIMEOUT (seconds per workload run before it is killed, default 900),
//      BENCH_WARMUP=all (warm up every system, not only kernel overlayfs), BENCH_OUT.
// The network stays in the measurement (it is what users run): one untimed warm-up run comes
// first so the mirror (and any proxy between) is hot. Each round runs every system once, the
// order rotated by one system per round.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/bin/main.js');
const RUNS = Number(process.env.BENCH_RUNS || 3);
const TIMEOUT = Number(process.env.BENCH_TIMEOUT || 900) * 1000;
const CACHE = process.env.BENCH_CACHE || '/var/tmp/strata-bench-debian';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const WORKLOAD = 'apt-get update -qq && apt-get install -y -qq nginx';
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty']; // as `strata run` binds them

const log = (s) => process.stderr.write(s + '\n');
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const lastLines = (s, n = 3) =>
  String(s || '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
/** Run a bash command; throws an Error whose message is one line (the command's last stderr lines). */
function sh(cmd, { timeout = 0, env = process.env } = {}) {
  const r = spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: timeout || undefined, maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`${cmd.slice(0, 80)}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd.slice(0, 80)}: exit ${r.status ?? r.signal}: ${lastLines(r.stderr) || lastLines(r.stdout)}`);
  return r.stdout.toString();
}
const trySh = (cmd, opts) => {
  try {
    sh(cmd, opts);
    return true;
  } catch {
    return false;
  }
};
function fatal(msg) {
  log(`bench-apt: ${msg}`);
  cleanup();
  process.exit(1);
}

const t0All = process.hrtime.bigint();
const work = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'strata-bench-apt-'));
const strataRoot = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'strata-bench-apt-root-'));
const strataEnv = { ...process.env, STRATA_ROOT: strataRoot };

// ---- mounts: the table of what we mounted, and their teardown ------------------------------------
/** Mount points below our temp dirs, from /proc/self/mountinfo (deepest first), with their dev. */
function ourMounts() {
  const out = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mnt = f[4].replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    const fstype = f[f.indexOf('-') + 1];
    if (mnt.startsWith(work + '/') || mnt.startsWith(strataRoot + '/')) out.push({ mnt, dev: f[2], fstype });
  }
  return out.sort((a, b) => b.mnt.length - a.mnt.length);
}
const mounted = (mnt) => ourMounts().some((m) => m.mnt === mnt);
/** Abort the FUSE connection of a mount (its dir in /sys/fs/fuse/connections is the anonymous dev's minor). */
function abortFuse(mnt) {
  const m = ourMounts().find((x) => x.mnt === mnt);
  if (!m || !m.fstype.startsWith('fuse')) return;
  const [maj, min] = m.dev.split(':').map(Number);
  const n = maj === 0 ? min : (maj << 20) | min;
  try {
    fs.writeFileSync(`/sys/fs/fuse/connections/${n}/abort`, '1');
    log(`bench-apt: aborted the FUSE connection ${n} of ${mnt}`);
  } catch (e) {
    log(`bench-apt: could not abort the FUSE connection of ${mnt}: ${e.message}`);
  }
}
const waitGone = (mnt, ms) => {
  const end = Date.now() + ms;
  while (mounted(mnt) && Date.now() < end) spawnSync('sleep', ['0.05']);
  return !mounted(mnt);
};
/** Unmount by every means, the polite one first; never throws. */
function umountAny(mnt, polite) {
  if (!mounted(mnt)) return;
  if (polite && trySh(polite, { timeout: 60_000 }) && waitGone(mnt, 10_000)) return;
  const fstype = ourMounts().find((x) => x.mnt === mnt)?.fstype ?? '';
  if (fstype.startsWith('fuse')) {
    if (trySh(`fusermount3 -u ${q(mnt)}`, { timeout: 30_000 }) && waitGone(mnt, 10_000)) return;
    abortFuse(mnt);
  } else if (trySh(`umount ${q(mnt)}`, { timeout: 30_000 })) return;
  if (!trySh(`umount -l ${q(mnt)}`, { timeout: 30_000 })) log(`bench-apt: could not unmount ${mnt}`);
}
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const m of ourMounts()) umountAny(m.mnt, null);
  for (const d of [work, strataRoot]) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch (e) {
      log(`bench-apt: could not remove ${d}: ${e.message}`);
    }
  }
}
process.on('SIGINT', () => fatal('interrupted'));
process.on('SIGTERM', () => fatal('terminated'));

// ---- the systems ------------------------------------------------------------------------------------
const strata = (flags) => ({
  mount: (lower, u, w, mnt) =>
    sh(`node ${q(CLI)} mount ${flags} --lower ${q(lower)} --upper ${q(u)} --work ${q(w)} ${q(mnt)}`, { env: strataEnv, timeout: 300_000 }),
  umount: (mnt) => umountAny(mnt, `node ${q(CLI)} umount ${q(mnt)}`),
});
const systems = {
  kernel: {
    label: 'kernel overlayfs',
    mount: (lower, u, w, mnt) => sh(`mount -t overlay overlay -o lowerdir=${lower},upperdir=${u},workdir=${w} ${q(mnt)}`),
    umount: (mnt) => umountAny(mnt, `umount ${q(mnt)}`),
  },
  'fuse-overlayfs': {
    label: 'fuse-overlayfs',
    mount: (lower, u, w, mnt) => sh(`fuse-overlayfs -o lowerdir=${lower},upperdir=${u},workdir=${w} ${q(mnt)}`, { timeout: 60_000 }),
    umount: (mnt) => umountAny(mnt, `fusermount3 -u ${q(mnt)}`),
  },
  strata: { label: 'strata', ...strata('') },
  'strata fuse-native': { label: 'strata --transport fuse-native', ...strata('--transport fuse-native') },
  'strata run': { label: '`strata run --rm debian:12 sh -c …`', run: true },
};

/**
 * The container for the mounted systems: what `strata run` sets up (src/container/runtime.ts), so
 * that all five rows run the same thing: new mount, UTS, IPC and PID namespaces; a tmpfs /dev with
 * the host's null, zero, full, random, urandom and tty bound in; the host's /etc/resolv.conf bound
 * over the image's; a new /proc; chroot; `env -i` with PATH and DEBIAN_FRONTEND. The binds live in
 * the private mount namespace only, so they vanish with it and nothing of them lands in the upper dir.
 */
function containerCmd(m) {
  const setup = ['set -e', 'hostname bench'];
  setup.push(`mount -t tmpfs -o mode=755,size=65536k,nosuid bench-dev ${q(m + '/dev')}`);
  for (const d of DEVICES) setup.push(`: > ${q(`${m}/dev/${d}`)}; mount --bind /dev/${d} ${q(`${m}/dev/${d}`)}`);
  setup.push(
    `ln -s /proc/self/fd ${q(m + '/dev/fd')}; ln -s /proc/self/fd/0 ${q(m + '/dev/stdin')}; ln -s /proc/self/fd/1 ${q(m + '/dev/stdout')}; ln -s /proc/self/fd/2 ${q(m + '/dev/stderr')}`,
  );
  setup.push(`mkdir -p ${q(m + '/dev/pts')} ${q(m + '/dev/shm')}`);
  setup.push(`mount --bind /etc/resolv.conf ${q(m + '/etc/resolv.conf')}`);
  const inner = [
    'unshare',
    `--root=${m}`,
    '--wd=/',
    '--mount-proc',
    '--',
    '/usr/bin/env',
    '-i',
    PATH_ENV,
    'DEBIAN_FRONTEND=noninteractive',
    '/bin/sh',
    '-c',
    WORKLOAD,
  ];
  setup.push(`exec ${inner.map(q).join(' ')}`);
  return ['unshare', ['--mount', '--uts', '--ipc', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--', '/bin/sh', '-c', setup.join('\n')]];
}
const runCmd = () => ['node', [CLI, 'run', '--rm', '-e', 'DEBIAN_FRONTEND=noninteractive', 'debian:12', 'sh', '-c', WORKLOAD]];

/** Time one command from start to exit; throws with its last output lines on failure. */
function timed([cmd, argv], env = process.env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: TIMEOUT, killSignal: 'SIGKILL', maxBuffer: 256 << 20 });
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error?.code === 'ETIMEDOUT' || (r.signal && t * 1000 >= TIMEOUT))
    throw new Error(`timed out after ${TIMEOUT / 1000} s: ${lastLines(r.stderr) || lastLines(r.stdout)}`);
  if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal}: ${lastLines(r.stderr) || lastLines(r.stdout)}`);
  return t;
}

let seq = 0;
/** One run of the workload on one system, on a fresh upper/work dir (or a fresh container). */
function runOnce(name, lower) {
  const s = systems[name];
  sh('sync');
  if (s.run) {
    try {
      return timed(runCmd(), strataEnv);
    } finally {
      // A killed `strata run` may leave its mount and container behind.
      for (const m of ourMounts()) umountAny(m.mnt, `node ${q(CLI)} umount ${q(m.mnt)}`);
      trySh(`node ${q(CLI)} ps -aq | xargs -r node ${q(CLI)} rm -f`, { env: strataEnv, timeout: 60_000 });
    }
  }
  const d = `${work}/run${seq++}`;
  for (const x of ['upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
  const mnt = `${d}/mnt`;
  try {
    s.mount(lower, `${d}/upper`, `${d}/work`, mnt);
    if (!fs.existsSync(`${mnt}/bin/sh`)) throw new Error(`${mnt}/bin/sh missing after the mount`);
    try {
      return timed(containerCmd(mnt));
    } catch (e) {
      if (/timed out/.test(e.message)) abortFuse(mnt);
      throw e;
    }
  } finally {
    s.umount(mnt);
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch (e) {
      log(`bench-apt: could not remove ${d}: ${e.message}`);
    }
  }
}

// ---- the image -------------------------------------------------------------------------------------
/** The bookworm mirror from /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}. */
function mirror() {
  const files = [
    '/etc/apt/sources.list',
    ...(fs.existsSync('/etc/apt/sources.list.d') ? fs.readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`) : []),
  ];
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, 'utf8');
    if (f.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1].trim().split(/\s+/) ?? [];
        if (field('Enabled')[0]?.toLowerCase() === 'no' || !field('Types').includes('deb')) continue;
        if (field('Suites').includes('bookworm')) return field('URIs')[0];
      }
    } else if (f.endsWith('.list') || f === '/etc/apt/sources.list') {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
        if (m) return m[1];
      }
    }
  }
  return null;
}
function rootfs() {
  const dir = `${CACHE}/rootfs`,
    done = `${CACHE}/done`;
  if (fs.existsSync(done)) {
    log(`bench-apt: using the cached rootfs ${dir}`);
    return dir;
  }
  const url = mirror();
  if (!url) fatal('no bookworm mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/');
  if (!fs.existsSync('/usr/sbin/debootstrap')) {
    log('bench-apt: installing debootstrap');
    try {
      if (!trySh('DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap', { timeout: 600_000 }))
        sh('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap', { timeout: 600_000 });
    } catch (e) {
      fatal(`could not install debootstrap: ${e.message}`);
    }
  }
  log(`bench-apt: debootstrap --variant=minbase bookworm ${dir} ${url}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(CACHE, { recursive: true });
  const t0 = Date.now();
  try {
    sh(`debootstrap --variant=minbase bookworm ${q(dir)} ${q(url)}`, { timeout: 1800_000 });
  } catch (e) {
    fatal(`debootstrap failed: ${e.message}`);
  }
  // Every row binds the host's resolv.conf over the image's: make sure there is one to bind over.
  if (!fs.existsSync(`${dir}/etc/resolv.conf`)) fs.writeFileSync(`${dir}/etc/resolv.conf`, '');
  sh(`chroot ${q(dir)} apt-get clean`);
  fs.writeFileSync(done, `${new Date().toISOString()} ${url}\n`);
  log(`bench-apt: rootfs made in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return dir;
}

// ---- main --------------------------------------------------------------------------------------------
const results = {}; // name -> { times: [], errors: [] }
try {
  for (const tool of ['unshare', 'fuse-overlayfs', 'fusermount3', 'chroot']) if (!trySh(`command -v ${tool}`)) fatal(`${tool} not found`);
  if (!fs.existsSync(CLI)) fatal(`${CLI} missing: build with npx tsc -p tsconfig.json`);
  const dir = rootfs();
  try {
    sh(`node ${q(CLI)} import ${q(dir)} --tag debian:12 -c ${q(`ENV ${PATH_ENV}`)}`, { env: strataEnv, timeout: 900_000 });
  } catch (e) {
    fatal(`strata import failed: ${e.message}`);
  }
  const diffIds = JSON.parse(sh(`node ${q(CLI)} inspect debian:12`, { env: strataEnv }))[0].RootFS.Layers;
  if (diffIds.length !== 1) fatal(`expected one layer in debian:12, found ${diffIds.length}`);
  const lower = `${strataRoot}/layers/${diffIds[0].replace(/^sha256:/, '')}`;
  if (!fs.existsSync(`${lower}/bin/sh`)) fatal(`layer dir ${lower} has no /bin/sh`);
  log(`bench-apt: lower ${lower}, STRATA_ROOT ${strataRoot}, ${RUNS} rounds`);
  // A first strata mount of the layer (untimed), so that its index is there before any timed run.
  {
    const d = `${work}/index-warm`;
    fs.mkdirSync(`${d}/mnt`, { recursive: true });
    try {
      sh(`node ${q(CLI)} mount --lower ${q(lower)} ${q(d + '/mnt')}`, { env: strataEnv, timeout: 600_000 });
    } finally {
      umountAny(`${d}/mnt`, `node ${q(CLI)} umount ${q(d + '/mnt')}`);
    }
  }

  const names = Object.keys(systems);
  for (const n of names) results[n] = { times: [], errors: [] };
  const warmups = process.env.BENCH_WARMUP === 'all' ? names : ['kernel'];
  for (const n of warmups) {
    try {
      log(`warm-up (untimed) / ${n}: ${runOnce(n, lower).toFixed(1)} s`);
    } catch (e) {
      log(`warm-up (untimed) / ${n}: FAILED: ${e.message}`);
      if (n === 'kernel') fatal(`the workload fails even on kernel overlayfs (network or image problem): ${e.message}`);
    }
  }
  for (let r = 0; r < RUNS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const n of order) {
      try {
        const t = runOnce(n, lower);
        results[n].times.push(t);
        log(`round ${r + 1} / ${n}: ${t.toFixed(2)} s`);
      } catch (e) {
        const msg = e.message.replace(/\s+/g, ' ').trim();
        results[n].errors.push(msg);
        log(`round ${r + 1} / ${n}: FAILED: ${msg}`);
      }
    }
  }
} catch (e) {
  fatal(e.message.split('\n')[0]);
} finally {
  cleanup();
}

// ---- report ---------------------------------------------------------------------------------------------
const median = (a) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] : undefined);
const fmt = (s) => `${s.toFixed(1)} s`;
const ratio = (a, b) => (a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}x`);
const med = Object.fromEntries(Object.entries(results).map(([n, r]) => [n, median(r.times)]));
const failNote = (n) =>
  results[n].errors.length
    ? ` (${results[n].errors.length}/${RUNS} failed${results[n].times.length ? '' : `: ${results[n].errors[0].replace(/\|/g, '\\|')}`})`
    : '';
const cell = (n) => (med[n] === undefined ? `failed: ${results[n].errors[0]?.replace(/\|/g, '\\|') ?? 'not run'}` : `${fmt(med[n])}${failNote(n)}`);
const cellK = (n) => (med[n] === undefined ? cell(n) : `${cell(n)} (${ratio(med[n], med.kernel)})`);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const total = Number(process.hrtime.bigint() - t0All) / 1e9;
let out = `\`apt-get update && apt-get install -y nginx\` in a Debian 12 minbase image (debootstrap), medians of ${RUNS} rounds, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}.\n`;
out += `Network kept in the measurement (the mirror is fetched every run, as users run it); one untimed warm-up run (${process.env.BENCH_WARMUP === 'all' ? 'every system' : 'kernel overlayfs'}) first so the mirror and any proxy cache are hot. `;
out += `Rounds interleave the systems (each once per round, order rotated per round); each run on a fresh upper/work dir over the imported layer dir; timed from start to exit of the container (mount and unmount not timed, except in \`strata run\`, which mounts, runs and removes its container). `;
out += `All rows run the same container setup as \`strata run\`: new mount/UTS/IPC/PID namespaces, a tmpfs /dev with the host's null/zero/full/random/urandom/tty bound in, the host's /etc/resolv.conf bound in, a new /proc, chroot.\n\n`;
out +=
  '| workload | kernel overlayfs | fuse-overlayfs | strata | strata / kernel | strata / fuse-overlayfs | strata fuse-native (/ kernel) | strata run (/ kernel) |\n|---|---|---|---|---|---|---|---|\n';
out += `| \`apt-get update && apt-get install -y nginx\` | ${cell('kernel')} | ${cell('fuse-overlayfs')} | ${cell('strata')} | ${ratio(med.strata, med.kernel)} | ${ratio(med.strata, med['fuse-overlayfs'])} | ${cellK('strata fuse-native')} | ${cellK('strata run')} |\n`;
for (const [n, r] of Object.entries(results))
  log(`${n}: ${r.times.map((x) => x.toFixed(2)).join(' ')} s${r.errors.length ? `; failures: ${r.errors.join(' ;; ')}` : ''}`);
log(`bench-apt: whole script ${total.toFixed(0)} s`);
process.stdout.write(out);
if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, out);
