// The counters of one mount (`strata stats`): requests by opcode with their latency, copy-ups by
// reason and by method, whiteouts, opaque dirs and redirects made, and how the lower layers were
// answered. Kept by the union core, so every transport reports the same. The hot path is a few
// increments: a request adds to a fixed log-scale histogram of its opcode (no allocation), and
// nothing here grows with the requests a mount serves.

/** Why an object was copied up: the change an operation made to it, or `parent` for the dirs above it. */
export type CopyUpReason = 'write' | 'truncate' | 'metadata' | 'link' | 'rename-file' | 'rename-dir' | 'parent';
/** The operation behind a copy-up; a parent dir is also copied up to create or remove a name in it. */
export type CopyUpCause = Exclude<CopyUpReason, 'parent'> | 'create' | 'remove';
/** How the data was copied; `metadata-only` when none was (a dir, a symlink, an empty file, O_TRUNC). */
export type CopyUpMethod = 'ficlone' | 'copy_file_range' | 'read-write' | 'metadata-only';

export const REASONS: readonly CopyUpReason[] = ['write', 'truncate', 'metadata', 'link', 'rename-file', 'rename-dir', 'parent'];
export const METHODS: readonly CopyUpMethod[] = ['ficlone', 'copy_file_range', 'read-write', 'metadata-only'];

/** One copy-up, as the trace writes it (the transport adds who asked). */
export interface CopyUpRecord {
  path: string;
  /** Where the object came from: its place in the lower dirs (0 = the top one) and that dir. */
  layer: { index: number; dir: string };
  size: number;
  /** File data copied: the size, or 0 when no data was copied. */
  bytes: number;
  method: CopyUpMethod;
  /** The operation's reason (for a parent dir too: then `parent` is true). */
  reason: CopyUpCause;
  parent: boolean;
  us: number;
}

export type TraceEvent =
  { event: 'copy-up'; copy: CopyUpRecord } | { event: 'whiteout' | 'opaque'; path: string } | { event: 'redirect'; path: string; target: string };

/** The clock of request latencies: milliseconds as a double (no allocation, unlike hrtime.bigint). */
export const now = (): number => performance.now();

// Latency histogram buckets, in whole µs: 0..15 exactly, then 8 buckets per power of two up to
// 2^31 µs (a bucket is at most 1/8 of its value wide): 232 counters, 928 bytes per opcode.
const EXACT = 16;
const SUB = 8;
const BUCKETS = EXACT + (31 - 4) * SUB;
/** More distinct opcodes than any kernel sends are lumped together (the map stays bounded). */
const MAX_OPS = 96;

export function bucketOf(us: number): number {
  if (!(us >= 1)) return 0;
  if (us < EXACT) return us | 0;
  const v = us >= 2 ** 31 ? 2 ** 31 - 1 : us >>> 0;
  const e = 31 - Math.clz32(v);
  return EXACT + (e - 4) * SUB + ((v >>> (e - 3)) & (SUB - 1));
}

/** The smallest value of a bucket (its upper bound is the next bucket's). */
export function bucketLow(b: number): number {
  if (b < EXACT) return b;
  const e = ((b - EXACT) >> 3) + 4;
  return (SUB + ((b - EXACT) & (SUB - 1))) * 2 ** (e - 3);
}

class OpLatency {
  count = 0;
  sumUs = 0;
  maxUs = 0;
  readonly hist = new Uint32Array(BUCKETS);

  add(us: number): void {
    this.count++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
    this.hist[bucketOf(us)]++;
  }

  /** The q-quantile, to within its bucket: the bucket's upper bound, or the largest value seen if that is lower. */
  quantile(q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.hist[b];
      if (seen >= rank) return Math.round(Math.min(bucketLow(b + 1), this.maxUs));
    }
    return Math.round(this.maxUs);
  }
}

export interface Tally {
  count: number;
  bytes: number;
  us: number;
}

const tally = (): Tally => ({ count: 0, bytes: 0, us: 0 });
const tallies = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, tally()])) as Record<K, Tally>;
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Lookups and listings of the lower layers: answered by the path index, or by probing after it failed. */
export interface LowerTally {
  indexHits: number;
  probeFallbacks: number;
}

export class MountStats implements LowerTally {
  readonly started = Date.now();
  /** The pid of the process whose request is being handled, set by the transport (0: unknown). */
  pid = 0;
  private ops = new Map<string, OpLatency>();
  readonly copyUps = tally();
  readonly byReason = tallies(REASONS);
  readonly byMethod = tallies(METHODS);
  whiteouts = 0;
  opaqueDirs = 0;
  redirects = 0;
  indexHits = 0;
  probeFallbacks = 0;
  /** Told of every copy-up, whiteout, opaque dir and redirect while a trace is written. */
  onEvent: ((e: TraceEvent) => void) | null = null;

  /** A request of opcode `op` that started at `t0` (from `now()`) has been answered. */
  request(op: string, t0: number): void {
    const us = (performance.now() - t0) * 1000;
    let c = this.ops.get(op);
    if (!c) {
      if (this.ops.size >= MAX_OPS) op = 'OTHER';
      c = this.ops.get(op) ?? new OpLatency();
      this.ops.set(op, c);
    }
    c.add(us);
  }

  copiedUp(r: CopyUpRecord, reason: CopyUpReason): void {
    for (const t of [this.copyUps, this.byReason[reason], this.byMethod[r.method]]) {
      t.count++;
      t.bytes += r.bytes;
      t.us += r.us;
    }
    this.onEvent?.({ event: 'copy-up', copy: r });
  }

  whiteout(path: string): void {
    this.whiteouts++;
    this.onEvent?.({ event: 'whiteout', path });
  }

  opaque(path: string): void {
    this.opaqueDirs++;
    this.onEvent?.({ event: 'opaque', path });
  }

  redirect(path: string, target: string): void {
    this.redirects++;
    this.onEvent?.({ event: 'redirect', path, target });
  }

  /** The counters as JSON-ready data (times in µs, rounded). */
  snapshot() {
    const requests: Record<string, { count: number; meanUs: number; p99Us: number; maxUs: number }> = {};
    for (const [op, c] of [...this.ops].sort((a, b) => b[1].count - a[1].count)) {
      requests[op] = { count: c.count, meanUs: round1(c.sumUs / c.count), p99Us: c.quantile(0.99), maxUs: Math.round(c.maxUs) };
    }
    const out = (t: Tally): Tally => ({ count: t.count, bytes: t.bytes, us: Math.round(t.us) });
    const map = <K extends string>(r: Record<K, Tally>) => Object.fromEntries(Object.entries<Tally>(r).map(([k, t]) => [k, out(t)])) as Record<K, Tally>;
    return {
      uptimeSec: round1((Date.now() - this.started) / 1000),
      requests,
      copyUps: { ...out(this.copyUps), byReason: map(this.byReason), byMethod: map(this.byMethod) },
      whiteouts: this.whiteouts,
      opaqueDirs: this.opaqueDirs,
      redirects: this.redirects,
      lowers: { indexHits: this.indexHits, probeFallbacks: this.probeFallbacks },
    };
  }
}

export type StatsSnapshot = ReturnType<MountStats['snapshot']>;
