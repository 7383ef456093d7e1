// `strata bench IMAGE -- COMMAND`: the user's own workload over each union filesystem here. Each
// run is a fresh container of IMAGE (its layers, its init layer, an empty upper dir) mounted with
// one implementation, the command run in it as `strata run` runs it, then the upper dir measured.
// Runs interleave (every implementation once per round, the order rotating), so that a machine
// slowing down mid-bench weighs on all alike.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { refuse } from '../sys/errors.js';
import { removeTree } from '../sys/remove-tree.js';
import { walkOverlay } from '../sys/overlay-walk.js';
import { findMount, unmount } from '../fuse/mounts.js';
import { startDaemon } from '../fuse/start-daemon.js';
import { preflight } from '../fuse/preflight.js';
import { askDaemon } from '../fuse/control.js';
import { Union } from '../union/union.js';
import { statOrNull } from '../union/stat-or-null.js';
import type { Store } from '../store/store.js';
import { initLayer } from './init-layer.js';
import { containerEtc, runInContainer, runSpecOf } from './runtime.js';
import type { ContainerIO } from './container-io.js';

export type ImplName = 'overlayfs' | 'fuse-overlayfs' | 'strata' | 'strata-fuse-native';

export interface BenchOptions {
  /** Rounds (default 3). */
  reps?: number;
  /** Drop the page cache before each run. */
  cold?: boolean;
  /** Only these implementations (default: every one available). */
  impls?: ImplName[];
  /** Told after each run. */
  onRun?: (r: BenchRun) => void;
  /** Where runs keep their dirs (default: the store's tmp dir). */
  dir?: string;
}

export interface BenchRun {
  impl: ImplName;
  round: number;
  wallMs: number;
  exitCode: number;
  /** Bytes of regular files in the upper dir after the run. */
  upperBytes: number;
  /** Files and symlinks in the upper dir that a lower layer has too: what was copied up. */
  copiedUp: number;
  /** strata only, from its daemon's counters (when it has them). */
  copyUpMs?: number;
  requests?: number;
  /** A failed run's last output (4 KiB at most), for the person to see why. */
  output?: string;
}

export interface BenchRow {
  impl: ImplName;
  wallMs: number;
  /** Median wall time over the kernel's, when overlayfs ran. */
  ratio?: number;
  upperBytes: number;
  copiedUp: number;
  copyUpMs?: number;
  requests?: number;
  exitCodes: number[];
}

export interface BenchResult {
  image: string;
  command: string[];
  reps: number;
  cold: boolean;
  rows: BenchRow[];
  runs: BenchRun[];
}

