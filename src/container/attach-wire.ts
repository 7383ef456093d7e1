// The attach socket: where it is, and what goes over it. A detached container's supervisor listens
// on `containers/<id>/attach.sock` (mode 0600: root only); each `attach` client connects to it.
// Every message is a frame: one type byte, a 32-bit big-endian length, and that many bytes.
//   client → supervisor: HELLO (JSON: whether it sends input, its window size), INPUT, EOF (its
//     piped input ended), RESIZE (rows, cols: two 16-bit numbers)
//   supervisor → client: STDOUT, STDERR (a terminal's output is STDOUT), EXIT (the exit code, a
//     32-bit number, once the container has exited and is recorded or removed), FAIL (JSON: a
//     StrataError's code and sentence, when the supervisor could not run it)
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { viaDirFd } from '../sys/socket-path.js';

export const Frame = {
  HELLO: 0x68,
  INPUT: 0x69,
  EOF: 0x64,
  RESIZE: 0x77,
  STDOUT: 0x6f,
  STDERR: 0x65,
  EXIT: 0x78,
  FAIL: 0x66,
} as const;

export interface Hello {
  stdin: boolean;
  rows?: number;
  cols?: number;
}

/** The attach socket of the container whose dir is `dir`. */
export const attachSocket = (dir: string) => path.join(dir, 'attach.sock');

export function frame(type: number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

export const sizeFrame = (rows: number, cols: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(rows, 0);
  b.writeUInt16BE(cols, 2);
  return frame(Frame.RESIZE, b);
};

export const exitFrame = (code: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(code, 0);
  return frame(Frame.EXIT, b);
};

/** Cuts a byte stream into frames, however it arrives. */
export class FrameReader {
  private buf = Buffer.alloc(0);

  push(data: Buffer): { type: number; body: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const out: { type: number; body: Buffer }[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) break;
      out.push({ type: this.buf[0], body: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}

/** Listen on `file` (a stale one is replaced), mode 0600 from the start. */
export async function listenOn(file: string, onClient: (sock: net.Socket) => void): Promise<net.Server> {
  fs.rmSync(file, { force: true });
  const server = net.createServer(onClient);
  const listening = new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const umask = process.umask(0o177);
  try {
    viaDirFd(file, (short) => server.listen(short));
  } finally {
    process.umask(umask);
  }
  await listening;
  fs.chmodSync(file, 0o600);
  return server;
}

/** Connect to `file`; rejects with the errno error (ECONNREFUSED: nobody listens). */
export function connectTo(file: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = viaDirFd(file, (short) => net.connect(short));
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}
