// One FUSE connection on /dev/fuse: requests are read on the JS thread when libuv says the fd is
// readable (no thread-pool hop), handled synchronously one at a time, and answered with one write
// each. A big copy-up is the exception: its data is copied in a worker while this thread goes on
// answering; requests that change the tree wait in order behind it, and an INTERRUPT of a waiting
// request answers it EINTR at once. INIT is negotiated here; a malformed or unknown request gets an errno and a log line,
// never a crash. Notifications (cache invalidations) are queued and written after the reply of
// the request that caused them, never from inside its handling.
import { native } from '../../sys/native.js';
import { E, errnoName, toErrno } from '../../sys/errors.js';
import { INIT, KERNEL_MAJOR, MIN_READ_BUFFER, NOTIFY, OP, OP_NAMES, OUR_MINOR, SIZE } from './protocol.js';
import { readHeader, writeOutHeader, writeU64, type Header } from './wire.js';
import type { KernelOps } from './ops.js';
import { now, type MountStats } from '../../union/stats.js';

export interface SessionOptions {
  maxWrite: number;
  /** Features to ask for; each is an off-switch of its own (mount options). */
  readdirplus: boolean;
  /** Let the kernel pick READDIRPLUS or READDIR per listing chunk (READDIRPLUS_AUTO) instead of always READDIRPLUS. */
  readdirplusAuto?: boolean;
  writebackCache: boolean;
  /** Hand open files' data path to the kernel (not together with the writeback cache: the kernel refuses). */
  passthrough: boolean;
  /**
   * Busy polling: after a reply, keep reading for up to this many microseconds before sleeping in
   * epoll (0: never). Armed only while the client comes back that quickly; see `drain`.
   */
  busyPollUs?: number;
  debug?: boolean;
  log: (line: string) => void;
}

/** How long one drain may keep the JS thread before it lets the event loop run (timers, the control socket). */
const DRAIN_SLICE_MS = 5;

export interface Negotiated {
  minor: number;
  flags: bigint;
  maxWrite: number;
}

const H = SIZE.OUT_HEADER;

type Handler = (ops: KernelOps, h: Header, body: Buffer) => number;
const done: Handler = () => 0;

/** Each opcode's handler, returning its reply's payload length (IOCTL: ENOTTY, anything else: ENOSYS). */
const HANDLERS: Record<number, Handler> = {
  [OP.LOOKUP]: (o, h, b) => o.lookup(h, b),
  [OP.GETATTR]: (o, h, b) => o.getattr(h, b),
  [OP.SETATTR]: (o, h, b) => o.setattr(h, b),
  [OP.READLINK]: (o, h) => o.readlink(h),
  [OP.SYMLINK]: (o, h, b) => o.symlink(h, b),
  [OP.MKNOD]: (o, h, b) => o.mknod(h, b),
  [OP.MKDIR]: (o, h, b) => o.mkdir(h, b),
  [OP.UNLINK]: (o, h, b) => o.unlink(h, b),
  [OP.RMDIR]: (o, h, b) => o.rmdir(h, b),
  [OP.RENAME]: (o, h, b) => o.rename(h, b),
  [OP.RENAME2]: (o, h, b) => o.rename2(h, b),
  [OP.LINK]: (o, h, b) => o.link(h, b),
  [OP.OPEN]: (o, h, b) => o.open(h, b),
  [OP.READ]: (o, h, b) => o.read(h, b),
  [OP.WRITE]: (o, h, b) => o.write(h, b),
  [OP.STATFS]: (o) => o.statfs(),
  [OP.RELEASE]: (o, h, b) => o.release(h, b),
  [OP.FSYNC]: (o, h, b) => o.fsync(h, b),
  [OP.SETXATTR]: (o, h, b) => o.setxattr(h, b),
  [OP.GETXATTR]: (o, h, b) => o.getxattr(h, b),
  [OP.LISTXATTR]: (o, h, b) => o.listxattr(h, b),
  [OP.REMOVEXATTR]: (o, h, b) => o.removexattr(h, b),
  [OP.OPENDIR]: (o, h) => o.opendir(h),
  [OP.READDIR]: (o, h, b) => o.readdir(h, b, false),
  [OP.READDIRPLUS]: (o, h, b) => o.readdir(h, b, true),
  [OP.RELEASEDIR]: (o, h, b) => o.releasedir(h, b),
  [OP.FSYNCDIR]: done,
  [OP.ACCESS]: (o, h) => o.access(h),
  [OP.CREATE]: (o, h, b) => o.create(h, b),
  [OP.FALLOCATE]: (o, h, b) => o.fallocate(h, b),
  [OP.LSEEK]: (o, h, b) => o.lseek(h, b),
  [OP.COPY_FILE_RANGE]: (o, h, b) => o.copyFileRange(h, b),
  [OP.SYNCFS]: done,
  [OP.DESTROY]: done,
};

