// `-t`: a command on a pseudo-terminal of its own (docker run -t). The command gets the slave as
// stdin, stdout, stderr and controlling terminal (setsid --ctty, so Ctrl-C, job control and
// `tty` work inside); this process relays its own stdin to the master (raw, when it is a terminal)
// and the master to its stdout, and passes window size changes on. In the supervisor of a detached
// container the other end is not this process's stdio but the attach hub (a ContainerIO).
import fs from 'node:fs';
import tty, { isatty } from 'node:tty';
import { spawn, type ChildProcess } from 'node:child_process';
import { native } from '../sys/native.js';
import { check } from '../sys/errors.js';
import type { ContainerIO } from './container-io.js';

export interface PtyRun {
  child: ChildProcess;
  /** The slave's name (/dev/pts/N), for the container's /dev. */
  name: string;
  /** Resolves when the command has exited and its last output is written. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A pty pair: [master, slave, /dev/pts/N]. */
export function openPty(): [number, number, string] {
  const fds = native.openpty();
  if (typeof fds === 'number') check(fds);
  const [m, s] = fds as [number, number];
  return [m, s, fs.readlinkSync(`/proc/self/fd/${s}`)];
}

/** Run `cmd args` on the pty `[master, slave]` (from openPty), relaying this process's stdio, or `o.io`. */
export function runOnPty(pty: [number, number, string], cmd: string, args: string[], o: { input: boolean; io?: ContainerIO }): PtyRun {
  const [master, slave, name] = pty;
  const setSize = (rows: number, cols: number) => void native.setWinsize(master, rows, cols);
  const size = o.io ? o.io.size() : process.stdout.isTTY ? { rows: process.stdout.rows, cols: process.stdout.columns } : undefined;
  if (size) setSize(size.rows, size.cols);
  const child = spawn('setsid', ['--ctty', cmd, ...args], { stdio: [slave, slave, slave] });
  fs.closeSync(slave); // the master reads EOF (EIO) once the command's side is all closed
  const term = new tty.ReadStream(master); // a stream on the master, readable and writable
  term.on('error', () => {}); // EIO: the last slave fd closed
  const release = o.io ? relayToIO(o.io, term, setSize, o.input) : relayToStdio(term, setSize, o.input);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // Its last output may still be in the pty: read until EIO, or give up after a moment if a
      // process it left behind still holds the terminal.
      const done = () => {
        clearTimeout(timer);
        release();
        term.destroy();
        resolve({ code, signal });
      };
      const timer = setTimeout(done, 500);
      term.once('close', done);
    });
  });
  return { child, name, exited };
}

/** The attach hub's side: output to it, input (only with -i) and window sizes from it. */
function relayToIO(io: ContainerIO, term: tty.ReadStream, setSize: (rows: number, cols: number) => void, input: boolean): () => void {
  term.on('data', (d: Buffer) => io.output(d, 1));
  const write = (d: Buffer | string) => void (input && term.write(d));
  return io.connect({ input: write, eof: () => write('\x04'), resize: setSize });
}

/** This process's stdio: output to stdout, our stdin (only with -i) to the command, our window size. */
function relayToStdio(term: tty.ReadStream, setSize: (rows: number, cols: number) => void, input: boolean): () => void {
  const resize = () => {
    if (process.stdout.isTTY) setSize(process.stdout.rows, process.stdout.columns);
  };
  term.on('data', (d: Buffer) => process.stdout.write(d));
  // Input only with -i, and never from /dev/null (a detached container's supervisor)
  const stdin = process.stdin;
  const relay = input && inputToSend();
  const raw = relay && stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const toTerm = (d: Buffer) => term.write(d);
  // Piped input that ends: end of file, as a terminal says it (^D at the start of a line).
  const eof = () => term.write('\x04');
  if (relay) {
    stdin.on('data', toTerm);
    stdin.on('end', eof);
  }
  process.stdout.on('resize', resize);
  return () => {
    stdin.off('data', toTerm);
    stdin.off('end', eof);
    process.stdout.off('resize', resize);
    if (raw) stdin.setRawMode(false);
    if (relay) stdin.pause();
  };
}

/** Whether our stdin has input to send: a terminal, a pipe or a file, but not /dev/null (its end would reach a terminal as ^D). */
export function inputToSend(): boolean {
  try {
    return isatty(0) || !fs.fstatSync(0).isCharacterDevice();
  } catch {
    return false; // no fd 0
  }
}
