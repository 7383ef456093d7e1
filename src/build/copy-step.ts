// COPY and ADD: files of the context into a container of the parent image, committed as a layer.
// The files are written in process, through the snapshot's Union (copy-up and whiteouts as on the
// mount, no FUSE round trips). ADD of a local tar is unpacked by GNU tar (its formats, links and
// modes) on the FUSE mount of the same snapshot, for that source alone. --chown names are looked up
// in the image being built (chown.ts); ADD of a URL fetches it first (fetch-url.ts).
import crypto from 'node:crypto';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { FsError, errnoName, refuse } from '../sys/errors.js';
import { removeTree } from '../sys/remove-tree.js';
import { words } from '../sys/shell-words.js';
import { DockerfileError, jsonForm, type Instruction } from './dockerfile.js';
import { contentDigest, isTar, matches, type SentFilter } from './context.js';
import { ownerOf } from './chown.js';
import { fetchUrl, isUrl } from './fetch-url.js';
import { RootWriter, type CopyOptions } from './root-writer.js';
import { withHistory, type Step, type StepEnv } from './step.js';
import type { ImageRecord } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';

interface Sources {
  srcs: string[];
  /** The sources ADD unpacks. */
  tars: Set<string>;
  /** Whether the destination is a dir the sources go into (rather than the name of one file). */
  intoDir: boolean;
  /** Which host files go (.dockerignore); all, without it. */
  sent?: SentFilter;
}

/** A COPY's or ADD's flags: --from (COPY only), --chown=USER[:GROUP], --chmod=OCTAL. */
interface CopyFlags {
  from?: string;
  chown?: string;
  chmod?: number;
}

export function copyStep(env: StepEnv, ins: Instruction, x: (v: string) => string): Step {
  const { flags, list } = copyArgs(ins, x);
  if (list.length < 2) throw new DockerfileError(`${ins.name} needs a source and a destination`);
  const dest = list[list.length - 1];
  const given = list.slice(0, -1);
  if (flags.from !== undefined) return copyFromStep(env, ins, flags, given, dest);
  for (const src of given) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) continue;
    if (ins.name === 'COPY') throw new DockerfileError(`COPY cannot take a URL (${src}): use ADD`);
    if (!isUrl(src)) throw new DockerfileError(`ADD takes http and https URLs only, not ${src}`);
  }
  const urls = given.filter(isUrl);
  const local = given.filter((src) => !isUrl(src)).flatMap((src) => matches(env.ctx, src, false, env.sent));
  const tars = new Set(ins.name === 'ADD' ? local.filter((p) => fs.statSync(p).isFile() && isTar(p)) : []); // a URL is never unpacked (docker's rule)
  const digest = contentDigest(env.ctx, local, env.sent);
  const dirSource = local.length === 1 && urls.length === 0 && fs.lstatSync(local[0]).isDirectory();
  const intoDir = dest.endsWith('/') || given.length > 1 || (dirSource && !tars.has(local[0]));
  const kind = dirSource ? 'dir' : 'file';
  const shown = flagWords(flags);
  const history = (sum: string) => `/bin/sh -c #(nop) ${ins.name} ${shown}${kind}:${sum} in ${dest} `;
  const copy = (srcs: string[]) => (key: string, target: string) => copySources(env, key, target, { srcs, tars, intoDir, sent: env.sent }, flags, ins);
  if (urls.length === 0) {
    return {
      signature: `${ins.name} ${shown}${digest} ${dest}`,
      run: async (parent, config) => commitCopy(env, ins, parent, config, dest, history(digest), copy(local)),
    };
  }
  // URLs are fetched before the cache is asked: their bytes are the key
  const tmp = env.s.tmpPath('add');
  const fetched = Promise.all(urls.map((u, i) => fetchUrl(u, path.join(tmp, String(i)))));
  return {
    signature: fetched.then((f) => {
      const unnamed = f.find((x) => x.name === null);
      if (unnamed && intoDir) throw new DockerfileError(`ADD cannot tell a file name from ${unnamed.url}: name the file in the destination`);
      return `${ins.name} ${shown}${digest} ${f.map((x) => `${x.url}=${x.sha256}`).join(' ')} ${dest}`;
    }),
    run: async (parent, config) => {
      const f = await fetched;
      const byUrl = new Map(f.map((x) => [x.url, x.file]));
      const srcs = given.flatMap((src) => (isUrl(src) ? [byUrl.get(src)!] : matches(env.ctx, src, false, env.sent)));
      const sum = crypto
        .createHash('sha256')
        .update(`${digest} ${f.map((x) => x.sha256).join(' ')}`)
        .digest('hex');
      return commitCopy(env, ins, parent, config, dest, history(sum), copy(srcs));
    },
    dispose: () => {
      fetched.catch(() => {}).finally(() => removeTree(tmp));
    },
  };
}

