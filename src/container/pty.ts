// `-t`: a command on a pseudo-terminal of its own (docker run -t). The command gets the slave as
// stdin, stdout, stderr and controlling terminal (setsid --ctty, so Ctrl-C, job control and
// `tty` work inside); this process relays its own stdin to the master (raw, when it is a terminal)
// and the master to its stdout, and passes window size changes on.
import fs from 'node:fs';
import tty from 'node:tty';
import { spawn, type ChildProcess } from 'node:child_process';
import { native } from '../sys/native.js';
import { check } from '../sys/errors.js';

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

/** Run `cmd args` on the pty `[master, slave]` (from openPty), relaying this process's stdio. */
export function runOnPty(pty: [number, number, string], cmd: string, args: string[], o: { input: boolean }): PtyRun {
  const [master, slave, name] = pty;
  const resize = () => {
    if (process.stdout.isTTY) native.setWinsize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  const child = spawn('setsid', ['--ctty', cmd, ...args], { stdio: [slave, slave, slave] });
  fs.closeSync(slave); // the master reads EOF (EIO) once the command's side is all closed
  const term = new tty.ReadStream(master); // a stream on the master, readable and writable
  term.on('error', () => {}); // EIO: the last slave fd closed
  term.on('data', (d: Buffer) => process.stdout.write(d));
  // Input only with -i, and never from /dev/null (a detached container's supervisor): its end
  // would reach the command as ^D.
  const stdin = process.stdin;
  const relay = o.input && (stdin.isTTY || !fs.fstatSync(0).isCharacterDevice());
  const raw = relay && stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const input = (d: Buffer) => term.write(d);
  // Piped input that ends: end of file, as a terminal says it (^D at the start of a line).
  const eof = () => term.write('\x04');
  if (relay) {
    stdin.on('data', input);
    stdin.on('end', eof);
  }
  process.stdout.on('resize', resize);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // Its last output may still be in the pty: read until EIO, or give up after a moment if a
      // process it left behind still holds the terminal.
      const done = () => {
        clearTimeout(timer);
        stdin.off('data', input);
        stdin.off('end', eof);
        process.stdout.off('resize', resize);
        if (raw) stdin.setRawMode(false);
        if (relay) stdin.pause();
        term.destroy();
        resolve({ code, signal });
      };
      const timer = setTimeout(done, 500);
      term.once('close', done);
    });
  });
  return { child, name, exited };
}
