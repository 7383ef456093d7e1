// Bytes a layer or container dir holds: file sizes, whiteouts and dirs counted as nothing (as docker's SIZE).
import fs from 'node:fs';
import { lstat, isDir } from '../sys/stat.js';
import { isWhiteout } from '../sys/overlay-format.js';

export function dirSize(p: string): number {
  if (!fs.existsSync(p)) return 0;
  let n = 0;
  const walk = (q: string) => {
    const st = lstat(q);
    if (isDir(st.mode)) for (const x of fs.readdirSync(q)) walk(`${q}/${x}`);
    else if (!isWhiteout(st)) n += st.size;
  };
  walk(p);
  return n;
}
