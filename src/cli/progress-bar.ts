// Drawing progress events (sys/progress) on a terminal: one live bar per item with cli-progress,
// cleared when the work ends. Output that is not a terminal gets no bars (and no escape codes).
import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';
import type { ProgressEvent, ProgressSink } from '../sys/progress.js';
import { humanSize } from './format.js';

const units = (e: ProgressEvent) => (e.unit ?? 'bytes') === 'bytes';

export interface ProgressBars {
  sink: ProgressSink;
  /** Remove the bars (call once the work is done, before printing its result). */
  stop(): void;
  /** A line of output above the bars (or just the line, without a terminal). */
  log(line: string): void;
}

/** Bars on `stream` if it is a terminal; otherwise a sink that draws nothing. */
export function progressBars(stream: NodeJS.WriteStream = process.stderr): ProgressBars {
  if (!stream.isTTY) return { sink: () => {}, stop: () => {}, log: (l) => void process.stdout.write(l + '\n') };
  // loaded for a terminal only: output to a file or pipe does without its start-up (~30 ms)
  const cliProgress: typeof cliProgressTypes = createRequire(import.meta.url)('cli-progress');
  const multi = new cliProgress.MultiBar(
    {
      stream,
      clearOnComplete: true,
      hideCursor: true,
      fps: 10,
      format: (options, params, payload: { label: string; amount: string }) => {
        const width = options.barsize ?? 30;
        const filled = params.total > 0 ? Math.round(Math.min(1, params.value / params.total) * width) : 0;
        const bar = params.total > 0 ? `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]` : '';
        return `${payload.label} ${bar} ${payload.amount}`;
      },
    },
    cliProgress.Presets.legacy,
  );
  const bars = new Map<string, cliProgressTypes.SingleBar>();
  const sink: ProgressSink = (e) => {
    const key = `${e.task}\0${e.item ?? ''}`;
    const amount = units(e) ? `${humanSize(e.done)}${e.total ? ` / ${humanSize(e.total)}` : ''}` : `${e.done}${e.total ? ` / ${e.total}` : ''} ${e.unit}`;
    const payload = { label: `${e.task}${e.item ? ` ${e.item}` : ''}`, amount };
    let bar = bars.get(key);
    if (!bar) {
      bar = multi.create(e.total ?? 0, e.done, payload);
      bars.set(key, bar);
    }
    if (e.total !== undefined) bar.setTotal(e.total);
    bar.update(e.done, payload);
    if (e.finished) {
      bar.stop();
      multi.remove(bar);
      bars.delete(key);
    }
  };
  return { sink, stop: () => multi.stop(), log: (l) => multi.log(l + '\n') };
}
