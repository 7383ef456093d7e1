// The supervisor's end of the attach socket: a detached container's output goes to its log (this
// process's stdout and stderr) and to every attached client; what clients type goes to the
// container (its terminal, or its stdin with -i), and their window size to its terminal. Several
// clients may be attached at once, as in docker: each sees all the output, and all of them type.
import fs from 'node:fs';
import type net from 'node:net';
import type { ContainerIO, ContainerInput } from './container-io.js';
import { FrameReader, Frame, exitFrame, frame, listenOn, type Hello } from './attach-wire.js';
import type { ErrorCode } from '../sys/errors.js';

type Pending = { kind: 'input'; data: Buffer } | { kind: 'eof' };

export class AttachHub implements ContainerIO {
  private clients = new Set<net.Socket>();
  private to?: ContainerInput;
  private pending: Pending[] = [];
  private lastSize?: { rows: number; cols: number };
  private greeted?: () => void;
  private hellos = 0;
  private server?: net.Server;

  private constructor(readonly file: string) {}

  /** Listen on `file` (mode 0600). */
  static async listen(file: string): Promise<AttachHub> {
    const hub = new AttachHub(file);
    hub.server = await listenOn(file, (sock) => hub.accept(sock));
    return hub;
  }

  /** Resolves once a client has said hello (its window size is then known), or after `ms`. */
  firstClient(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.hellos) return resolve();
      const timer = setTimeout(resolve, ms);
      this.greeted = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  size() {
    return this.lastSize;
  }

  output(data: Buffer, stream: 1 | 2): void {
    (stream === 1 ? process.stdout : process.stderr).write(data);
    const f = frame(stream === 1 ? Frame.STDOUT : Frame.STDERR, data);
    for (const c of this.clients) c.write(f);
  }

  connect(to: ContainerInput): () => void {
    this.to = to;
    for (const p of this.pending.splice(0))
      if (p.kind === 'input') to.input(p.data);
      else to.eof();
    return () => {
      if (this.to === to) this.to = undefined;
    };
  }

  /** The container has exited (and is recorded or removed): tell every client, stop listening. */
  close(end: { code: number } | { fail: { code: ErrorCode; message: string } }): Promise<void> {
    const last = 'code' in end ? exitFrame(end.code) : frame(Frame.FAIL, JSON.stringify(end.fail));
    for (const c of this.clients) c.end(last);
    fs.rmSync(this.file, { force: true });
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      // Clients that do not go: they have had their last frame.
      setTimeout(() => {
        for (const c of this.clients) c.destroy();
      }, 1000).unref();
    });
  }

  private accept(sock: net.Socket): void {
    const reader = new FrameReader();
    let hello: Hello | undefined;
    sock.on('error', () => {}); // a client that went away
    sock.on('close', () => this.clients.delete(sock));
    sock.on('data', (data: Buffer) => {
      for (const f of reader.push(data)) {
        if (f.type === Frame.HELLO) {
          hello = parseHello(f.body);
          if (hello.rows && hello.cols) this.resize(hello.rows, hello.cols);
          this.clients.add(sock); // from now on it gets the output
          this.hellos++;
          this.greeted?.();
        } else if (!hello) sock.destroy();
        else if (f.type === Frame.RESIZE && f.body.length === 4) this.resize(f.body.readUInt16BE(0), f.body.readUInt16BE(2));
        else if (f.type === Frame.INPUT && hello.stdin) this.give({ kind: 'input', data: Buffer.from(f.body) });
        else if (f.type === Frame.EOF && hello.stdin) this.give({ kind: 'eof' });
      }
    });
  }

  private give(p: Pending): void {
    if (!this.to) this.pending.push(p);
    else if (p.kind === 'input') this.to.input(p.data);
    else this.to.eof();
  }

  private resize(rows: number, cols: number): void {
    this.lastSize = { rows, cols };
    this.to?.resize(rows, cols);
  }
}

function parseHello(body: Buffer): Hello {
  try {
    const h = JSON.parse(body.toString()) as Hello;
    return { stdin: h.stdin === true, rows: Number(h.rows) || undefined, cols: Number(h.cols) || undefined };
  } catch {
    return { stdin: false };
  }
}
