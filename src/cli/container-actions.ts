// The work behind the container commands: create, run, ps, rm, diff, commit, inspect, and
// mounting a container's merged view for people who chroot by hand.
import crypto from 'node:crypto';
import { refuse } from '../sys/errors.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { Store, parseRef, type ContainerRecord, type ImageRecord } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';
import { findMount, mountDead, unmount } from '../fuse/mounts.js';
import { startDaemon } from '../fuse/start-daemon.js';
import { preflight } from '../fuse/preflight.js';
import { alive, execInContainer, initPid, runInContainer, runSpecOf } from '../container/runtime.js';
import { canFreeze, cgroupFor, isFrozen, removeCgroup, setFrozen } from '../container/freezer.js';
import { writeTree } from '../oci/tar-write.js';
import { applyChanges } from '../oci/changes.js';
import { isWhiteout, isOpaque } from '../sys/overlay-format.js';
import { lstat, isDir } from '../sys/stat.js';
import { Union } from '../union/union.js';
import { dirSize } from '../store/usage.js';
import { ago, duration, humanSize, shortId, table } from './format.js';
import { withStore, imageSize, inspectImage } from './image-actions.js';
import { fatal } from './fatal.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

const dirs = (s: Store, c: ContainerRecord) => s.containerPaths(c.id);

export function create(s: Store, image: string, o: { name?: string; cmd: string[]; spec?: ContainerRecord['spec'] }): ContainerRecord {
  const img = s.image(image);
  return s.createContainer({ name: o.name, image: img.id, command: o.cmd, ...(o.spec ? { spec: o.spec } : {}) });
}

/** Mount the container's merged view (if it is not mounted yet): its own daemon, started here. */
export function mountMerged(s: Store, c: ContainerRecord): string {
  const d = dirs(s, c);
  if (findMount(d.merged)) {
    if (!mountDead(d.merged)) return d.merged;
    // Its daemon was killed: the mount answers nothing. Detach it and mount afresh (the upper dir holds all the state).
    process.stderr.write(`strata: the filesystem daemon of container ${c.name} had died; mounting its merged view again\n`);
    unmount(d.merged, { force: true });
  }
  const img = s.imageById(c.image) ?? refuse('failed', `the image of container ${c.name} is gone`);
  try {
    startDaemon(preflight({ lowers: s.lowers(img), upper: d.upper, work: d.work, mountpoint: d.merged }), { index: true });
  } catch (err) {
    refuse('failed', `cannot mount container ${c.name}: ${(err as Error).message}`);
  }
  return d.merged;
}

export function unmountMerged(s: Store, c: ContainerRecord, force = false): void {
  const d = dirs(s, c);
  if (!findMount(d.merged)) return;
  try {
    unmount(d.merged, force ? { force: true } : { lazy: true });
  } catch (err) {
    if (findMount(d.merged)) throw err; // else: the container's supervisor unmounted it meanwhile
  }
}

/**
 * Run `fn` with the container's merged view at hand (`merged()` mounts it on first use). A view
 * mounted for `fn` is unmounted after it; one that was mounted before stays.
 */
export function withMerged<T>(s: Store, c: ContainerRecord, fn: (merged: () => string) => T): T {
  const wasMounted = !!findMount(dirs(s, c).merged);
  const after = () => {
    if (!wasMounted) unmountMerged(s, c);
  };
  let r: T;
  try {
    r = fn(() => mountMerged(s, c));
  } catch (err) {
    after();
    throw err;
  }
  if (r instanceof Promise) return r.finally(after) as T;
  after();
  return r;
}

export function createCmd(image: string, cmd: string[], o: { name?: string; env?: string[]; workdir?: string; user?: string; tty?: boolean; interactive?: boolean }): Promise<void> {
  return withStore((s) => console.log(createWithSpec(s, image, cmd, o).id));
}

