// The container service: a container is a record in the store, an active snapshot of its image
// (upper and work dirs, its merged view mounted with FUSE while it runs) and, while running, a
// supervisor process. Every verb returns data or throws a StrataError; nothing here prints or
// exits. The process verbs (start, stop, exec, pause) are in lifecycle.ts, the filesystem ones
// (diff, commit, export) in fs-verbs.ts, logs in logs.ts.
import path from 'node:path';
import { parseFilters } from '../image/filters.js';
import { CONTAINER_FILTERS, filterContainers } from './filters.js';
import { cliMain } from '../sys/entry-points.js';
import type { Readable } from 'node:stream';
import { refuse, StrataError } from '../sys/errors.js';
import type { ProgressSink } from '../sys/progress.js';
import type { ContainerMount, ContainerRecord, ImageRecord, Store } from '../store/store.js';
import { Volumes } from './volumes.js';
import { parseMountFlags, parsePublish } from './mount-flags.js';
import { dirSize } from '../store/usage.js';
import { running, type ContainerContext, type ContainerState } from './context.js';
import { runSpecOf } from './runtime.js';
import { isFrozen } from './freezer.js';
import { FuseSnapshotter } from './snapshot-fuse.js';
import { LocalSnapshotter } from './snapshot-local.js';
import { execIn, pauseContainer, runForeground, signalInit, startDetached, stopContainer, supervise } from './lifecycle.js';
import { attachTo, relayThrough, type AttachEnd, type AttachOptions } from './attach.js';
import { attachSocket } from './attach-wire.js';
import { parseDetachKeys } from './detach-keys.js';
import { changes, commitContainer, exportTar, type Change, type CommitRequest } from './fs-verbs.js';
import { readLog, type LogOptions } from './logs.js';
import { askDaemon, realMountpoint } from '../fuse/control.js';

export { running, type ContainerState };

/** What a new container runs with: create's and run's flags. */
export interface RunFlags {
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  tty?: boolean;
  interactive?: boolean;
  /** -v, --mount, --tmpfs as given (container/mount-flags.ts). */
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  /** -p as given, and --network host|none. */
  publish?: string[];
  network?: string;
}

export interface ContainerServiceOptions {
  /** A line for the person about something repaired on the way (a remounted view). */
  warn?: (line: string) => void;
  /** A file for the copy-up trace of every mount this service makes, its supervisors' too (run/start --trace). */
  trace?: string;
  /** The command that supervises a detached container: it is run with `start -a --supervise ID` (default: our CLI). */
  supervisor?: string[];
}

export class Containers implements ContainerContext {
  readonly fuse: FuseSnapshotter;
  readonly local: LocalSnapshotter;
  readonly supervisor: string[];
  readonly trace?: string;
  readonly volumes: Volumes;

  constructor(
    readonly s: Store,
    o: ContainerServiceOptions = {},
  ) {
    const describe = (key: string) => `container ${s.containerById(key)?.name ?? key.slice(0, 12)}`;
    this.trace = o.trace && path.resolve(o.trace); // the daemon and a supervisor run elsewhere
    this.fuse = new FuseSnapshotter(s, { describe, warn: o.warn, trace: this.trace });
    this.local = new LocalSnapshotter(s, { describe, warn: o.warn });
    this.supervisor = o.supervisor ?? [process.execPath, cliMain];
    this.volumes = new Volumes(s);
  }

  get(ref: string): ContainerRecord {
    return this.s.container(ref);
  }

  /** The record as stored now (after a verb changed it), or the one given if it is gone. */
  fresh(c: ContainerRecord): ContainerRecord {
    return this.s.containerById(c.id) ?? c;
  }

  /** A container of `image` that runs `cmd` (or the image's command): the spec is made first, so a bad one leaves nothing behind. */
  create(image: string, cmd: string[], o: RunFlags = {}): ContainerRecord {
    const img = this.s.image(image);
    const cfg = this.s.config(img).config;
    const spec = runSpecOf(cfg, { cmd, env: o.env, workdir: o.workdir, user: o.user, tty: o.tty, interactive: o.interactive });
    const network = o.network ?? 'host';
    if (network !== 'host' && network !== 'none')
      refuse('invalid', `--network ${network}: containers here use the host's network (host) or none of their own (none)`);
    const ports = (o.publish ?? []).map((p) => parsePublish(p, network));
    const requests = parseMountFlags(o);
    // volumes are made last, after everything that can refuse, and removed again if the container is not made
    const { mounts, undo } = this.volumes.plan(requests, Object.keys(cfg.Volumes ?? {}));
    try {
      return this.createWith(img, { name: o.name, cmd, spec, mounts, network, ports });
    } catch (err) {
      undo();
      throw err;
    }
  }

