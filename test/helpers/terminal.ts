// A strata command on a real terminal of its own: a pty from our addon, the command its session
// leader with the slave as controlling terminal (setsid --ctty), so raw mode, SIGWINCH and job
// control are real. The test types into the master and reads what the command writes.
import fs from 'node:fs';
import tty from 'node:tty';
import { spawn, type ChildProcess } from 'node:child_process';
import { openPty } from '../../src/container/pty.js';
import { native } from '../../src/sys/native.js';
import { CLI } from './mount.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Terminal {
  out = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private master: number;
  private term: tty.ReadStream;

  constructor(args: string[], env: NodeJS.ProcessEnv, size = { rows: 33, cols: 101 }) {
    const [master, slave] = openPty();
    this.master = master;
    native.setWinsize(master, size.rows, size.cols);
    this.child = spawn('setsid', ['-w', '--ctty', process.execPath, CLI, ...args], { stdio: [slave, slave, slave], env });
    fs.closeSync(slave);
    this.term = new tty.ReadStream(master);
    this.term.on('error', () => {}); // EIO once the command has gone
    this.term.on('data', (d: Buffer) => (this.out += d.toString('latin1')));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  type(s: string): void {
    this.term.write(s);
  }

  resize(rows: number, cols: number): void {
    native.setWinsize(this.master, rows, cols);
  }

  /** Wait until the output (since `from`) matches, or fail with what was seen. */
  async waitFor(re: RegExp, ms = 10_000, from = 0): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out.slice(from))) {
      if (Date.now() > end) throw new Error(`no ${re} on the terminal after ${ms} ms; it shows ${JSON.stringify(this.out)}`);
      await sleep(20);
    }
  }

  /** Press Enter until a shell's prompt ("# ") answers: then the command is attached and the shell reads. */
  async prompt(ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const from = this.out.length;
      this.type('\r');
      try {
        return await this.waitFor(/# (?:\x1b\[[0-9;]*[A-Za-z])*$/, 300, from); // busybox may ask where the cursor is (ESC [6n)
      } catch (err) {
        if (Date.now() > end) throw err;
      }
    }
  }

  /** Its exit code (null: killed by a signal), or 'running' if it has not exited within `ms`. */
  async exit(ms = 10_000): Promise<number | null | 'running'> {
    return Promise.race([this.exited, sleep(ms).then(() => 'running' as const)]);
  }

  /** Whether it still runs after `ms`. */
  async stillRunning(ms = 300): Promise<boolean> {
    return (await this.exit(ms)) === 'running';
  }

  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.term.destroy();
  }
}
