// A stream's bytes counted as progress events on their way through.
import { Transform, type Readable } from 'node:stream';
import type { ProgressSink } from '../sys/progress.js';

/** `src` as it is, reporting `task`/`item` progress (bytes, out of `total` when known) per chunk and once at the end. */
export function counted(src: Readable, sink: ProgressSink, task: string, item?: string, total?: number): Readable {
  let done = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      sink({ task, item, done, total, unit: 'bytes' });
      cb(null, chunk);
    },
    flush(cb) {
      sink({ task, item, done, total: total ?? done, unit: 'bytes', finished: true });
      cb();
    },
  });
  src.on('error', (err) => t.destroy(err));
  return src.pipe(t);
}