/** A strata mount's copy-up time and request count, from its daemon's counters (`strata stats`); nothing if it does not answer. */
async function strataFigures(mountpoint: string): Promise<{ copyUpMs?: number; requests?: number }> {
  try {
    const st = (await askDaemon(mountpoint)) as { copyUps?: { us: number }; requests?: Record<string, { count: number }> };
    const requests = Object.entries(st.requests ?? {})
      .filter(([op]) => op !== 'INIT')
      .reduce((n, [, r]) => n + r.count, 0);
    return { copyUpMs: (st.copyUps?.us ?? 0) / 1000, requests };
  } catch {
    return {};
  }
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** The implementations this host can run: kernel overlayfs always (we run as root), fuse-overlayfs if installed, strata's two transports. */
export function availableImpls(): ImplName[] {
  return ['overlayfs', ...(has('fuse-overlayfs') ? (['fuse-overlayfs'] as const) : []), 'strata', 'strata-fuse-native'];
}

function mountWith(impl: ImplName, lowers: string[], upper: string, work: string, mnt: string): void {
  const opts = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
  if (impl === 'overlayfs') execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
  else if (impl === 'fuse-overlayfs') execFileSync('fuse-overlayfs', ['-o', opts, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
  else startDaemon(preflight({ lowers, upper, work, mountpoint: mnt }), { index: true, transport: impl === 'strata' ? 'kernel' : 'fuse-native' });
}

/** Regular files' bytes in an upper dir, and how many of its files and symlinks a lower layer has too. */
function measureUpper(upper: string, lower: Union): { upperBytes: number; copiedUp: number } {
  let upperBytes = 0;
  let copiedUp = 0;
  for (const e of walkOverlay(upper)) {
    if (e.dir || e.whiteout) continue;
    upperBytes += e.st.size;
    if (statOrNull(lower, '/' + e.rel)) copiedUp++;
  }
  return { upperBytes, copiedUp };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** The command's output is not the bench's: kept, the last 4 KiB, for the sentence of a failed run. */
function quietIO(): ContainerIO & { tail(): string } {
  let last = Buffer.alloc(0);
  return {
    size: () => undefined,
    output: (d) => {
      last = Buffer.concat([last, d]).subarray(-4096);
    },
    connect: () => () => {},
    tail: () => last.toString('utf8'),
  };
}

export async function benchImage(s: Store, ref: string, cmd: string[], o: BenchOptions = {}): Promise<BenchResult> {
  const img = s.image(ref);
  const spec = runSpecOf(s.config(img).config, { cmd });
  const reps = o.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1) refuse('invalid', `-n ${reps}: the number of rounds must be a whole number, at least 1`);
  const avail = availableImpls();
  const impls = o.impls ?? avail;
  for (const i of impls) if (!avail.includes(i)) refuse('invalid', `${i} is not available here (available: ${avail.join(', ')})`);
  const init = initLayer(s, img);
  const lowers = [...(init ? [init] : []), ...s.lowers(img)];
  const lowerView = new Union({ lowers: s.lowers(img) });
  const base = o.dir ?? s.tmpPath('bench');
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const runs: BenchRun[] = [];
  let mounted: string | null = null;
  const onSignal = () => {
    if (mounted && findMount(mounted)) unmount(mounted, { force: true });
    removeTree(base);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    for (let round = 0; round < reps; round++) {
      // the order rotates each round: none is always first after the cache drop or a warm-up
      const order = impls.map((_, i) => impls[(i + round) % impls.length]);
      for (const impl of order) {
        const dir = path.join(base, `${impl}-${round}`);
        const [upper, work, mnt] = ['upper', 'work', 'merged'].map((d) => path.join(dir, d));
        for (const d of [upper, work, mnt]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
        if (o.cold) execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches']);
        mountWith(impl, lowers, upper, work, mnt);
        mounted = mnt;
        const io = quietIO();
        let exitCode: number;
        let wallMs: number;
        let stats: { copyUpMs?: number; requests?: number } | undefined;
        try {
          const etc = containerEtc(dir, 'strata-bench');
          const t0 = process.hrtime.bigint();
          exitCode = await runInContainer({ merged: mnt, hostname: 'strata-bench', etc, io, ...spec });
          wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
          stats = impl.startsWith('strata') ? await strataFigures(mnt) : undefined;
        } finally {
          try {
            unmount(mnt);
          } catch {
            unmount(mnt, { force: true }); // something the command left behind holds it
          }
          mounted = null;
        }
        const run: BenchRun = {
          impl,
          round,
          wallMs,
          exitCode,
          ...measureUpper(upper, lowerView),
          ...(stats ?? {}),
          ...(exitCode ? { output: io.tail() } : {}),
        };
        runs.push(run);
        o.onRun?.(run);
        removeTree(dir);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    removeTree(base);
  }
  const kernel = impls.includes('overlayfs') ? median(runs.filter((r) => r.impl === 'overlayfs').map((r) => r.wallMs)) : undefined;
  const rows = impls.map((impl): BenchRow => {
    const mine = runs.filter((r) => r.impl === impl);
    const wallMs = median(mine.map((r) => r.wallMs));
    const opt = (k: 'copyUpMs' | 'requests') => (mine.every((r) => r[k] !== undefined) ? { [k]: median(mine.map((r) => r[k]!)) } : {});
    return {
      impl,
      wallMs,
      ...(kernel ? { ratio: wallMs / kernel } : {}),
      upperBytes: median(mine.map((r) => r.upperBytes)),
      copiedUp: median(mine.map((r) => r.copiedUp)),
      ...opt('copyUpMs'),
      ...opt('requests'),
      exitCodes: [...new Set(mine.map((r) => r.exitCode))],
    };
  });
  return { image: ref, command: spec.argv, reps, cold: !!o.cold, rows, runs };
}

/** A bar chart of the median wall times, as an SVG document. */
export function benchChart(r: BenchResult): string {
  const w = 640;
  const bar = 28;
  const left = 170;
  const max = Math.max(...r.rows.map((x) => x.wallMs), 1);
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const title = esc(`${r.image}: ${r.command.join(' ')}`.slice(0, 90));
  const rows = r.rows.map((x, i) => {
    const y = 40 + i * (bar + 10);
    const len = Math.max(1, ((w - left - 120) * x.wallMs) / max);
    const label = `${x.wallMs.toFixed(0)} ms${x.ratio !== undefined ? ` (${x.ratio.toFixed(2)}x)` : ''}`;
    return (
      `<text x="${left - 8}" y="${y + bar * 0.65}" text-anchor="end">${x.impl}</text>` +
      `<rect x="${left}" y="${y}" width="${len.toFixed(1)}" height="${bar}" fill="${x.impl.startsWith('strata') ? '#2b7bb9' : '#999'}"/>` +
      `<text x="${(left + len + 6).toFixed(1)}" y="${y + bar * 0.65}">${label}</text>`
    );
  });
  const h = 50 + r.rows.length * (bar + 10);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="13"><text x="10" y="22" font-weight="bold">${title} (median of ${r.reps}${r.cold ? ', cold' : ''})</text>${rows.join('')}</svg>\n`;
}
