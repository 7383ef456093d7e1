// `strata stats` for a person: a header of facts and settings, then tables in docker's style
// (requests by opcode, copy-ups by reason and by method), then the counts of the overlay marks made.
import { humanSize, table } from './format.js';

interface Tally {
  count: number;
  bytes: number;
  us: number;
}

interface Stats {
  mountpoint?: string;
  pid?: number;
  uptimeSec?: number;
  settings?: Record<string, unknown>;
  requests?: Record<string, { count: number; meanUs: number; p99Us: number; maxUs: number }>;
  copyUps?: Tally & { byReason?: Record<string, Tally>; byMethod?: Record<string, Tally> };
  whiteouts?: number;
  opaqueDirs?: number;
  redirects?: number;
  lowers?: { indexHits?: number; probeFallbacks?: number };
  openHandles?: number;
  nodes?: number;
  rssBytes?: number;
  trace?: { file: string; linesWritten: number; linesWaiting: number; dropped: number; error: string | null } | null;
}

/** A duration given in µs: 12µs, 3.4ms, 1.2s. */
export function humanUs(us: number): string {
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 1e6) return `${Number((us / 1000).toPrecision(3))}ms`;
  return `${Number((us / 1e6).toPrecision(3))}s`;
}

const onOff = (v: unknown) => (v === true ? 'on' : v === false ? 'off' : String(v));

function settingsLine(s: Record<string, unknown>): string {
  const t = (v: unknown) => (typeof v !== 'number' ? String(v) : v >= 1e5 ? `${v.toExponential().replace('e+', 'e')}s` : `${v}s`);
  return [
    `entry ${t(s.entryTimeout)}`,
    `attr ${t(s.attrTimeout)}`,
    `negative ${t(s.negativeTimeout)}`,
    `readdirplus ${s.readdirplus ? (s.readdirplusAuto ? 'auto' : 'always') : 'off'}`,
    `keep_cache ${onOff(s.keepCache)}`,
    `writeback ${onOff(s.writebackCache)}`,
    `passthrough ${onOff(s.passthrough)}`,
    `index ${onOff(s.index)}`,
    ...(s.volatile ? ['volatile'] : []),
    ...(typeof s.busyPollUs === 'number' ? [busyPollPart(s.busyPollUs, s.busyPoll as { hits: number; misses: number } | undefined)] : []),
  ].join(', ');
}

function busyPollPart(us: number, p?: { hits: number; misses: number }): string {
  if (us === 0) return 'busy poll off';
  return `busy poll ${us}µs${p ? ` (${p.hits} caught, ${p.misses} missed)` : ''}`;
}

const tallyRows = (r: Record<string, Tally> = {}) => Object.entries(r).map(([k, t]) => [k, String(t.count), humanSize(t.bytes), humanUs(t.us)]);

export function formatStats(raw: Record<string, unknown>): string {
  const s = raw as Stats;
  const set = s.settings ?? {};
  const head =
    [
      `Mountpoint: ${s.mountpoint}   Daemon: pid ${s.pid}, up ${s.uptimeSec}s, ${humanSize(s.rssBytes ?? 0)} resident   Transport: ${set.transport}${set.readOnly ? ' (read-only)' : ''}`,
      `Cache: ${settingsLine(set)}`,
    ].join('\n') + '\n';
  const reqs = Object.entries(s.requests ?? {}).map(([op, r]) => [op, String(r.count), humanUs(r.meanUs), humanUs(r.p99Us), humanUs(r.maxUs)]);
  const c = s.copyUps ?? { count: 0, bytes: 0, us: 0 };
  const total = ['total', String(c.count), humanSize(c.bytes), humanUs(c.us)];
  const marks = [
    ['whiteouts', s.whiteouts],
    ['opaque dirs', s.opaqueDirs],
    ['redirects', s.redirects],
    ['index hits', s.lowers?.indexHits],
    ['probe fallbacks', s.lowers?.probeFallbacks],
    ['open files', s.openHandles],
    ...(s.nodes !== undefined ? [['nodes', s.nodes]] : []),
  ].map(([k, v]) => [String(k), String(v ?? 0)]);
  const tr = s.trace;
  const traceLine = tr
    ? `Trace: ${tr.file}: ${tr.linesWritten} lines written, ${tr.linesWaiting} waiting, ${tr.dropped} dropped${tr.error ? ` (writing failed: ${tr.error})` : ''}`
    : 'Trace: off';
  return [
    head,
    table(['REQUEST', 'COUNT', 'MEAN', 'P99', 'MAX'], reqs),
    table(['COPY-UP REASON', 'COUNT', 'BYTES', 'TIME'], [...tallyRows(c.byReason), total]),
    table(['COPY-UP METHOD', 'COUNT', 'BYTES', 'TIME'], tallyRows(c.byMethod)),
    table(['COUNTER', 'VALUE'], marks),
    traceLine,
  ].join('\n');
}
