// `ps -f status=…|name=…|ancestor=…`, with the rules of image/filters.ts (one key given twice:
// either value; different keys: all of them).
import { refuse } from '../sys/errors.js';
import type { ContainerRecord, Store } from '../store/store.js';
import type { Filters } from '../image/filters.js';
import type { ContainerState } from './context.js';

export const CONTAINER_FILTERS = ['status', 'name', 'ancestor'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** docker's status word for a container. */
export function statusWord(c: ContainerRecord, st: ContainerState): string {
  if (st.running) return st.paused ? 'paused' : 'running';
  return c.state === 'created' ? 'created' : 'exited';
}

export function filterContainers(s: Store, list: ContainerRecord[], f: Filters, state: (c: ContainerRecord) => ContainerState): ContainerRecord[] {
  if (f.size === 0) return list;
  for (const v of f.get('status') ?? []) if (!STATUSES.includes(v)) refuse('invalid', `invalid filter 'status=${v}' (one of ${STATUSES.join(', ')})`);
  const names = (f.get('name') ?? []).map((v) => {
    try {
      return new RegExp(v);
    } catch {
      return refuse('invalid', `invalid filter 'name=${v}': not a regular expression`);
    }
  });
  // an ancestor: the image itself, or one built or committed on it (through the images' parents, as docker)
  const ancestors = new Set((f.get('ancestor') ?? []).map((ref) => s.image(ref).id));
  const descends = (imageId: string) => {
    for (let img = s.imageById(imageId), depth = 0; img && depth < 10_000; img = img.parent ? s.imageById(img.parent) : undefined, depth++)
      if (ancestors.has(img.id)) return true;
    return false;
  };
  return list.filter((c) => {
    if (f.has('status') && !f.get('status')!.includes(statusWord(c, state(c)))) return false;
    if (names.length && !names.some((re) => re.test(c.name) || re.test('/' + c.name))) return false;
    if (ancestors.size && !descends(c.image)) return false;
    return true;
  });
}
