// Where a container's terminal or stdio goes when it is not this process's own: in the supervisor
// of a detached container, the attach hub (attach-hub.ts) takes the output (to the log and to
// every attached client) and gives the input, the end of piped input and window size changes.
import { spawn, type ChildProcess } from 'node:child_process';

/** What the command's side hears from the attached clients. */
export interface ContainerInput {
  input(data: Buffer): void;
  /** A client's piped input ended (a terminal gets ^D, as a terminal says end of file). */
  eof(): void;
  resize(rows: number, cols: number): void;
}

export interface ContainerIO {
  /** The window size the command's terminal starts with, if a client has said one. */
  size(): { rows: number; cols: number } | undefined;
  /** The command's output: its terminal (1), or its stdout (1) or stderr (2). */
  output(data: Buffer, stream: 1 | 2): void;
  /** From now on, input goes to `to` (what came before it is given first); returns the disconnect. */
  connect(to: ContainerInput): () => void;
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * Spawn a command without a terminal, its stdout and stderr through `io`, and (with `input`) its
 * stdin fed from it, kept open while it runs, as docker keeps a detached `-i` container's stdin.
 * Resolves when it has exited and its last output is passed on.
 */
export function spawnRelayed(cmd: string, args: string[], io: ContainerIO, input: boolean): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => io.output(d, 1));
  child.stderr!.on('data', (d: Buffer) => io.output(d, 2));
  child.stdin?.on('error', () => {}); // EPIPE: it stopped reading
  const disconnect = io.connect({ input: (d) => void child.stdin?.write(d), eof: () => {}, resize: () => {} });
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // Read its pipes to the end, or give up after a moment if a process it left holds them.
      let ended = false;
      const done = () => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        disconnect();
        for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
        resolve({ code, signal });
      };
      const timer = setTimeout(done, 500);
      child.once('close', done);
    });
  });
  return { child, exited };
}
