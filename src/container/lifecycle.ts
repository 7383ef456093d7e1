// A container's processes: run in the foreground (the supervisor of a detached container does this
// too, with its attach socket), start detached under a supervisor, stop (SIGTERM, then SIGKILL),
// exec, pause.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { refuse, StrataError } from '../sys/errors.js';
import { signalNumber } from '../sys/signals.js';
import type { ContainerRecord } from '../store/store.js';
import { alive, containerEtc, execInContainer, initPid, runInContainer } from './runtime.js';
import { cgroupFor, isFrozen, removeCgroup, setFrozen } from './freezer.js';
import { running, type ContainerContext } from './context.js';
import type { ContainerIO } from './container-io.js';
import { AttachHub } from './attach-hub.js';
import { attachSocket } from './attach-wire.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Mount, run, record the exit code, unmount: `run`, `start -a`, and the supervisor of `start` (its
 * stdio through `o.io`). With `o.ready`, mounting and running wait for it (run -it: until the
 * terminal has attached, whose command mounts the view meanwhile; this then finds it mounted).
 */
export async function runForeground(k: ContainerContext, c: ContainerRecord, rm = false, o: { io?: ContainerIO; ready?: Promise<void> } = {}): Promise<number> {
  const spec = c.spec ?? refuse('invalid', `container ${c.name} has no command to run`);
  await o.ready;
  const merged = k.fuse.mount(k.snapshot(c));
  let code = 0;
  try {
    const started = (pid: number) => k.s.updateContainer(c.id, (now) => ({ ...now, state: 'running', pid, started: new Date().toISOString() }));
    const hostname = c.id.slice(0, 12);
    const etc = containerEtc(k.s.containerPaths(c.id).dir, hostname);
    const mounts = k.volumes.prepare(c, merged);
    code = await runInContainer({ merged, hostname, cgroup: cgroupFor(c.id), etc, mounts, network: c.network, ...spec, io: o.io }, started);
  } finally {
    removeCgroup(c.id);
    k.fuse.unmount(c.id);
    if (rm)
      k.removeRecord(k.fresh(c), { volumes: true }); // docker's --rm takes the anonymous volumes along
    else k.s.updateContainer(c.id, (now) => ({ ...now, state: 'exited', exitCode: code, pid: undefined, finished: new Date().toISOString() }));
  }
  return code;
}

/**
 * A supervisor process (`start -a --supervise ID`) runs the container (output to its log and to
 * attached clients) and records its exit (or, with `rm`, removes it); resolves once it has
 * started: it runs, or has already run and exited. With `waitAttach`, the supervisor waits for a
 * first client before it starts the container (so run -it attaches, losing no output), and this
 * resolves once it listens.
 */
export async function startDetached(k: ContainerContext, c: ContainerRecord, o: { rm?: boolean; waitAttach?: boolean } = {}): Promise<void> {
  const p = k.s.containerPaths(c.id);
  const sock = attachSocket(p.dir);
  fs.rmSync(sock, { force: true }); // a killed supervisor's: the container does not run, so nobody listens there
  const log = fs.openSync(p.log, 'a');
  const [cmd, ...args] = k.supervisor;
  const flags = ['-a', '--supervise', ...(o.rm ? ['--rm'] : []), ...(o.waitAttach ? ['--wait-attach'] : []), ...(k.trace ? ['--trace', k.trace] : [])];
  const child = spawn(cmd, [...args, 'start', ...flags, c.id], { detached: true, stdio: ['ignore', log, log], env: process.env });
  child.unref();
  fs.closeSync(log);
  const end = Date.now() + 10_000;
  const startedBefore = k.s.containerById(c.id)?.started;
  for (;;) {
    const now = k.s.containerById(c.id);
    if (o.waitAttach && fs.lstatSync(sock, { throwIfNoEntry: false })?.isSocket()) return; // it listens
    if (!now || running(now) || now.started !== startedBefore) return; // gone (--rm), running, or run already
    if (Date.now() > end || (child.exitCode ?? null) !== null) refuse('failed', `container ${c.name} did not start (see ${p.log})`);
    await sleep(25);
  }
}

