// The copy-up trace (`strata mount --trace FILE`): one JSON line per copy-up, whiteout, opaque dir
// and redirect, with the pid and command of the process whose request caused it. The request path
// only formats a line into memory; the lines are written asynchronously every 100 ms or at 64 KiB,
// and at exit. If the disk falls behind, lines beyond 8 MiB waiting are dropped and counted.
import fs from 'node:fs';
import type { MountStats, TraceEvent } from '../union/stats.js';

const FLUSH_MS = 100;
const FLUSH_BYTES = 64 << 10;
const MAX_PENDING = 8 << 20;

const q = JSON.stringify;

/** An event's fields as JSON, written out by hand: this runs on the request path, once per event. */
function fieldsOf(e: TraceEvent): string {
  if (e.event === 'copy-up') {
    const c = e.copy;
    const layer = `{"index":${c.layer.index},"dir":${q(c.layer.dir)}}`;
    return `"event":"copy-up","path":${q(c.path)},"layer":${layer},"size":${c.size},"bytes":${c.bytes},"method":"${c.method}","reason":"${c.reason}","parent":${c.parent},"us":${Math.round(c.us)}`;
  }
  if (e.event === 'redirect') return `"event":"redirect","path":${q(e.path)},"target":${q(e.target)}`;
  return `"event":"${e.event}","path":${q(e.path)}`;
}

export class TraceFile {
  private fd: number;
  /** Where the next chunk goes: chunks are written at known offsets, so exit can write an unfinished one again. */
  private pos: number;
  private lines: string[] = [];
  private bytes = 0;
  private inFlight: { data: Buffer; pos: number; lines: number } | null = null;
  private comms = new Map<number, string>();
  private timer: NodeJS.Timeout;
  private written = { lines: 0, bytes: 0 };
  private dropped = 0;
  private failed: string | null = null;

  /** Opens (creates, mode 0600, or appends to) `file` and hears of every event of `stats`; throws a sentence if it cannot. */
  constructor(
    readonly file: string,
    private stats: MountStats,
  ) {
    try {
      this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
    } catch (err) {
      throw new Error(`cannot write the trace to ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    this.pos = fs.fstatSync(this.fd).size;
    this.timer = setInterval(() => {
      this.comms.clear(); // pids are reused: a name is trusted for one interval
      this.flush();
    }, FLUSH_MS);
    this.timer.unref();
    stats.onEvent = (e) => this.add(e);
  }

  private add(e: TraceEvent): void {
    if (this.bytes + (this.inFlight?.data.length ?? 0) >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    const pid = this.stats.pid;
    const line = `{"time":"${new Date().toISOString()}",${fieldsOf(e)},"pid":${pid},"comm":${q(this.comm(pid))}}\n`;
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  /** The command name of `pid` (its /proc comm), read while its request is served: the process may be gone later. */
  private comm(pid: number): string {
    if (pid <= 0) return '';
    let c = this.comms.get(pid);
    if (c === undefined) {
      try {
        c = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
      } catch {
        c = '';
      }
      this.comms.set(pid, c);
    }
    return c;
  }

  private take(): { data: Buffer; pos: number; lines: number } | null {
    if (this.lines.length === 0) return null;
    const chunk = { data: Buffer.from(this.lines.join('')), pos: this.pos, lines: this.lines.length };
    this.pos += chunk.data.length;
    this.lines = [];
    this.bytes = 0;
    return chunk;
  }

  /** Start writing what is buffered, unless a write is under way (its end starts the next). */
  private flush(): void {
    if (this.inFlight || this.failed) return;
    const chunk = this.take();
    if (!chunk) return;
    this.inFlight = chunk;
    const write = (off: number) =>
      fs.write(this.fd, chunk.data, off, chunk.data.length - off, chunk.pos + off, (err, n) => {
        if (err) {
          this.failed = `${err.code ?? err.message}`;
          this.dropped += chunk.lines + this.lines.length;
          this.lines = [];
          this.bytes = 0;
          this.inFlight = null;
          return;
        }
        if (off + n < chunk.data.length) return write(off + n);
        this.written.lines += chunk.lines;
        this.written.bytes += chunk.data.length;
        this.inFlight = null;
        if (this.bytes >= FLUSH_BYTES) this.flush();
      });
    write(0);
  }

  /** For `strata stats`. */
  status() {
    return {
      file: this.file,
      linesWritten: this.written.lines,
      bytesWritten: this.written.bytes,
      linesWaiting: this.lines.length + (this.inFlight?.lines ?? 0),
      dropped: this.dropped,
      error: this.failed,
    };
  }

  /** At exit (no request is served any more): everything still in memory written now, a chunk under way again at its own offset. */
  closeSync(): void {
    clearInterval(this.timer);
    this.stats.onEvent = null;
    if (this.failed) return;
    try {
      for (const chunk of [this.inFlight, this.take()]) {
        if (!chunk) continue;
        let off = 0;
        while (off < chunk.data.length) off += fs.writeSync(this.fd, chunk.data, off, chunk.data.length - off, chunk.pos + off);
      }
      fs.closeSync(this.fd);
    } catch {
      /* the disk is full or gone: nothing more to do at exit */
    }
    this.inFlight = null;
  }
}
