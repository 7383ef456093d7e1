// `strata index verify`: compare a layer's index with the dir as it is now, entry by entry (every
// attribute, ctime included, so in-place changes that the mount-time fingerprint of directories
// cannot see are found too).
import fs from 'node:fs';
import { lstatOrNull, isDir, isLnk } from '../sys/stat.js';
import { getRedirect, isOpaque, isWhiteout } from '../sys/overlay-format.js';
import { dirRange, recDirId, recFlags, recStat, recTail, OPAQUE, REDIRECT, WHITEOUT } from './record.js';
import type { IndexDb, LayerMeta } from './db.js';

export function verifyLayer(db: IndexDb, m: LayerMeta): string[] {
  const problems: string[] = [];
  const walk = (rel: string, dirId: number) => {
    const indexed = new Map<string, Buffer>();
    for (const { key, value } of db.entries.getRange(dirRange(m.num, dirId))) indexed.set(key.subarray(8).toString(), Buffer.from(value));
    let names: string[] = [];
    try {
      names = fs.readdirSync(m.root + rel);
    } catch (err) {
      problems.push(`${rel || '/'}: ${(err as Error).message}`);
      return;
    }
    for (const name of names) if (!indexed.has(name)) problems.push(`${rel}/${name}: on disk, not in the index`);
    for (const [name, rec] of indexed) {
      const p = `${rel}/${name}`;
      const st = lstatOrNull(m.root + p);
      if (!st) {
        problems.push(`${p}: in the index, gone from disk`);
        continue;
      }
      const was = recStat(rec);
      for (const k of ['mode', 'uid', 'gid', 'size', 'nlink', 'rdev', 'ino', 'mtimeSec', 'mtimeNsec', 'ctimeSec', 'ctimeNsec'] as const) {
        if (was[k] !== st[k]) problems.push(`${p}: ${k} was ${was[k]}, is ${st[k]}`);
      }
      const flags = recFlags(rec);
      if (!!(flags & WHITEOUT) !== isWhiteout(st)) problems.push(`${p}: whiteout mark differs`);
      if (isLnk(st.mode) && !recTail(rec).equals(fs.readlinkSync(m.root + p, { encoding: 'buffer' }))) problems.push(`${p}: link target differs`);
      if (isDir(st.mode) && isDir(was.mode)) {
        if (!!(flags & OPAQUE) !== isOpaque(m.root + p)) problems.push(`${p}: opaque mark differs`);
        if (!!(flags & REDIRECT) !== (getRedirect(m.root + p) !== null)) problems.push(`${p}: redirect differs`);
        walk(p, recDirId(rec));
      }
    }
  };
  walk('', 1);
  return problems;
}
