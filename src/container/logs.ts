// docker logs: what a detached container wrote (its supervisor's log), from the last `tail` lines,
// and with `follow`, what it writes next, until it stops.
import fs from 'node:fs';
import { refuse } from '../sys/errors.js';
import type { ContainerRecord } from '../store/store.js';
import { running, type ContainerContext } from './context.js';

export interface LogOptions {
  follow?: boolean;
  /** A number of lines, or "all". */
  tail?: string;
}

/** The log's bytes in chunks; none for a container never started in the background. */
export async function* readLog(k: ContainerContext, c: ContainerRecord, o: LogOptions): AsyncGenerator<Buffer> {
  const file = k.s.containerPaths(c.id).log;
  if (!fs.existsSync(file)) return;
  let pos = 0;
  if (o.tail !== undefined && o.tail !== 'all') {
    const n = Number(o.tail);
    if (!Number.isInteger(n) || n < 0) refuse('invalid', `--tail takes a number of lines or "all", not "${o.tail}"`);
    pos = tailStart(fs.readFileSync(file), n);
  }
  const fd = fs.openSync(file, 'r');
  try {
    for (;;) {
      // A fresh buffer per chunk: the reader may hold on to it while we read the next.
      for (let buf = Buffer.alloc(1 << 16), n; (n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0; buf = Buffer.alloc(1 << 16)) {
        pos += n;
        yield buf.subarray(0, n);
      }
      if (!o.follow || !running(k.fresh(c))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Where the last `n` lines of `text` begin (a final newline ends the last line; it starts none). */
function tailStart(text: Buffer, n: number): number {
  const end = text.length > 0 && text[text.length - 1] === 0x0a ? text.length - 1 : text.length;
  let count = 0;
  for (let i = end - 1; i >= 0; i--) if (text[i] === 0x0a && ++count === n) return i + 1;
  return n === 0 ? text.length : 0;
}