/** The flags (each `--name=value`, values substituted) and the sources and destination (JSON or shell words) of a COPY or ADD. */
function copyArgs(ins: Instruction, x: (v: string) => string): { flags: CopyFlags; list: string[] } {
  const flags: CopyFlags = {};
  const takes = ins.name === 'COPY' ? ['from', 'chown', 'chmod'] : ['chown', 'chmod'];
  let rest = ins.args;
  const seen = new Set<string>();
  for (let m = /^--(\S*)\s*/.exec(rest); m; m = /^--(\S*)\s*/.exec(rest)) {
    rest = rest.slice(m[0].length);
    const eq = m[1].indexOf('=');
    const name = eq < 0 ? m[1] : m[1].slice(0, eq);
    if (!takes.includes(name)) throw new DockerfileError(`${ins.name}: unknown flag --${name} (${ins.name} takes ${takes.map((t) => `--${t}`).join(', ')})`);
    if (seen.has(name)) throw new DockerfileError(`${ins.name}: --${name} is given twice`);
    seen.add(name);
    const v = eq < 0 ? '' : x(m[1].slice(eq + 1));
    if (v === '') throw new DockerfileError(`${ins.name} --${name} needs a value: ${FLAG_FORMS[name]}`);
    if (name === 'from') flags.from = v;
    else if (name === 'chown') {
      if (!/^[^:]+(:[^:]+)?$/.test(v)) throw new DockerfileError(`${ins.name} --chown=${v}: not USER[:GROUP] (names or numbers)`);
      flags.chown = v;
    } else {
      if (!/^[0-7]{1,4}$/.test(v)) throw new DockerfileError(`${ins.name} --chmod=${v}: not an octal mode (like 644 or 0755)`);
      flags.chmod = parseInt(v, 8);
    }
  }
  const json = rest === ins.args ? ins.json : jsonForm(rest);
  return { flags, list: json ? json.map(x) : words(x(rest)) };
}

const FLAG_FORMS: Record<string, string> = { from: '--from=STAGE|INDEX|IMAGE', chown: '--chown=USER[:GROUP]', chmod: '--chmod=OCTAL' };

/** --chown and --chmod as the step's words (its cache key and history): "" without them. */
const flagWords = (f: CopyFlags) => `${f.chown ? `--chown=${f.chown} ` : ''}${f.chmod !== undefined ? `--chmod=${f.chmod.toString(8).padStart(4, '0')} ` : ''}`;

/**
 * COPY --from=STAGE|INDEX|IMAGE: the sources come from that image's filesystem, mounted read-only
 * for the step. Its image ID stands for its content in the cache key.
 */
