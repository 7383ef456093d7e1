// Bytes a layer or container dir holds: file sizes, whiteouts and dirs counted as nothing (as docker's SIZE).
import fs from 'node:fs';
import { lstat, isDir } from '../sys/stat.js';
import { walkOverlay } from '../sys/overlay-walk.js';

export function dirSize(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = lstat(p);
  if (!isDir(st.mode)) return st.size;
  let n = 0;
  for (const e of walkOverlay(p)) if (!e.dir && !e.whiteout) n += e.st.size;
  return n;
}
