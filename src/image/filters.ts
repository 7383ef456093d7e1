// `-f KEY=VALUE` filters, with docker's rules: the same key given twice matches either value
// (label: both), and different keys must all match. `images` takes dangling, reference, before, since and label;
// `ps` takes status, name, ancestor (see container/filters.ts).
import { refuse } from '../sys/errors.js';
import type { ImageRecord, Store } from '../store/store.js';
import type { ImageRow } from './list.js';

export type Filters = Map<string, string[]>;

/** `-f` values, parsed and checked against the keys a command knows. */
export function parseFilters(given: string[] | undefined, known: string[]): Filters {
  const out: Filters = new Map();
  for (const f of given ?? []) {
    const i = f.indexOf('=');
    if (i <= 0) refuse('invalid', `bad format of filter "${f}" (expected KEY=VALUE)`);
    const key = f.slice(0, i).toLowerCase();
    if (!known.includes(key)) refuse('invalid', `invalid filter '${key}' (known: ${known.join(', ')})`);
    out.set(key, [...(out.get(key) ?? []), f.slice(i + 1)]);
  }
  return out;
}

/** A docker reference pattern (path.Match): `*` and `?` stay within one path component. */
export function globMatch(pattern: string, s: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(s);
}

/** A label filter: `KEY` (present) or `KEY=VALUE`. */
export function labelMatch(labels: Record<string, string> | undefined, want: string): boolean {
  const i = want.indexOf('=');
  if (i < 0) return labels?.[want] !== undefined;
  return labels?.[want.slice(0, i)] === want.slice(i + 1);
}

export const bool = (key: string, v: string): boolean => {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return refuse('invalid', `invalid filter '${key}=${v}' (true or false)`);
};

export const IMAGE_FILTERS = ['dangling', 'reference', 'before', 'since', 'label'];

/** The rows of `images` that pass the filters. */
export function filterImages(s: Store, rows: ImageRow[], f: Filters): ImageRow[] {
  if (f.size === 0) return rows;
  const created = (ref: string) => s.image(ref).created; // a missing image is 'not-found', as docker refuses it
  const before = f.get('before')?.map(created);
  const since = f.get('since')?.map(created);
  const labelsOf = new Map<string, Record<string, string> | undefined>();
  const labels = (id: string) => {
    if (!labelsOf.has(id)) labelsOf.set(id, s.config(s.imageById(id) as ImageRecord).config.Labels);
    return labelsOf.get(id);
  };
  return rows.filter((r) => {
    const untagged = r.repo === '<none>';
    if (f.has('dangling') && !f.get('dangling')!.some((v) => bool('dangling', v) === untagged)) return false;
    if (f.has('reference') && (untagged || !f.get('reference')!.some((p) => globMatch(p, r.repo) || globMatch(p, `${r.repo}:${r.tag}`)))) return false;
    if (before && !before.some((t) => r.created < t)) return false;
    if (since && !since.some((t) => r.created > t)) return false;
    if (f.has('label') && !f.get('label')!.every((l) => labelMatch(labels(r.id), l))) return false; // labels: all of them, as docker
    return true;
  });
}