function createWithSpec(s: Store, image: string, cmd: string[], o: { name?: string; env?: string[]; workdir?: string; user?: string; tty?: boolean; interactive?: boolean }): ContainerRecord {
  // The spec first: an image without a command must not leave a container behind.
  const spec = runSpecOf(s.config(s.image(image)).config, { cmd, env: o.env, workdir: o.workdir, user: o.user, tty: o.tty, interactive: o.interactive });
  return create(s, image, { name: o.name, cmd, spec });
}

/** Mount, run in the foreground, record the exit code, unmount: `run`, and `start -a`. */
export async function runForeground(s: Store, c: ContainerRecord, rm = false): Promise<number> {
  const spec = c.spec ?? refuse('failed', `container ${c.name} has no command to run`);
  const merged = mountMerged(s, c);
  let code = 0;
  try {
    code = await runInContainer({ merged, hostname: c.id.slice(0, 12), cgroup: cgroupFor(c.id), ...spec }, (pid) => s.updateContainer(c.id, (now) => ({ ...now, state: 'running', pid, started: new Date().toISOString() })));
  } finally {
    removeCgroup(c.id);
    unmountMerged(s, c);
    if (rm) removeContainer(s, c);
    else s.updateContainer(c.id, (now) => ({ ...now, state: 'exited', exitCode: code, pid: undefined, finished: new Date().toISOString() }));
  }
  return code;
}

export function run(image: string, cmd: string[], o: { name?: string; rm?: boolean; env?: string[]; workdir?: string; user?: string; tty?: boolean; interactive?: boolean }): Promise<void> {
  let code = 0;
  return withStore(async (s) => {
    code = await runForeground(s, createWithSpec(s, image, cmd, o), o.rm);
  }).then(() => process.exit(code));
}

/** Whether a container really runs (a record saying so after its supervisor was killed does not). */
export const running = (c: ContainerRecord) => c.state === 'running' && alive(c.pid);

/** The STATUS column of ps and system df -v. */
export function statusOf(s: Store, c: ContainerRecord): string {
  if (running(c)) {
    const up = c.started ? `Up ${duration(c.started)}` : 'Up';
    return mountDead(dirs(s, c).merged) ? `${up} (filesystem daemon died)` : isFrozen(c.id) ? `${up} (Paused)` : up;
  }
  if (c.state === 'created') return 'Created';
  return `Exited (${c.exitCode ?? 0})${c.finished ? ` ${ago(c.finished)}` : ''}`;
}

export function start(refs: string[], o: { attach?: boolean }): Promise<void> {
  let code = 0;
  return withStore(async (s) => {
    for (const ref of refs) {
      const c = s.container(ref);
      if (running(c)) refuse('failed', `container ${c.name} is already running`);
      if (o.attach) {
        code = await runForeground(s, c);
        continue;
      }
      await startDetached(s, c);
      console.log(c.name);
    }
  }).then(() => process.exit(code));
}