/** Requests that change the tree: they wait behind a background copy-up, in order. */
const CHANGES = new Set<number>([
  OP.SETATTR,
  OP.SYMLINK,
  OP.MKNOD,
  OP.MKDIR,
  OP.UNLINK,
  OP.RMDIR,
  OP.RENAME,
  OP.RENAME2,
  OP.LINK,
  OP.CREATE,
  OP.SETXATTR,
  OP.REMOVEXATTR,
]);

export class Session {
  private inBuf: Buffer;
  readonly out: Buffer;
  private pending: Buffer[] = [];
  private watch: object | null = null;
  negotiated: Negotiated | null = null;
  ops: KernelOps | null = null;
  private closed = false;
  /** A background copy-up in progress, and the changing requests (copied) that wait behind it. */
  private inFlight: Promise<void> | null = null;
  private queue: Buffer[] = [];
  prepareCopyUp: ((path: string) => Promise<void> | null) | null = null;
  /** Where each answered request's latency is counted (and who sent it, for the trace). */
  stats: MountStats | null = null;
  /** When the request being handled arrived; a waiting request's arrival is kept with its copy. */
  private t0 = 0;
  private arrived = new WeakMap<Buffer, number>();
  /** Busy polling: the budget in ns, whether it is armed, when the last reply went, and how it fared. */
  private readonly pollNs: number;
  private polling = false;
  private lastReply = 0;
  readonly busyPoll = { hits: 0, misses: 0 };

  constructor(
    readonly fd: number,
    private o: SessionOptions,
    private onEnd: (why: string) => void,
  ) {
    this.inBuf = Buffer.alloc(Math.max(MIN_READ_BUFFER, o.maxWrite + 4096));
    this.out = Buffer.alloc(o.maxWrite + 4096);
    this.pollNs = Math.max(0, Math.round((o.busyPollUs ?? 0) * 1000));
  }

  start(): void {
    const w = native.fuseWatch(this.fd, () => this.drain());
    if (typeof w === 'number') throw new Error(`cannot watch /dev/fuse: ${errnoName(-w)}`);
    this.watch = w;
  }