  /** A container with a spec made by the caller (build's RUN), or none (build's COPY: nothing runs). */
  createWith(
    img: ImageRecord,
    o: { name?: string; cmd: string[]; spec?: ContainerRecord['spec']; mounts?: ContainerMount[]; network?: 'host' | 'none'; ports?: string[] },
  ): ContainerRecord {
    const c = this.s.createContainer({
      name: o.name,
      image: img.id,
      command: o.cmd,
      ...(o.spec ? { spec: o.spec } : {}),
      ...(o.mounts?.length ? { mounts: o.mounts } : {}),
      ...(o.network && o.network !== 'host' ? { network: o.network } : {}),
      ...(o.ports?.length ? { ports: o.ports } : {}),
    });
    this.local.prepare(c.id, img);
    return c;
  }

  /** The container's snapshot, prepared now for a container made before snapshots had records. */
  snapshot(c: ContainerRecord): string {
    if (!this.local.stat(c.id)) this.local.prepare(c.id, this.s.imageById(c.image) ?? refuse('not-found', `the image of container ${c.name} is gone`));
    return c.id;
  }

  state(c: ContainerRecord): ContainerState {
    const up = running(c);
    return { running: up, paused: up && isFrozen(c.id), daemonDead: up && this.fuse.daemonDead(c.id) };
  }

  /** Containers, newest first (all, or only running ones), with their layer size if asked (it walks the upper dir). */
  list(o: { all?: boolean; size?: boolean; filters?: string[] } = {}): { c: ContainerRecord; image?: ImageRecord; size?: number; virtual?: number }[] {
    const f = parseFilters(o.filters, CONTAINER_FILTERS);
    // a status filter looks at every container, as docker's does
    const all = o.all || f.has('status');
    const list = this.s
      .allContainers()
      .filter((c) => all || running(c))
      .sort((a, b) => b.created.localeCompare(a.created));
    return filterContainers(this.s, list, f, (c) => this.state(c)).map((c) => {
      const image = this.s.imageById(c.image);
      if (!o.size) return { c, image };
      const size = dirSize(this.s.containerPaths(c.id).upper);
      return { c, image, size, virtual: size + (image ? this.s.imageSize(image) : 0) };
    });
  }

  /** Run it in the foreground until it exits: its exit code (128+N for a signal). `rm`: removed after. */
  run(c: ContainerRecord, rm = false): Promise<number> {
    return runForeground(this, c, rm);
  }

  /** Start it under a supervisor process (output to its log); resolves once it runs. */
  async start(ref: string, o: { rm?: boolean } = {}): Promise<ContainerRecord> {
    const c = this.get(ref);
    if (running(c)) refuse('conflict', `container ${c.name} is already running`);
    await startDetached(this, c, { rm: o.rm });
    return this.fresh(c);
  }

  /**
   * start -a (and run -it): until it exits; its exit code. A container with -it runs under a
   * supervisor with this terminal attached to it, as in docker, so that the detach keys leave it
   * running (then 0); any other runs in this process. `rm`: removed after it exits.
   */
  async startAttached(ref: string, o: { rm?: boolean; detachKeys?: string } = {}): Promise<number> {
    parseDetachKeys(o.detachKeys); // a bad spec starts nothing
    const c = this.get(ref);
    if (running(c)) refuse('conflict', `container ${c.name} is already running`);
    if (!(c.spec?.tty && c.spec.interactive)) return runForeground(this, c, o.rm);
    const started = startDetached(this, c, { rm: o.rm, waitAttach: true });
    // Its view is mounted here while the supervisor starts, which then finds it mounted (it mounts
    // once this terminal is attached), so run -it starts about as soon as a run in this process.
    // A mount that fails here fails there again, and the supervisor says why.
    try {
      this.fuse.mount(this.snapshot(c));
    } catch {
      // the supervisor's sentence will say it
    }
    await started.catch((err: unknown) => {
      this.fuse.unmount(c.id); // no supervisor to take it over
      throw err;
    });
    return (await relayThrough(this, c, attachSocket(this.s.containerPaths(c.id).dir), { detachKeys: o.detachKeys })).code;
  }

  /** The supervisor of a detached container (start -a --supervise): runs it with its attach socket; its exit code. */
  supervise(ref: string, o: { rm?: boolean; waitAttach?: boolean } = {}): Promise<number> {
    const c = this.get(ref);
    if (running(c)) refuse('conflict', `container ${c.name} is already running`);
    return supervise(this, c, o);
  }

  /** docker attach: this terminal to a running container's terminal (or its output, and stdin with -i), until it exits or we detach. */
  attach(ref: string, o: AttachOptions = {}): Promise<AttachEnd> {
    return attachTo(this, this.get(ref), o);
  }

  /** SIGTERM to its PID 1, SIGKILL after `secs`; a container that does not run is left as it is. */
  async stop(ref: string, secs = 10): Promise<ContainerRecord> {
    const c = this.get(ref);
    if (running(c)) await stopContainer(this, c, secs);
    return this.fresh(c);
  }