/**
 * The supervisor's work (`start -a --supervise`): listen on the container's attach socket, run it
 * with its terminal or stdio there (and in this process's stdout, its log), record its exit, then
 * give every client the exit code (or the sentence of what failed) and stop listening.
 */
export async function supervise(k: ContainerContext, c: ContainerRecord, o: { rm?: boolean; waitAttach?: boolean } = {}): Promise<number> {
  const hub = await AttachHub.listen(attachSocket(k.s.containerPaths(c.id).dir));
  let code: number;
  try {
    // run -it: the command starts once its terminal is attached
    code = await runForeground(k, c, o.rm, { io: hub, ready: o.waitAttach ? hub.firstClient(10_000) : undefined });
  } catch (err) {
    const fail = err instanceof StrataError ? { code: err.code, message: err.message } : { code: 'failed' as const, message: String(err) };
    await hub.close({ fail });
    throw err;
  }
  await hub.close({ code });
  return code;
}

/** The image's STOPSIGNAL (or SIGTERM) to the container's PID 1, SIGKILL after `secs`, as docker stop; then wait for the exit to be recorded. */
export async function stopContainer(k: ContainerContext, c: ContainerRecord, secs: number): Promise<void> {
  const img = k.s.imageById(c.image);
  const first = img ? signalNumber(k.s.config(img).config.StopSignal ?? '') : 0;
  const pid1 = signalInit(c, first || 'SIGTERM');
  const end = Date.now() + secs * 1000;
  while (alive(c.pid) && Date.now() < end) await sleep(50);
  const killed = alive(c.pid) && pid1 !== null;
  if (killed) process.kill(pid1!, 'SIGKILL');
  const done = Date.now() + 10_000;
  while (k.s.containerById(c.id)?.state === 'running' && Date.now() < done) await sleep(50);
  // util-linux unshare can't re-raise SIGKILL on itself and exits 1; the exit code is docker's 137.
  if (killed && k.s.containerById(c.id)?.state === 'exited') k.s.updateContainer(c.id, (now) => ({ ...now, exitCode: 137 }));
}

/** Send `sig` to the container's PID 1, thawed first (a frozen process acts on no signal); returns that pid. */
export function signalInit(c: ContainerRecord, sig: NodeJS.Signals | number): number | null {
  if (isFrozen(c.id)) setFrozen(c.id, false);
  const pid1 = initPid(c.pid!);
  if (pid1) process.kill(pid1, sig);
  return pid1;
}

/** A command in a running container's namespaces, root and working dir; its exit code. */
export function execIn(k: ContainerContext, c: ContainerRecord, cmd: string[], o: { env?: string[]; tty?: boolean; interactive?: boolean }): Promise<number> {
  const st = k.state(c);
  if (!st.running) refuse('conflict', `container ${c.name} is not running`);
  if (st.paused) refuse('conflict', `container ${c.name} is paused: unpause it first (strata unpause ${c.name})`);
  if (st.daemonDead) refuse('failed', `the filesystem daemon of container ${c.name} has died: restart the container (strata restart ${c.name})`);
  const pid1 = initPid(c.pid!) ?? refuse('failed', `container ${c.name} has no process`);
  return execInContainer(pid1, [...(c.spec?.env ?? []), ...(o.env ?? [])], cmd, o.tty, o.interactive);
}

/** Freeze or thaw every process of a running container (docker pause / unpause). */
export function pauseContainer(k: ContainerContext, c: ContainerRecord, frozen: boolean): ContainerRecord {
  if (!running(c)) refuse('conflict', `container ${c.name} is not running`);
  if (isFrozen(c.id) === frozen) refuse('conflict', `container ${c.name} is ${frozen ? 'already' : 'not'} paused`);
  setFrozen(c.id, frozen);
  return c;
}