  stop(why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watch) native.fuseUnwatch(this.watch);
    this.watch = null;
    this.onEnd(why);
  }

  /**
   * Every request waiting now, each answered before the next is read (the buffer is reused).
   *
   * Busy polling: a serial client (touch, tar, a package manager) sends its next request some
   * microseconds after our reply. Sleeping in epoll in between and being woken costs more than
   * a small request itself, so while the client keeps coming back within twice the budget, the
   * read after a reply keeps trying for up to the budget. One miss disarms it until a request
   * woken from epoll shows a short gap again, so an idle mount spins at most once.
   */
  private drain(fromEpoll = true): void {
    const slice = performance.now() + DRAIN_SLICE_MS;
    let woken = fromEpoll;
    while (!this.closed) {
      const spin = this.polling && !woken;
      const n = native.fuseRead(this.fd, this.inBuf, spin ? this.pollNs : 0);
      if (n === -E.EAGAIN) {
        if (spin) {
          this.polling = false;
          this.busyPoll.misses++;
        }
        return;
      }
      if (spin) {
        if (n >= 0) this.busyPoll.hits++;
      } else if (woken && n >= 0 && this.pollNs > 0 && (performance.now() - this.lastReply) * 1e6 < 2 * this.pollNs) {
        this.polling = true; // a request that found us asleep came soon after our last reply: poll from now on
      }
      woken = false;
      if (n === -E.EINTR) continue;
      if (n === -E.ENODEV || n === -E.ECONNABORTED) return this.stop('unmounted');
      if (n < 0) return this.stop(`reading /dev/fuse failed: ${errnoName(-n)}`);
      this.handle(this.inBuf.subarray(0, n));
      this.flushNotifications();
      this.lastReply = performance.now();
      if (this.lastReply > slice) {
        // Let timers, signals and the control socket run; come back at once to keep polling.
        if (this.polling) setImmediate(() => this.drain(false));
        return;
      }
    }
  }

  /** One request (exposed for tests, which feed it bytes without a kernel). */
  handle(req: Buffer, queued = false, mayPrepare = true): void {
    if (req.length < SIZE.IN_HEADER) return this.o.log(`a request of ${req.length} bytes is shorter than its header: ignored`);
    const h = readHeader(req);
    const body = req.subarray(SIZE.IN_HEADER, Math.min(h.len, req.length));
    if (h.opcode === OP.INTERRUPT) return this.interrupt(body);
    this.t0 = (queued && this.arrived.get(req)) || now();
    if (this.ops && this.holdBack(h, body, req, queued, mayPrepare)) return;
    if (this.stats) this.stats.pid = h.pid;
    if (this.o.debug)
      this.o.log(`${OP_NAMES[h.opcode] ?? h.opcode} node ${h.nodeid} unique ${h.unique}${h.opcode === OP.WRITE ? ` ${body.readUInt32LE(16)} bytes` : ''}`);
    if (h.opcode === OP.FORGET || h.opcode === OP.BATCH_FORGET) {
      // Never answered: the kernel expects no reply.
      try {
        if (h.opcode === OP.FORGET) this.ops?.forget(h, body);
        else this.ops?.batchForget(h, body);
      } catch (err) {
        this.o.log(`FORGET failed: ${(err as Error).message}`);
      }
      this.stats?.request(OP_NAMES[h.opcode], this.t0);
      return;
    }
    if (h.opcode === OP.INIT) return this.init(h, body);
    if (!this.ops) return this.reply(h, -E.EIO, 0);
    let len: number;
    try {
      len = this.dispatch(this.ops, h, body);
    } catch (err) {
      const errno = toErrno(err);
      if (errno === E.EIO && !(err as { errno?: number })?.errno) this.o.log(`${OP_NAMES[h.opcode] ?? h.opcode} failed: ${(err as Error)?.stack ?? err}`);
      return this.reply(h, -errno, 0);
    }
    if (len < 0) return this.reply(h, len, 0); // an errno answered without a throw
    if (h.opcode === OP.DESTROY) {
      this.reply(h, 0, 0);
      return this.stop('destroyed');
    }
    this.reply(h, 0, len);
  }

  /**
   * Whether this request waits: behind a copy-up in progress (if it changes the tree), or because
   * it starts one. A waiting request is copied out of the read buffer, which the next read reuses.
   */
  private holdBack(h: Header, body: Buffer, req: Buffer, queued: boolean, mayPrepare: boolean): boolean {
    if (this.inFlight) {
      if (!CHANGES.has(h.opcode) && !(h.opcode === OP.OPEN && this.ops!.copyUpTarget(h, body))) return false;
      if (queued) this.queue.unshift(req);
      else this.queue.push(this.keep(req));
      return true;
    }
    const target = mayPrepare ? this.ops!.copyUpTarget(h, body) : null;
    const p = target ? this.prepareCopyUp?.(target) : null;
    if (!p) return false;
    this.queue.unshift(queued ? req : this.keep(req));
    this.inFlight = p.then(
      () => this.resume(true),
      (err) => {
        // The request that wanted it runs now, copying in the foreground: it gets the real error
        // (a full disk, say), where starting the background copy again would loop forever.
        this.o.log(`a background copy-up of ${target} failed: ${(err as Error).message ?? err}`);
        this.resume(false);
      },
    );
    return true;
  }

  /** A copy of a request that waits (the read buffer is reused), with its arrival time. */
  private keep(req: Buffer): Buffer {
    const copy = Buffer.from(req);
    this.arrived.set(copy, this.t0);
    return copy;
  }

  /** The copy-up is done: the waiting requests run in order (the first one finds its data ready). */
  private resume(prepared: boolean): void {
    this.inFlight = null;
    if (!prepared && this.queue.length && !this.closed) this.handle(this.queue.shift()!, true, false);
    while (this.queue.length && !this.inFlight && !this.closed) this.handle(this.queue.shift()!, true);
    this.flushNotifications();
  }

  /** INTERRUPT: a request still waiting is answered EINTR now; one already answered needs nothing. */
  private interrupt(body: Buffer): void {
    const unique = body.readBigUInt64LE(0);
    const i = this.queue.findIndex((r) => r.readBigUInt64LE(8) === unique);
    if (i < 0) return;
    const [req] = this.queue.splice(i, 1);
    this.t0 = this.arrived.get(req) ?? now();
    this.reply(readHeader(req), -E.EINTR, 0);
  }

  private dispatch(ops: KernelOps, h: Header, body: Buffer): number {
    const handler = HANDLERS[h.opcode];
    if (handler) return handler(ops, h, body);
    // FLUSH is ENOSYS on purpose: there is nothing to do at close (RELEASE closes the backing fd), and
    // after one ENOSYS the kernel stops sending it, which saves a round trip per close(2).
    throw { errno: h.opcode === OP.IOCTL ? E.ENOTTY : E.ENOSYS };
  }

  private reply(h: Header, error: number, len: number): void {
    writeOutHeader(this.out, H + len, error, h.unique);
    const r = native.fuseWrite(this.fd, this.out, H + len);
    this.stats?.request(OP_NAMES[h.opcode] ?? `OP${h.opcode}`, this.t0);
    // ENOENT: the request was interrupted and is gone; nothing to do.
    if (r < 0 && r !== -E.ENOENT) this.o.log(`reply to ${OP_NAMES[h.opcode] ?? h.opcode} failed: ${errnoName(-r)}`);
  }

  private init(h: Header, body: Buffer): void {
    const major = body.readUInt32LE(0);
    const minor = body.readUInt32LE(4);
    const maxReadahead = body.readUInt32LE(8);
    let offered = BigInt(body.readUInt32LE(12));
    if (offered & INIT.INIT_EXT && body.length >= 20) offered |= BigInt(body.readUInt32LE(16)) << 32n;
    if (major !== KERNEL_MAJOR) {
      this.o.log(`the kernel speaks FUSE ${major}.${minor}; strata speaks ${KERNEL_MAJOR}.x`);
      return this.reply(h, -E.EPROTO, 0);
    }
    let want =
      INIT.ASYNC_READ |
      INIT.ATOMIC_O_TRUNC |
      INIT.BIG_WRITES |
      INIT.MAX_PAGES |
      INIT.PARALLEL_DIROPS |
      INIT.CACHE_SYMLINKS |
      INIT.INIT_EXT |
      INIT.HAS_IOCTL_DIR |
      INIT.HANDLE_KILLPRIV_V2; // the kernel stops asking for security.capability before each write
    // Always READDIRPLUS by default: with AUTO the kernel lists a big dir's later chunks without
    // attributes unless a LOOKUP in it came first, so a `find` or a `touch` of what it found pays a
    // LOOKUP round trip for about every other name; our attributes of lower names come from the index.
    if (this.o.readdirplus) want |= INIT.DO_READDIRPLUS | (this.o.readdirplusAuto ? INIT.READDIRPLUS_AUTO : 0n);
    if (this.o.writebackCache) want |= INIT.WRITEBACK_CACHE;
    else if (this.o.passthrough) want |= INIT.PASSTHROUGH;
    const flags = want & offered;
    const o = this.out;
    o.fill(0, H, H + SIZE.INIT_OUT);
    o.writeUInt32LE(KERNEL_MAJOR, H);
    o.writeUInt32LE(Math.min(minor, OUR_MINOR), H + 4);
    o.writeUInt32LE(maxReadahead, H + 8);
    o.writeUInt32LE(Number(flags & 0xffffffffn), H + 12);
    o.writeUInt16LE(64, H + 16); // max_background
    o.writeUInt16LE(48, H + 18); // congestion_threshold
    o.writeUInt32LE(this.o.maxWrite, H + 20);
    o.writeUInt32LE(1, H + 24); // time_gran: nanoseconds
    o.writeUInt16LE(Math.ceil(this.o.maxWrite / 4096), H + 28); // max_pages
    o.writeUInt32LE(Number(flags >> 32n), H + 32);
    // Backing files sit on a plain filesystem (depth 1), which also lets overlayfs stack on this mount.
    if (flags & INIT.PASSTHROUGH) o.writeUInt32LE(1, H + 36);
    this.negotiated = { minor: Math.min(minor, OUR_MINOR), flags, maxWrite: this.o.maxWrite };
    this.reply(h, 0, SIZE.INIT_OUT);
  }

  /** Drop the kernel's cached attributes (and pages) of a node; written after the current reply. */
  invalidateInode(nodeid: number): void {
    if (!this.negotiated || this.closed) return;
    const b = Buffer.alloc(H + 24);
    writeOutHeader(b, b.length, NOTIFY.INVAL_INODE, 0n);
    writeU64(b, H, nodeid);
    b.writeBigInt64LE(-1n, H + 8); // off -1: attributes only, no pages
    b.writeBigInt64LE(0n, H + 16);
    this.pending.push(b);
  }

  private flushNotifications(): void {
    while (this.pending.length) {
      const b = this.pending.shift()!;
      const r = native.fuseWrite(this.fd, b, b.length);
      if (r < 0 && r !== -E.ENOENT) this.o.log(`a cache invalidation failed: ${errnoName(-r)}`);
    }
  }
}