  async restart(ref: string, secs = 10): Promise<ContainerRecord> {
    const c = this.get(ref);
    if (running(c)) await stopContainer(this, c, secs);
    await startDetached(this, this.fresh(c));
    return this.fresh(c);
  }

  exec(ref: string, cmd: string[], o: { env?: string[]; tty?: boolean; interactive?: boolean } = {}): Promise<number> {
    return execIn(this, this.get(ref), cmd, o);
  }

  pause(ref: string): ContainerRecord {
    return pauseContainer(this, this.get(ref), true);
  }

  unpause(ref: string): ContainerRecord {
    return pauseContainer(this, this.get(ref), false);
  }

  logs(ref: string, o: LogOptions = {}): AsyncGenerator<Buffer> {
    return readLog(this, this.get(ref), o);
  }

  diff(ref: string): Change[] {
    return changes(this, this.get(ref));
  }

  commit(ref: string, o: CommitRequest = {}): ImageRecord {
    return commitContainer(this, this.get(ref), o);
  }

  /** Its merged filesystem as a tar stream (as docker export); the view stays mounted until the tar is written. */
  export(ref: string, progress?: ProgressSink): Readable {
    return exportTar(this, this.get(ref), progress);
  }

  /** Remove it: refused while it runs ('in-use'), unless `force`, which kills it first. `volumes`: its anonymous volumes too (rm -v). */
  remove(ref: string, o: { force?: boolean; volumes?: boolean } = {}): ContainerRecord {
    const c = this.get(ref);
    if (running(c) && !o.force) refuse('in-use', `container ${c.name} is running; stop it first or use --force`);
    this.removeRecord(c, o);
    return c;
  }

  /** `container prune`: every container that is not running goes; returns their IDs and the bytes of their layers. */
  prune(): { deleted: string[]; freed: number } {
    const out = { deleted: [] as string[], freed: 0 };
    for (const c of this.s.allContainers()) {
      if (running(c)) continue;
      out.freed += dirSize(this.s.containerPaths(c.id).upper);
      this.removeRecord(c);
      out.deleted.push(c.id);
    }
    return out;
  }

  /** Kill what runs, unmount, remove its snapshot and record (run --rm, build's containers). */
  removeRecord(c: ContainerRecord, o: { volumes?: boolean } = {}): void {
    if (running(c)) signalInit(c, 'SIGKILL');
    this.local.remove(c.id);
    this.s.removeContainer(c.id);
    if (o.volumes) this.volumes.removeAnonymousOf(c);
  }

  /** Mount its merged view (for a person's chroot); returns where. */
  mount(ref: string): string {
    const c = this.get(ref);
    return this.fuse.mount(this.snapshot(c));
  }

  umount(ref: string): void {
    this.fuse.unmount(this.get(ref).id);
  }

  /** docker inspect's view of a container. */
  async inspect(ref: string): Promise<object> {
    const c = this.get(ref);
    const d = this.s.containerPaths(c.id);
    const img = this.s.imageById(c.image);
    const LowerDir = img ? this.s.lowers(img).join(':') : '';
    const State = { Status: c.state, ExitCode: c.exitCode ?? 0 };
    const GraphDriver = { Name: 'strata', Data: { LowerDir, UpperDir: d.upper, WorkDir: d.work, MergedDir: d.merged } };
    const network = c.network ?? 'host';
    const Mounts = (c.mounts ?? []).map((m) => ({
      Type: m.type,
      ...(m.type === 'volume' ? { Name: m.source, Source: this.s.volumePath(m.source!), Driver: 'local' } : { Source: m.source ?? '' }),
      Destination: m.target,
      Mode: m.readOnly ? 'ro' : '',
      RW: !m.readOnly,
      Propagation: m.type === 'bind' ? 'rprivate' : '',
    }));
    const PortBindings = Object.fromEntries((c.ports ?? []).map((p) => [p, [{ HostIp: '', HostPort: p.split('/')[0] }]]));
    const HostConfig = {
      NetworkMode: network,
      PortBindings,
      Binds: (c.mounts ?? []).filter((m) => m.type === 'bind').map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
    };
    const NetworkSettings = { Networks: { [network]: {} }, Ports: PortBindings };
    return {
      Id: c.id,
      Name: c.name,
      Created: c.created,
      Image: c.image,
      Path: c.command[0] ?? '',
      Args: c.command.slice(1),
      State,
      HostConfig,
      Mounts,
      NetworkSettings,
      GraphDriver,
      // strata's own: the mount's live counters (`strata stats`) while it runs; null if its daemon does not answer
      ...(running(c) ? { StrataStats: await askDaemon(realMountpoint(d.merged), { op: 'stats' }, 2000).catch(() => null) } : {}),
    };
  }
}

/** Whether an error says that a name names nothing (or is no valid name): inspect then tries the next kind. */
export const notFound = (err: unknown) => err instanceof StrataError && (err.code === 'not-found' || err.code === 'invalid');
