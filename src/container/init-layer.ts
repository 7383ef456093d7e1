// The init layer, as docker has one: the mountpoints and files a running container needs that its
// image may lack (/dev, /dev/pts, /dev/shm, /proc, /sys, and /etc/hosts, /etc/hostname,
// /etc/resolv.conf, which the runtime binds per container). It is made once per image, as an
// overlay upper dir over the image's layers, so a parent the image has (/etc, say) is copied up with
// its own mode, owner and times; and it is mounted as the top lower of every container of that
// image, under the container's upper dir. So nothing of it is ever in a container's upper dir:
// not in diff, not in commit. An image that has all of them gets none.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { native } from '../sys/native.js';
import { Union, ROOT } from '../union/union.js';
import { statOrNull } from '../union/stat-or-null.js';
import type { ImageRecord, Store } from '../store/store.js';

const DIRS = ['/dev', '/dev/pts', '/dev/shm', '/proc', '/sys'];
const FILES = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];

const has = (u: Union, p: string) => statOrNull(u, p) !== null;

/** The image's init layer dir, made now if it needs one and has none yet; null when it needs none. */
export function initLayer(s: Store, img: ImageRecord): string | null {
  const dir = s.initPath(img.id);
  if (fs.existsSync(dir)) return dir;
  const lowers = s.lowers(img);
  const view = new Union({ lowers });
  const missing = [...DIRS, ...FILES].filter((p) => !has(view, p));
  if (missing.length === 0) return null;
  // Built aside and renamed into place whole; a concurrent maker's finished one wins.
  const tmp = `${s.root}/tmp/init-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(`${tmp}/upper`, { recursive: true, mode: 0o755 });
  fs.mkdirSync(`${tmp}/work`, { mode: 0o700 });
  try {
    const u = new Union({ lowers, upper: `${tmp}/upper`, work: `${tmp}/work` });
    u.prepareWork();
    for (const p of missing) {
      if (FILES.includes(p) && !has(u, '/etc')) u.mkdir('/etc', 0o755, ROOT);
      if (DIRS.includes(p)) u.mkdir(p, 0o755, ROOT);
      else u.release(u.create(p, 0o644, fs.constants.O_WRONLY, ROOT));
    }
    // A dir the image has keeps its times: what was made in it is no change of the image's.
    for (const dir of ['/', '/etc', '/dev']) {
      if (!has(view, dir) || !fs.existsSync(`${tmp}/upper${dir}`)) continue;
      const a = view.getattr(dir);
      const real = `${tmp}/upper${dir}`;
      if (dir === '/') {
        // the layer's own root dir, made here: it shows as the merged root, so it is the image's
        fs.chownSync(real, a.uid, a.gid);
        fs.chmodSync(real, a.mode & 0o7777);
      }
      native.lutimens(real, a.atimeSec, a.atimeNsec, a.mtimeSec, a.mtimeNsec);
    }
    u.close();
    fs.mkdirSync(s.initPath(''), { recursive: true });
    try {
      fs.renameSync(`${tmp}/upper`, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
