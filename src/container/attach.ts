// docker attach: this process's terminal (or stdio) connected to a detached container through the
// attach socket its supervisor listens on (attach-hub.ts). With a tty container and our stdin,
// this terminal is raw, its window size is passed on, and the detach keys leave the container
// running; the container's exit ends the attach with its exit code.
import fs from 'node:fs';
import type net from 'node:net';
import { isatty } from 'node:tty';
import { refuse, StrataError, type ErrorCode } from '../sys/errors.js';
import type { ContainerRecord } from '../store/store.js';
import { running, type ContainerContext } from './context.js';
import { DetachWatcher, parseDetachKeys } from './detach-keys.js';
import { inputToSend } from './pty.js';
import { Frame, FrameReader, attachSocket, connectTo, frame, sizeFrame, type Hello } from './attach-wire.js';

export interface AttachOptions {
  /** docker's --detach-keys spec (default ctrl-p,ctrl-q). */
  detachKeys?: string;
  /** Send none of our input (--no-stdin). */
  noStdin?: boolean;
}

/** How an attach ended: the container exited with `code`, or this side detached (code 0). */
export interface AttachEnd {
  detached: boolean;
  code: number;
}

/** Attach to a running container started in the background; refused in one sentence otherwise. */
export async function attachTo(k: ContainerContext, c: ContainerRecord, o: AttachOptions = {}): Promise<AttachEnd> {
  parseDetachKeys(o.detachKeys); // a bad spec is refused before anything else
  if (!running(c)) refuse('conflict', `cannot attach to container ${c.name}: it is not running (start it first: strata start ${c.name})`);
  const file = attachSocket(k.s.containerPaths(c.id).dir);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st)
    refuse(
      'conflict',
      `cannot attach to container ${c.name}: it runs in the foreground of the command that started it (only a container run with -d, -it or by start has an attach socket)`,
    );
  if (!st.isSocket() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0)
    refuse('failed', `cannot attach to container ${c.name}: ${file} is not strata's attach socket (one of ours, mode 0600), so it is not used`);
  return relayThrough(k, c, file, o);
}

/** Connect to the socket `file` of container `c` and relay until it exits or we detach. */
export async function relayThrough(k: ContainerContext, c: ContainerRecord, file: string, o: AttachOptions = {}): Promise<AttachEnd> {
  const keys = parseDetachKeys(o.detachKeys);
  let sock: net.Socket;
  try {
    sock = await connectTo(file);
  } catch (err) {
    return refuse('failed', `cannot connect to container ${c.name}: its supervisor does not answer on ${file} (${(err as Error).message})`, err);
  }
  const tty = c.spec?.tty === true;
  const stdin = !o.noStdin && c.spec?.interactive === true && inputToSend();
  const out = process.stdout;
  const hello: Hello = { stdin, ...(tty && out.isTTY ? { rows: out.rows, cols: out.columns } : {}) };
  sock.write(frame(Frame.HELLO, JSON.stringify(hello)));
  return new Promise<AttachEnd>((resolve, reject) => {
    // docker's rule: the detach keys are watched for on a terminal container we type into
    const watcher = tty && stdin ? new DetachWatcher(keys) : null;
    const raw = tty && stdin && isatty(0);
    if (raw) process.stdin.setRawMode(true);
    const input = (d: Buffer) => {
      const r = watcher ? watcher.feed(d) : { pass: d, detach: false };
      if (r.pass.length) sock.write(frame(Frame.INPUT, r.pass));
      if (r.detach) finish({ detached: true, code: 0 });
    };
    const eof = () => void sock.write(frame(Frame.EOF));
    const resize = () => void sock.write(sizeFrame(out.rows, out.columns));
    if (stdin) process.stdin.on('data', input).on('end', eof);
    if (tty && out.isTTY) out.on('resize', resize);
    let done = false;
    const finish = (end: AttachEnd | StrataError) => {
      if (done) return;
      done = true;
      out.off('resize', resize);
      if (raw) process.stdin.setRawMode(false);
      if (stdin) process.stdin.off('data', input).off('end', eof).pause();
      sock.destroy();
      if (end instanceof StrataError) reject(end);
      else resolve(end);
    };
    const reader = new FrameReader();
    sock.on('data', (data: Buffer) => {
      for (const f of reader.push(data)) {
        if (f.type === Frame.STDOUT) out.write(f.body);
        else if (f.type === Frame.STDERR) process.stderr.write(f.body);
        else if (f.type === Frame.EXIT) finish({ detached: false, code: f.body.readInt32BE(0) });
        else if (f.type === Frame.FAIL) finish(failure(f.body));
      }
    });
    sock.on('error', () => {}); // then close
    sock.on('close', () => void (done || finish(lost(k, c))));
  });
}

/** The supervisor's sentence of what failed. */
function failure(body: Buffer): StrataError {
  const f = JSON.parse(body.toString()) as { code: ErrorCode; message: string };
  return new StrataError(f.code, f.message);
}

/** The socket closed with no exit code: the recorded one if the container has exited, else a sentence. */
function lost(k: ContainerContext, c: ContainerRecord): AttachEnd | StrataError {
  const now = k.s.containerById(c.id);
  if (now?.state === 'exited' && !running(now)) return { detached: false, code: now.exitCode ?? 0 };
  return new StrataError('failed', `lost the connection to container ${c.name}: its supervisor went away`);
}