/** A supervisor process runs the container (output to its log) and records its exit; returns once it runs. */
async function startDetached(s: Store, c: ContainerRecord): Promise<void> {
  const log = fs.openSync(`${s.containerPaths(c.id).dir}/log`, 'a');
  const child = spawn(process.execPath, [CLI, 'start', '-a', c.id], { detached: true, stdio: ['ignore', log, log], env: process.env });
  child.unref();
  const end = Date.now() + 10_000;
  while (!running(s.containerById(c.id)!)) {
    if (Date.now() > end || (child.exitCode ?? null) !== null) refuse('failed', `container ${c.name} did not start (see ${s.containerPaths(c.id).dir}/log)`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** stop (if it runs), then start in the background, as docker restart. */
export function restart(refs: string[], o: { time?: string }): Promise<void> {
  return withStore(async (s) => {
    for (const ref of refs) {
      const c = s.container(ref);
      if (running(c)) await stopContainer(s, c, Number(o.time ?? 10));
      await startDetached(s, s.containerById(c.id)!);
      console.log(ref);
    }
  });
}

export function stop(refs: string[], o: { time?: string }): Promise<void> {
  return withStore(async (s) => {
    for (const ref of refs) {
      const c = s.container(ref);
      if (running(c)) await stopContainer(s, c, Number(o.time ?? 10));
      console.log(ref);
    }
  });
}

/** SIGTERM to the container's PID 1, SIGKILL after `secs`, as docker stop; then wait for the exit to be recorded. */
async function stopContainer(s: Store, c: ContainerRecord, secs: number): Promise<void> {
  const pid1 = signalInit(c, 'SIGTERM');
  const end = Date.now() + secs * 1000;
  while (alive(c.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  const killed = alive(c.pid) && pid1 !== null;
  if (killed) process.kill(pid1!, 'SIGKILL');
  const done = Date.now() + 10_000;
  while (s.containerById(c.id)?.state === 'running' && Date.now() < done) await new Promise((r) => setTimeout(r, 50));
  // util-linux unshare can't re-raise SIGKILL on itself and exits 1; the exit code is docker's 137.
  const after = s.containerById(c.id);
  if (killed && after?.state === 'exited') s.updateContainer(c.id, (now) => ({ ...now, exitCode: 137 }));
}

export function exec(ref: string, cmd: string[], o: { env?: string[]; tty?: boolean; interactive?: boolean }): Promise<void> {
  let code = 0;
  return withStore(async (s) => {
    const c = s.container(ref);
    if (!running(c)) refuse('failed', `container ${c.name} is not running`);
    if (isFrozen(c.id)) refuse('failed', `container ${c.name} is paused: unpause it first (strata unpause ${c.name})`);
    if (mountDead(dirs(s, c).merged)) refuse('failed', `the filesystem daemon of container ${c.name} has died: restart the container (strata restart ${c.name})`);
    const pid1 = initPid(c.pid!) ?? refuse('failed', `container ${c.name} has no process`);
    const env = [...(c.spec?.env ?? []), ...(o.env ?? [])];
    code = await execInContainer(pid1, env, cmd, o.tty, o.interactive);
  }).then(() => process.exit(code));
}

export function ps(o: { all?: boolean; size?: boolean; format?: string; quiet?: boolean }): Promise<void> {
  return withStore((s) => {
    const list = s.allContainers().filter((c) => o.all || running(c)).sort((a, b) => b.created.localeCompare(a.created));
    const rows = list.map((c) => {
      const img = s.imageById(c.image);
      const tags = img ? s.tagsOf(img.id) : [];
      const size = o.size ? dirSize(dirs(s, c).upper) : 0;
      const status = statusOf(s, c);
      return { id: c.id, image: tags[0] ?? shortId(c.image), command: c.command.join(' '), created: c.created, status, name: c.name, size, virtual: size + (img ? imageSize(s, img) : 0) };
    });
    if (o.format === 'json') return console.log(JSON.stringify(rows, null, 2));
    if (o.quiet) return void process.stdout.write(rows.map((r) => shortId(r.id) + '\n').join(''));
    const head = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES', ...(o.size ? ['SIZE'] : [])];
    process.stdout.write(table(head, rows.map((r) => [shortId(r.id), r.image, JSON.stringify(r.command.length > 20 ? r.command.slice(0, 19) + '…' : r.command), ago(r.created), r.status, r.name, ...(o.size ? [`${humanSize(r.size)} (virtual ${humanSize(r.virtual)})`] : [])])));
  });
}

/** Send `sig` to the container's PID 1, thawed first (a frozen process acts on no signal); returns that pid. */
function signalInit(c: ContainerRecord, sig: NodeJS.Signals): number | null {
  if (isFrozen(c.id)) setFrozen(c.id, false);
  const pid1 = initPid(c.pid!);
  if (pid1) process.kill(pid1, sig);
  return pid1;
}

export function removeContainer(s: Store, c: ContainerRecord): void {
  if (running(c)) signalInit(c, 'SIGKILL');
  unmountMerged(s, c, true);
  s.removeContainer(c.id);
}

export function rm(refs: string[], o: { force?: boolean }): Promise<void> {
  return withStore((s) => {
    for (const ref of refs) {
      const c = s.container(ref);
      if (running(c) && !o.force) refuse('failed', `container ${c.name} is running; stop it first or use --force`);
      removeContainer(s, c);
      console.log(ref);
    }
  });
}

/** Whether the image below a container has a path (its layers merged, without the container's). */
function lowerHas(s: Store, c: ContainerRecord): (p: string) => boolean {
  const img = s.imageById(c.image) ?? refuse('failed', `the image of container ${c.name} is gone`);
  const lower = new Union({ lowers: s.lowers(img) });
  return (p: string) => {
    try {
      lower.getattr(p);
      return true;
    } catch {
      return false;
    }
  };
}

/** docker diff: A (added), C (changed), D (deleted), from the upper dir, sorted by path. */
export function changes(s: Store, c: ContainerRecord): [string, string][] {
  const inLower = lowerHas(s, c);
  const out: [string, string][] = [];
  const upper = dirs(s, c).upper;
  const walk = (rel: string, underNew: boolean) => {
    for (const n of fs.readdirSync(upper + rel).sort()) {
      const p = `${rel}/${n}`;
      const st = lstat(upper + p);
      if (isWhiteout(st)) {
        out.push(['D', p]);
        continue;
      }
      const added = underNew || !inLower(p);
      out.push([added ? 'A' : 'C', p]);
      if (isDir(st.mode)) walk(p, added || isOpaque(upper + p));
    }
  };
  walk('', false);
  return out.sort((a, b) => a[1].localeCompare(b[1]));
}

export function diff(ref: string): Promise<void> {
  return withStore((s) => {
    for (const [k, p] of changes(s, s.container(ref))) console.log(`${k} ${p}`);
  });
}

export function commit(ref: string, repo: string | undefined, o: { author?: string; message?: string; change?: string[]; pause?: boolean | string }): Promise<void> {
  return withStore(async (s) => {
    const c = s.container(ref);
    const tag = repo ? parseRef(repo) : undefined;
    const img = s.imageById(c.image) ?? refuse('failed', `the image of container ${c.name} is gone`);
    // The new config is made (and -c checked) before the long work; only the layer's diffID is missing.
    const parent = s.config(img);
    const now = new Date().toISOString();
    const config = { ...parent, created: now, config: applyChanges(parent.config, o.change ?? []) };
    if (o.author) config.author = o.author;
    config.history = [...parent.history, { created: now, created_by: c.command.join(' ') || (parent.config.Cmd ?? []).join(' '), ...(o.author ? { author: o.author } : {}), ...(o.message ? { comment: o.message } : {}) }];
    // As docker, a running container is paused while its layer is read, so the layer is one moment of it.
    const pause = o.pause !== false && o.pause !== 'false' && running(c) && canFreeze(c.id) && !isFrozen(c.id);
    if (pause) setFrozen(c.id, true);
    try {
      console.log(layerImage(s, c, config, tag).id);
    } finally {
      if (pause) setFrozen(c.id, false);
    }
  });
}

/**
 * The container's upper dir as a new layer on top of its image, recorded as an image with
 * `config` (whose diff_ids get the new layer here): commit, and build's RUN and COPY steps.
 */
export function layerImage(s: Store, c: ContainerRecord, config: ImageConfig, tag?: string, parent?: string): ImageRecord {
  const below = config.rootfs.diff_ids;
  // Dirs renamed from a lower layer are written from the merged view, mounted only if there is one.
  return withMerged(s, c, (merged) =>
    s.addLayerFromTree(dirs(s, c).upper, { overlay: true, merged, lowerHas: lowerHas(s, c) }, (layer) => {
      config.rootfs = { type: 'layers' as const, diff_ids: [...below, layer.diffId] };
      return s.addImage(config, tag, parent);
    }),
  );
}

export function mountContainer(ref: string): Promise<void> {
  return withStore((s) => console.log(mountMerged(s, s.container(ref))));
}

export function umountContainer(ref: string): Promise<void> {
  return withStore((s) => unmountMerged(s, s.container(ref)));
}

export function inspect(refs: string[]): Promise<void> {
  return withStore((s) => {
    const out = refs.map((ref) => {
      try {
        return inspectImage(s, s.image(ref));
      } catch {
        const c = s.container(ref);
        const d = dirs(s, c);
        const img = s.imageById(c.image);
        return { Id: c.id, Name: c.name, Created: c.created, Image: c.image, Path: c.command[0] ?? '', Args: c.command.slice(1), State: { Status: c.state, ExitCode: c.exitCode ?? 0 }, GraphDriver: { Name: 'strata', Data: { LowerDir: img ? s.lowers(img).join(':') : '', UpperDir: d.upper, WorkDir: d.work, MergedDir: d.merged } } };
      }
    });
    console.log(JSON.stringify(out, null, 2));
  });
}

/** The container's merged filesystem as a tar on stdout (as docker export). */
export function exportCmd(ref: string): Promise<void> {
  if (process.stdout.isTTY) fatal('refusing to write a tar to a terminal; redirect it (strata export CONTAINER > fs.tar)');
  return withStore(async (s) => {
    await withMerged(s, s.container(ref), async (merged) => {
      const pack = tar.pack();
      const out = new Promise<void>((resolve, reject) => {
        (pack as unknown as Readable).pipe(process.stdout).on('error', reject);
        (pack as unknown as Readable).on('end', resolve);
      });
      await writeTree(merged(), pack);
      await out;
    });
  });
}

/** docker logs: what a detached container wrote (its supervisor's log); -f follows it until the container stops. */
export function logs(ref: string, o: { follow?: boolean; tail?: string }): Promise<void> {
  return withStore(async (s) => {
    const c = s.container(ref);
    const file = `${s.containerPaths(c.id).dir}/log`;
    if (!fs.existsSync(file)) return; // never started in the background: nothing logged
    let pos = 0;
    if (o.tail !== undefined && o.tail !== 'all') {
      const n = Number(o.tail);
      if (!Number.isInteger(n) || n < 0) refuse('failed', `--tail takes a number of lines or "all", not "${o.tail}"`);
      pos = tailStart(fs.readFileSync(file), n);
    }
    const buf = Buffer.alloc(1 << 16);
    const fd = fs.openSync(file, 'r');
    try {
      for (;;) {
        let n: number;
        while ((n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0) {
          await new Promise<void>((r) => (process.stdout.write(buf.subarray(0, n)) ? r() : process.stdout.once('drain', r)));
          pos += n;
        }
        if (!o.follow || !running(s.containerById(c.id) ?? c)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** Where the last `n` lines of `text` begin (a final newline ends the last line; it starts none). */
function tailStart(text: Buffer, n: number): number {
  const end = text.length > 0 && text[text.length - 1] === 0x0a ? text.length - 1 : text.length;
  let count = 0;
  for (let i = end - 1; i >= 0; i--) if (text[i] === 0x0a && ++count === n) return i + 1;
  return n === 0 ? text.length : 0;
}

/** docker pause / unpause: freeze or thaw every process of running containers. */
export function pause(refs: string[], frozen: boolean): Promise<void> {
  return withStore((s) => {
    for (const ref of refs) {
      const c = s.container(ref);
      if (!running(c)) refuse('failed', `container ${c.name} is not running`);
      if (isFrozen(c.id) === frozen) refuse('failed', `container ${c.name} is ${frozen ? 'already' : 'not'} paused`);
      setFrozen(c.id, frozen);
      console.log(ref);
    }
  });
}
