// The build context: which of its files a COPY or ADD source names (never one outside it, never
// one .dockerignore leaves out), what they hold as one digest (the step's cache key), and which
// are tars for ADD to unpack.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DockerfileError } from './dockerfile.js';
import { IgnoreMatcher, type Verdict } from './ignore.js';

/** Which host paths of the context are sent (its .dockerignore applied); everything, without one. */
export type SentFilter = (hostPath: string, dir: boolean) => Verdict;

/** The context's filter: `ignore` applied to each path relative to `ctx`. */
export function sentFilter(ctx: string, ignore: IgnoreMatcher | null | undefined): SentFilter {
  if (!ignore) return () => 'in';
  return (p, dir) => {
    const rel = path.relative(ctx, p).split(path.sep).join('/');
    return rel === '' || rel === '..' || rel.startsWith('../') ? 'in' : ignore.verdict(rel, dir); // outside: not the context's (a fetched file)
  };
}

/** The context's .dockerignore (null if it has none); a bad pattern is one sentence with its line. */
export function readIgnore(ctx: string): IgnoreMatcher | null {
  const f = path.join(ctx, '.dockerignore');
  return fs.existsSync(f) ? IgnoreMatcher.parse(fs.readFileSync(f, 'utf8')) : null;
}

/**
 * The context paths a source names (a `*`, `?` or `[…]` in its last part matches names there);
 * never outside the context. `image`: ctx is an image's mounted root (COPY --from), whose absolute
 * symlinks point into the image, not out of it, and are copied as links.
 */
export function matches(ctx: string, src: string, image = false, sent: SentFilter = () => 'in'): string[] {
  const isSent = (p: string) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    return !st || sent(p, st.isDirectory()) !== 'out';
  };
  const full = path.resolve(ctx, src.replace(/^\/+/, ''));
  if (full !== ctx && !full.startsWith(ctx + path.sep)) throw new DockerfileError(`forbidden path outside the build context: ${src}`);
  const base = path.basename(full);
  if (/[*?[]/.test(base)) {
    const re = new RegExp(
      '^' +
        base
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
    );
    const dir = path.dirname(full);
    const hits = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((n) => re.test(n))
          .sort()
          .map((n) => path.join(dir, n))
          .filter(isSent)
      : [];
    if (hits.length === 0) throw new DockerfileError(`no file in the build context matches ${src}`);
    return hits;
  }
  if (!fs.existsSync(full) && !fs.lstatSync(full, { throwIfNoEntry: false }))
    throw new DockerfileError(image ? `file not found in the image: ${src}` : `file not found in the build context: ${src}`);
  if (!isSent(full)) throw new DockerfileError(`file not found in the build context or excluded by .dockerignore: ${src}`);
  if (image) return [full];
  const real = fs.realpathSync(full);
  if (real !== ctx && !real.startsWith(ctx + path.sep)) throw new DockerfileError(`forbidden path outside the build context: ${src} (a symlink out of it)`);
  return [full];
}

/**
 * The sha256 of what the sources hold: names, types, modes, contents, link targets (not times, as
 * docker), of the files sent only: an ignored file changes nothing.
 */
export function contentDigest(ctx: string, srcs: string[], sent: SentFilter = () => 'in'): string {
  const h = crypto.createHash('sha256');
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    const v = sent(p, st.isDirectory());
    if (v === 'out') return;
    // a dir left out for its contents' sake is made as docker's tar extraction makes it: 0755
    h.update(`${path.relative(ctx, p)}\0${v === 'through' ? 0o40755 : st.mode}\0`);
    if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
    else if (st.isFile()) h.update(fs.readFileSync(p));
    else if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
    h.update('\0');
  };
  for (const s of srcs) walk(s);
  return h.digest('hex');
}

/** Whether a file is a tar ADD unpacks: gzip, or a plain tar (ustar magic). */
export function isTar(p: string): boolean {
  const fd = fs.openSync(p, 'r');
  try {
    const b = Buffer.alloc(262);
    const n = fs.readSync(fd, b, 0, 262, 0);
    return (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) || (n >= 262 && b.toString('latin1', 257, 262) === 'ustar');
  } finally {
    fs.closeSync(fd);
  }
}
