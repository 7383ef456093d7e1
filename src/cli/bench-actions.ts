// `strata bench IMAGE -- COMMAND...`: runs the union-filesystem bench (container/union-bench.ts)
// and prints its table, JSON or chart.
import fs from 'node:fs';
import { benchChart, benchImage, type BenchRow, type ImplName } from '../container/union-bench.js';
import { withStore } from './with-store.js';
import { humanSize, table } from './format.js';

const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

export function bench(image: string, cmd: string[], o: { runs?: string; cold?: boolean; format?: string; chart?: string; impl?: string }): Promise<void> {
  return withStore(async (s) => {
    const impls = o.impl ? (o.impl.split(',') as ImplName[]) : undefined;
    const human = o.format !== 'json';
    const r = await benchImage(s, image, cmd, {
      reps: o.runs === undefined ? 3 : Number(o.runs),
      cold: o.cold,
      impls,
      onRun: (x) => {
        if (human) process.stderr.write(`round ${x.round + 1}: ${x.impl} ${ms(x.wallMs)}\n`);
        // why a command failed, once per implementation
        if (x.exitCode && x.round === 0 && x.output)
          process.stderr.write(`strata: the command exited ${x.exitCode} on ${x.impl}; its last output:\n${x.output}\n`);
      },
    });
    if (o.chart) fs.writeFileSync(o.chart, benchChart(r));
    if (!human) return console.log(JSON.stringify(r, null, 2));
    const cell = (row: BenchRow) => [
      row.impl,
      ms(row.wallMs),
      row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x`,
      humanSize(row.upperBytes),
      String(row.copiedUp),
      row.copyUpMs === undefined ? '' : ms(row.copyUpMs),
      row.requests === undefined ? '' : String(row.requests),
      row.exitCodes.join(','),
    ];
    console.log(`${r.image}: ${r.command.join(' ')} (median of ${r.reps} rounds${r.cold ? ', page cache dropped before each run' : ''})\n`);
    process.stdout.write(table(['IMPLEMENTATION', 'WALL', '/ KERNEL', 'UPPER BYTES', 'COPIED UP', 'COPY-UP TIME', 'REQUESTS', 'EXIT'], r.rows.map(cell)));
  });
}
