// A mount daemon's control socket: `strata stats` (and `strata inspect` of a running container)
// ask it for the mount's counters. One socket per daemon, STRATA_ROOT/run/<hash of the
// mountpoint>.sock, so the mountpoint alone finds it. Only root (the daemon's user) may connect:
// the run dir is 0700 and the socket 0600, both root's, so connect(2) by anyone else fails with
// EACCES before the daemon sees it (Node cannot read SO_PEERCRED; the file modes are the check).
// A request is one JSON line, {"op":"stats"}; the answer one JSON line, then the socket closes.
// Served on the daemon's event loop between FUSE requests: nothing here blocks it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { strataRoot } from '../sys/lmdb.js';
import { StrataError } from '../sys/errors.js';
import { viaDirFd } from '../sys/socket-path.js';

/** Where daemons keep their control sockets. */
export const runDir = () => path.join(strataRoot(), 'run');

/** A mount's control socket, by its mountpoint (the real path, as the mount table shows it). */
export function controlSocket(mountpoint: string): string {
  return path.join(runDir(), createHash('sha256').update(mountpoint).digest('hex').slice(0, 24) + '.sock');
}

/** `mountpoint` as the mount table spells it: its parent's real path, without touching the mount itself. */
export function realMountpoint(p: string): string {
  const abs = path.resolve(p);
  if (abs === '/') return abs;
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

export interface ControlServer {
  /** Stop listening and remove the socket (if it is still ours: a newer daemon may have replaced it). */
  close(): void;
}

/** Listen for the mount at `mountpoint`; `describe` answers a stats request. The socket is bound before this returns. */
export function listenControl(mountpoint: string, describe: () => object, log: (line: string) => void): ControlServer {
  const dir = runDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const file = controlSocket(mountpoint);
  fs.rmSync(file, { force: true }); // a killed daemon's, or one that serves this mountpoint no more
  const server = net.createServer((sock) => answer(sock, describe));
  server.on('error', (err) => log(`the control socket failed: ${err.message}`));
  const umask = process.umask(0o177); // 0600 from the start: bind and listen happen inside listen()
  try {
    viaDirFd(file, (short) => server.listen(short));
  } finally {
    process.umask(umask);
  }
  server.unref(); // never what keeps the daemon alive
  const ino = fs.lstatSync(file).ino;
  return {
    close() {
      server.close();
      try {
        if (fs.lstatSync(file).ino === ino) fs.rmSync(file, { force: true });
      } catch {
        /* gone already */
      }
    },
  };
}

const MAX_REQUEST = 4096;

function answer(sock: net.Socket, describe: () => object): void {
  let buf = '';
  let done = false;
  const reply = (line: string) => {
    if (done) return;
    done = true;
    let out: object;
    try {
      const req = JSON.parse(line) as { op?: unknown };
      out = req?.op === 'stats' ? describe() : { error: `unknown request ${JSON.stringify(req?.op ?? null)}: the one request is {"op":"stats"}` };
    } catch (err) {
      out = err instanceof SyntaxError ? { error: 'a request is one JSON line, {"op":"stats"}' } : { error: (err as Error).message };
    }
    sock.end(JSON.stringify(out) + '\n');
  };
  sock.setEncoding('utf8');
  sock.setTimeout(5000, () => sock.destroy());
  sock.on('error', () => {});
  sock.on('data', (d: string) => {
    buf += d;
    const nl = buf.indexOf('\n');
    if (nl >= 0) reply(buf.slice(0, nl));
    else if (buf.length > MAX_REQUEST) sock.destroy();
  });
  sock.on('end', () => reply(buf));
}

/** The daemon of a mount could not be asked: not a strata mount, no socket, or no answer. */
export class ControlError extends StrataError {}

/** Ask the daemon serving `mountpoint` (a real path) one request; resolves with its JSON answer. */
export function askDaemon(mountpoint: string, request: object = { op: 'stats' }, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const file = controlSocket(mountpoint);
  return new Promise((resolve, reject) => {
    let data = '';
    let sock: net.Socket;
    try {
      sock = viaDirFd(file, (short) => net.connect(short));
    } catch (err) {
      return reject(unreachable(mountpoint, err));
    }
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlError('failed', `the daemon serving ${mountpoint} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(request) + '\n'));
    sock.on('data', (d: string) => (data += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(unreachable(mountpoint, err));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data) as Record<string, unknown>);
      } catch {
        reject(new ControlError('failed', `the daemon serving ${mountpoint} gave an answer that is not JSON`));
      }
    });
  });
}

function unreachable(mountpoint: string, err: unknown): ControlError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED')
    return new ControlError('not-found', `the daemon serving ${mountpoint} has no control socket (it was stopped, or started by a strata without one)`);
  if (code === 'EACCES' || code === 'EPERM') return new ControlError('failed', `only root may read the counters of ${mountpoint}`);
  return new ControlError('failed', `cannot reach the daemon serving ${mountpoint}: ${(err as Error).message}`);
}
