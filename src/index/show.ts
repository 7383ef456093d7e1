// `strata index show`: one dir of a layer's index, as the index records it (what the daemon serves).
import { dirRange, recDirId, recFlags, recStat, recTail, OPAQUE, WHITEOUT } from './record.js';
import { isDir, isLnk } from '../sys/stat.js';
import { refuse } from '../sys/errors.js';
import type { IndexDb, LayerMeta } from './db.js';

export interface IndexedEntry {
  name: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  mtime: string;
  /** whiteout, dir, dir (opaque), or -> TARGET for a symlink; '' for other files. */
  kind: string;
}

/** The entries of the dir at `p` in layer `m`'s index; 'not-found' if the index has no such dir. */
export function indexedDir(db: IndexDb, m: LayerMeta, p: string): IndexedEntry[] {
  let dirId = 1;
  for (const name of p.split('/').filter(Boolean)) {
    const hit = [...db.entries.getRange(dirRange(m.num, dirId))].find(({ key }) => key.subarray(8).toString() === name);
    if (!hit || !isDir(recStat(hit.value).mode)) refuse('not-found', `${p} is not a directory in the index of ${m.root}`);
    dirId = recDirId(hit.value);
  }
  return [...db.entries.getRange(dirRange(m.num, dirId))].map(({ key, value }) => {
    const st = recStat(value);
    const flags = recFlags(value);
    const kind =
      flags & WHITEOUT ? 'whiteout' : isDir(st.mode) ? (flags & OPAQUE ? 'dir (opaque)' : 'dir') : isLnk(st.mode) ? `-> ${recTail(value).toString()}` : '';
    return {
      name: key.subarray(8).toString(),
      mode: (st.mode & 0o7777).toString(8),
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      mtime: new Date(st.mtimeSec * 1000).toISOString(),
      kind,
    };
  });
}