function copyFromStep(env: StepEnv, ins: Instruction, flags: CopyFlags, patterns: string[], dest: string): Step {
  const from = flags.from!;
  const img = env.stages.get(from.toLowerCase()) ?? env.s.image(from);
  const k = env.containers;
  const shown = flagWords(flags);
  return {
    signature: `${ins.name} --from=${img.id} ${shown}${JSON.stringify(patterns)} ${dest}`,
    run: async (parent, config) => {
      const src = k.createWith(img, { cmd: [] });
      try {
        return commitCopy(env, ins, parent, config, dest, `/bin/sh -c #(nop) COPY --from=${from} ${shown}${patterns.join(' ')} in ${dest} `, (key, target) =>
          k.fuse.withMounted(src.id, (mounted) => {
            const srcs = patterns.flatMap((p) => matches(mounted(), p, true));
            const intoDir = dest.endsWith('/') || srcs.length > 1 || (srcs.length === 1 && fs.lstatSync(srcs[0]).isDirectory());
            copySources(env, key, target, { srcs, tars: new Set(), intoDir }, flags, ins);
          }),
        );
      } finally {
        k.removeRecord(k.fresh(src));
      }
    },
  };
}

/**
 * What COPY and ADD share: a container of `parent`, which `fill` writes at DEST (against the
 * WORKDIR), committed as the step's layer; the container goes whatever happens.
 */
function commitCopy(
  env: StepEnv,
  ins: Instruction,
  parent: ImageRecord | null,
  config: ImageConfig,
  dest: string,
  createdBy: string,
  fill: (key: string, target: string) => void,
): ImageRecord {
  if (!parent) refuse('invalid', `${ins.name} needs an image below it: use FROM`);
  const k = env.containers;
  const c = k.createWith(parent, { cmd: [] });
  try {
    const target = path.posix.resolve(config.config.WorkingDir || '/', dest);
    try {
      fill(c.id, target);
    } catch (err) {
      if (err instanceof FsError) refuse('failed', `${ins.name} could not write ${target}: ${errnoName(err.errno)}`, err);
      throw err;
    }
    return k.local.commit(c.id, withHistory(config, createdBy, false), { parent: parent.id });
  } finally {
    k.removeRecord(k.fresh(c));
  }
}

/** The sources at `target` in the snapshot `key`, in order (a later one may overwrite an earlier), owned and moded as the flags say. */
function copySources(env: StepEnv, key: string, target: string, o: Sources, flags: CopyFlags, ins: Instruction): void {
  const k = env.containers;
  let w = new RootWriter(k.local.open(key));
  const owner = flags.chown ? ownerOf(w, flags.chown, ins.name) : {};
  const opts: CopyOptions = { ...owner, mode: flags.chmod, sent: o.sent };
  w.mkdirp(o.intoDir ? target : path.posix.dirname(target), owner);
  for (const src of o.srcs) {
    if (o.tars.has(src)) {
      const at = w.mkdirp(target, owner);
      k.fuse.withMounted(key, (mounted) => {
        const r = spawnSync('tar', ['-xf', src, '-C', mounted() + at, '--no-same-owner'], { encoding: 'utf8' });
        if (r.status !== 0) refuse('failed', `ADD could not extract ${path.relative(env.ctx, src)}: ${r.stderr.trim()}`);
        if (flags.chown) chownMembers(src, mounted() + at, owner);
      });
      w = new RootWriter(k.local.open(key)); // the mount changed the upper dir: a fresh view, no stale lookups
    } else if (fs.lstatSync(src).isDirectory()) {
      w.copyInto(src, target, opts);
    } else {
      w.copyEntry(src, o.intoDir || w.isDir(target) ? path.posix.join(target, path.basename(src)) : target, opts);
    }
  }
}

/** ADD --chown of a tar: every member it unpacked at `dir` (on the mount) is chowned. */
function chownMembers(tar: string, dir: string, owner: { uid?: number; gid?: number }): void {
  const r = spawnSync('tar', ['-tf', tar], { encoding: 'utf8', maxBuffer: 1 << 30 });
  for (const name of r.stdout.split('\n').filter(Boolean)) {
    const p = path.join(dir, name);
    if (p !== dir && !p.startsWith(dir + '/')) continue;
    try {
      fs.lchownSync(p, owner.uid ?? 0, owner.gid ?? 0);
    } catch {
      /* a member tar did not make (a link it refused) */
    }
  }
}
