// The copy-up trace (`strata mount --trace FILE`): one JSON line per copy-up, whiteout, opaque dir
// and redirect, with the pid and command of the process whose request caused it. The request path
// only keeps the event, its time and its process (whose name must be read while it lives); lines
// are formatted and written asynchronously every 100 ms or 256 events, and at exit. If the disk
// falls behind, events beyond 32,768 waiting are dropped and counted.
import fs from 'node:fs';
import type { MountStats, TraceEvent } from '../union/stats.js';

const FLUSH_MS = 100;
const FLUSH_EVENTS = 256;
const MAX_PENDING = 32_768;

interface Pending {
  e: TraceEvent;
  t: number;
  pid: number;
  comm: string;
}

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
  private events: Pending[] = [];
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
    if (this.events.length + (this.inFlight?.lines ?? 0) >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    const pid = this.stats.pid;
    this.events.push({ e, t: Date.now(), pid, comm: this.comm(pid) });
    if (this.events.length >= FLUSH_EVENTS) this.flush();
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
    if (this.events.length === 0) return null;
    const text = this.events.map((p) => `{"time":"${new Date(p.t).toISOString()}",${fieldsOf(p.e)},"pid":${p.pid},"comm":${q(p.comm)}}\n`).join('');
    const chunk = { data: Buffer.from(text), pos: this.pos, lines: this.events.length };
    this.pos += chunk.data.length;
    this.events = [];
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
          this.dropped += chunk.lines + this.events.length;
          this.events = [];
          this.inFlight = null;
          return;
        }
        if (off + n < chunk.data.length) return write(off + n);
        this.written.lines += chunk.lines;
        this.written.bytes += chunk.data.length;
        this.inFlight = null;
        if (this.events.length >= FLUSH_EVENTS) this.flush();
      });
    write(0);
  }

  /** For `strata stats`. */
  status() {
    return {
      file: this.file,
      linesWritten: this.written.lines,
      bytesWritten: this.written.bytes,
      linesWaiting: this.events.length + (this.inFlight?.lines ?? 0),
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
