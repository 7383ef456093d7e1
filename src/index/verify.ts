// `strata index verify`: compare a layer's index with the dir as it is now, entry by entry (every
// attribute, ctime included, so in-place changes that the mount-time fingerprint of directories
// cannot see are found too).
import fs from 'node:fs';
import { isDir, isLnk } from '../sys/stat.js';
import { walkOverlay, type WalkEntry } from '../sys/overlay-walk.js';
import { dirRange, recDirId, recFlags, recStat, recTail, OPAQUE, REDIRECT, WHITEOUT } from './record.js';
import type { IndexDb, LayerMeta } from './db.js';

const ATTRS = ['mode', 'uid', 'gid', 'size', 'nlink', 'rdev', 'ino', 'mtimeSec', 'mtimeNsec', 'ctimeSec', 'ctimeNsec'] as const;

/** One indexed dir the walk is inside: the names the index has that the disk has not shown yet. */
interface OpenDir {
  rel: string;
  unseen: Map<string, Buffer>;
}

export function verifyLayer(db: IndexDb, m: LayerMeta): string[] {
  const problems: string[] = [];
  const indexed = (rel: string, dirId: number): OpenDir => {
    const unseen = new Map<string, Buffer>();
    for (const { key, value } of db.entries.getRange(dirRange(m.num, dirId))) unseen.set(key.subarray(8).toString(), Buffer.from(value));
    return { rel, unseen };
  };
  // open[d] is the dir at depth d the walk is in (depth first: an entry at depth d closes every deeper one).
  const open: OpenDir[] = [indexed('', 1)];
  const leave = (depth: number) => {
    while (open.length > depth) {
      const d = open.pop()!;
      for (const name of d.unseen.keys()) problems.push(`${d.rel}/${name}: in the index, gone from disk`);
    }
  };
  try {
    for (const e of walkOverlay(m.root, { sorted: true })) {
      leave(e.depth);
      const parent = open[e.depth - 1];
      const rec = parent.unseen.get(e.name);
      if (!rec) {
        problems.push(`${e.rel}: on disk, not in the index`);
        e.descend = false;
        continue;
      }
      parent.unseen.delete(e.name);
      compare(e, rec, problems);
      if (e.dir && isDir(recStat(rec).mode)) open.push(indexed(e.rel, recDirId(rec)));
      else e.descend = false;
    }
  } catch (err) {
    problems.push(`${m.root}: ${(err as Error).message}`);
  }
  leave(0);
  return problems;
}

/** The differences between one entry on disk and its record. */
function compare(e: WalkEntry, rec: Buffer, problems: string[]): void {
  const was = recStat(rec);
  for (const k of ATTRS) if (was[k] !== e.st[k]) problems.push(`${e.rel}: ${k} was ${was[k]}, is ${e.st[k]}`);
  const flags = recFlags(rec);
  if (!!(flags & WHITEOUT) !== e.whiteout) problems.push(`${e.rel}: whiteout mark differs`);
  if (isLnk(e.st.mode) && !recTail(rec).equals(fs.readlinkSync(e.real, { encoding: 'buffer' }))) problems.push(`${e.rel}: link target differs`);
  if (e.dir && isDir(was.mode)) {
    if (!!(flags & OPAQUE) !== e.opaque()) problems.push(`${e.rel}: opaque mark differs`);
    if (!!(flags & REDIRECT) !== (e.redirect() !== null)) problems.push(`${e.rel}: redirect differs`);
  }
}
