// Names and removal: tag, rmi (docker's rules: untag, then delete what is left unnamed, with the
// build steps below it) and prune. A deletion decided before the store's lock is held is asked
// for with `ifUnused`, so that a tag or a container another command adds meanwhile is never lost.
import { refuse } from '../sys/errors.js';
import { parseRef, safeRef, type ImageRecord, type Store } from '../store/store.js';
import { dangling } from './list.js';

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** Give the image `src` names the other name `dst`; returns the name as stored. */
export function tagImage(s: Store, src: string, dst: string): string {
  const ref = parseRef(dst);
  s.tag(ref, s.image(src).id);
  return ref;
}

export interface Removed {
  untagged: string[];
  deleted: string[];
}

/**
 * `rmi REF`: a tag given removes that tag; an ID removes every tag. The image goes once nothing
 * names it; then the untagged build steps below it that nothing else stands on. An image a
 * container uses is refused ('in-use'), or with `force` only untagged (what was named: a tag, or
 * with an ID every tag), and stays for its containers.
 */
export function removeImage(s: Store, ref: string, o: { force?: boolean } = {}): Removed {
  const img = s.image(ref);
  const used = s.containersOf(img.id);
  if (used.length && !o.force) refuse('in-use', `image ${ref} is used by container ${short(used[0].id)} (${used[0].name}); remove it first or use --force`);
  const tags = s.tagsOf(img.id);
  // A name removes that name alone, even with --force and a container on the image (as docker); an ID removes every name.
  const untag = tags.includes(safeRef(ref)) ? [safeRef(ref)] : tags;
  const out: Removed = { untagged: [], deleted: [] };
  for (const t of untag) if (s.untag(t)) out.untagged.push(t);
  if (used.length) return out;
  // Deleted only if, under the lock, it is still unnamed and unused (a tag may have come meanwhile).
  const gone = s.locked(() => {
    if (s.tagsOf(img.id).length || s.containersOf(img.id).length) return false;
    s.deleteImage(img.id);
    return true;
  });
  if (!gone) return out;
  out.deleted.push(img.id);
  // As docker: the build steps below it go too, as long as nothing else stands on them.
  for (
    let p = img.parent ? s.imageById(img.parent) : undefined;
    p && dangling(s).some((d) => d.id === p!.id);
    p = p.parent ? s.imageById(p.parent) : undefined
  ) {
    if (s.deleteImage(p.id, { ifUnused: true }) === null) break;
    out.deleted.push(p.id);
  }
  return out;
}

export interface Pruned {
  /** In the order done: 'untagged: REF' and 'deleted: ID' lines. */
  lines: string[];
  freed: number;
}

/**
 * Remove dangling images (with `all`, every image no container uses), until none is left. Under
 * the store lock throughout, so that what an image's tags and users are is still so when it goes.
 */
export function pruneImages(s: Store, o: { all?: boolean } = {}): Pruned {
  return s.locked(() => pruneLocked(s, o));
}

function pruneLocked(s: Store, o: { all?: boolean }): Pruned {
  const out: Pruned = { lines: [], freed: 0 };
  const drop = (img: ImageRecord): boolean => {
    for (const t of s.tagsOf(img.id)) if (s.untag(t)) out.lines.push(`untagged: ${t}`);
    const freed = s.deleteImage(img.id, { ifUnused: true });
    if (freed === null) return false; // built on, tagged or used by now: kept
    out.freed += freed;
    out.lines.push(`deleted: ${img.id}`);
    return true;
  };
  if (o.all) for (const img of s.allImages()) if (!s.containersOf(img.id).length) drop(img);
  // Dangling images, until none is left: removing one can leave the build step below it dangling.
  for (let d = dangling(s); d.length; d = dangling(s)) if (!d.map(drop).some(Boolean)) break;
  return out;
}
