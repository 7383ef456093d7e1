// What `strata mount --trace` costs: `touch` of N lower files (N metadata copy-ups, N trace lines)
// through a strata mount with and without --trace, interleaved, on a fresh tmpfs (so that the
// daemon's own work, not the disk, is what is measured). Prints each run and the medians of the
// wall time of the touch and of the daemon's CPU time (user + system, from /proc: steadier than the
// wall time on a busy machine).
//   node scripts/bench-trace.mjs [FILES] [RUNS]   (as root, after scripts/bootstrap; default 10000 files, 5 runs)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/bin/main.js');
const files = Number(process.argv[2] ?? 10000);
const runs = Number(process.argv[3] ?? 5);

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-tracebench-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2g', 'tmpfs', base]);
const env = { ...process.env, STRATA_ROOT: `${base}/root` };
const strata = (...args) => execFileSync(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
try {
  fs.mkdirSync(`${base}/lower/files`, { recursive: true });
  for (let i = 0; i < files; i++) fs.writeFileSync(`${base}/lower/files/f${i}`, `file ${i}\n`);
  const names = fs.readdirSync(`${base}/lower/files`);
  const once = (trace, i) => {
    const d = `${base}/run${i}`;
    for (const x of ['upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
    strata('mount', '--lower', `${base}/lower`, '--upper', `${d}/upper`, '--work', `${d}/work`, ...(trace ? ['--trace', `${d}/trace.jsonl`] : []), `${d}/mnt`);
    const t0 = process.hrtime.bigint();
    execFileSync('touch', names, { cwd: `${d}/mnt/files` });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const { pid } = JSON.parse(execFileSync(process.execPath, [CLI, 'stats', '--format', 'json', `${d}/mnt`], { env, encoding: 'utf8' }));
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const cpuMs = ((Number(stat[11]) + Number(stat[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
    strata('umount', `${d}/mnt`);
    while (fs.readdirSync(`${base}/root/run`).length > 0) execFileSync('sleep', ['0.05']); // the daemon has exited, its trace written
    const lines = trace ? fs.readFileSync(`${d}/trace.jsonl`, 'utf8').split('\n').length - 1 : 0;
    fs.rmSync(d, { recursive: true, force: true });
    return { ms, cpuMs, lines };
  };
  once(false, 'warm'); // builds the path index of the lower dir
  const times = { off: [], on: [] };
  const cpu = { off: [], on: [] };
  for (let r = 0; r < runs; r++) {
    for (const trace of r % 2 ? [true, false] : [false, true]) {
      const { ms, cpuMs, lines } = once(trace, `${r}-${trace}`);
      times[trace ? 'on' : 'off'].push(ms);
      cpu[trace ? 'on' : 'off'].push(cpuMs);
      console.log(
        `run ${r + 1} ${trace ? 'with' : 'without'} --trace: ${ms.toFixed(0)} ms, daemon CPU ${cpuMs.toFixed(0)} ms${trace ? ` (${lines} lines)` : ''}`,
      );
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const line = (what, x) => {
    const [off, on] = [median(x.off), median(x.on)];
    const diff = `${(((on - off) / off) * 100).toFixed(1)}%, ${(((on - off) * 1000) / files).toFixed(1)} µs a copy-up`;
    console.log(`${what}, median of ${runs}: ${off.toFixed(0)} ms without --trace, ${on.toFixed(0)} ms with (${diff})`);
  };
  line(`touch of ${files} lower files, wall`, times);
  line(`the daemon's CPU time`, cpu);
} finally {
  execFileSync('umount', ['-l', base]);
  fs.rmSync(base, { recursive: true, force: true });
}
