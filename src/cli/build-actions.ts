// `strata build`: an image from a Dockerfile and a context dir, step by step as docker's classic
// builder does (each step an image; RUN in a container of the previous step, COPY through its
// merged view, both committed as a layer; metadata steps add history only), with a layer cache:
// a step whose parent image, instruction (after substitution), files and build args are the same
// as a cached one's reuses that image.
import crypto from 'node:crypto';
import { refuse } from '../sys/errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseRef, type ImageRecord, type Store } from '../store/store.js';
import { newConfig, type ImageConfig } from '../oci/image.js';
import { parseDockerfile, pairs, expand, words, DockerfileError, type Instruction } from '../build/dockerfile.js';
import { create, layerImage, removeContainer, runForeground, withMerged } from './container-actions.js';
import { runSpecOf } from '../container/runtime.js';
import { intermediates, withStore } from './image-actions.js';
import { humanSize, shortId } from './format.js';

export interface BuildOptions {
  tag?: string[];
  file?: string;
  cache?: boolean; // --no-cache sets false
  buildArg?: string[];
}

const SHELL = ['/bin/sh', '-c'];

export function build(context: string, o: BuildOptions): Promise<void> {
  return withStore(async (s) => {
    const ctx = fs.realpathSync(fs.existsSync(context) ? context : refuse('failed', `the build context ${context} does not exist`));
    const file = o.file ? path.resolve(o.file) : path.join(ctx, 'Dockerfile');
    if (!fs.existsSync(file)) refuse('failed', `no Dockerfile at ${file}`);
    const tags = (o.tag ?? []).map((t) => parseRef(t));
    const given = new Map((o.buildArg ?? []).map((kv) => (kv.includes('=') ? [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] : [kv, process.env[kv] ?? '']) as [string, string]));
    let steps: Instruction[];
    try {
      steps = parseDockerfile(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      return refuse('failed', `${path.basename(file)}: ${(err as Error).message}`);
    }
    if (steps.length === 0 || steps.find((i) => i.name !== 'ARG')?.name !== 'FROM') refuse('failed', `${path.basename(file)}: the first instruction must be FROM`);

    let img: ImageRecord | null = null; // null: FROM scratch
    let config: ImageConfig = newConfig();
    const args = new Map<string, string>(); // declared ARGs and their values
    const vars = () => new Map([...envMap(config), ...args]); // ARG shadows ENV only until ENV sets it: docker's order
    let n = 0;
    for (const ins of steps) {
      n++;
      process.stdout.write(`Step ${n}/${steps.length} : ${ins.name} ${ins.args}\n`);
      const where = `${path.basename(file)}, line ${ins.line}`;
      try {
        if (ins.name === 'ARG') {
          for (const [k, v] of argPairs(expand(ins.args, vars()))) args.set(k, given.get(k) ?? v);
          continue;
        }
        if (ins.name === 'FROM') {
          const ref = expand(ins.args, vars()).split(/\s+/)[0];
          if (ref === 'scratch') {
            img = null;
            config = { ...newConfig(), config: {} };
          } else {
            img = s.image(ref);
            config = s.config(img);
          }
          process.stdout.write(` ---> ${img ? shortId(img.id) : 'scratch'}\n`);
          continue;
        }
        const step = prepare(s, ins, ctx, vars(), args);
        const key = cacheKey(img, step.signature);
        const cached = o.cache !== false ? s.cachedImage(key) : undefined;
        if (cached) {
          img = cached;
          config = s.config(cached);
          process.stdout.write(` ---> Using cache\n ---> ${shortId(cached.id)}\n`);
          continue;
        }
        const next = await step.run(img, structuredClone(config));
        s.cacheStep(key, next.id);
        img = next;
        config = s.config(next);
        process.stdout.write(` ---> ${shortId(next.id)}\n`);
      } catch (err) {
        if (err instanceof DockerfileError) refuse('failed', `${where}: ${err.message}`);
        throw err;
      }
    }
    const final: ImageRecord = (img as ImageRecord | null) ?? refuse('failed', 'the build made no image (a Dockerfile with only FROM scratch)');
    for (const t of tags) s.tag(t, final.id);
    process.stdout.write(`Successfully built ${shortId(final.id)}\n`);
    for (const t of tags) process.stdout.write(`Successfully tagged ${t}\n`);
  });
}

const envMap = (c: ImageConfig) => new Map((c.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as [string, string]));

/** ARG NAME[=default] …: names without a default are declared with the empty string. */
function argPairs(args: string): [string, string][] {
  return words(args).map((w) => (w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, '']));
}

interface Step {
  /** What makes this step's result: with the parent image, its cache key. */
  signature: string;
  run(parent: ImageRecord | null, config: ImageConfig): Promise<ImageRecord>;
}

function cacheKey(parent: ImageRecord | null, signature: string): string {
  return crypto.createHash('sha256').update(`${parent?.id ?? 'scratch'}\n${signature}`).digest('hex');
}

function prepare(s: Store, ins: Instruction, ctx: string, vars: Map<string, string>, args: Map<string, string>): Step {
  const x = (v: string) => expand(v, vars);
  const meta = (edit: (c: ImageConfig) => void, shown = `${ins.name} ${x(ins.args)}`): Step => ({
    signature: shown,
    run: async (parent, config) => {
      edit(config);
      return s.addImage(withHistory(config, `/bin/sh -c #(nop)  ${shown}`, true), undefined, parent?.id);
    },
  });
  switch (ins.name) {
    case 'ENV':
      return meta((c) => {
        const env = envMap(c);
        for (const [k, v] of pairs(x(ins.args))) env.set(k, v);
        c.config.Env = [...env].map(([k, v]) => `${k}=${v}`);
      });
    case 'LABEL':
      return meta((c) => {
        c.config.Labels = { ...(c.config.Labels ?? {}), ...Object.fromEntries(pairs(x(ins.args), false)) };
      });
    case 'WORKDIR':
      return meta((c) => {
        c.config.WorkingDir = path.posix.resolve(c.config.WorkingDir || '/', x(ins.args));
      });
    case 'USER':
      return meta((c) => {
        c.config.User = x(ins.args);
      });
    case 'EXPOSE':
      return meta((c) => {
        for (const p of x(ins.args).split(/\s+/).filter(Boolean)) (c.config.ExposedPorts ??= {})[p.includes('/') ? p : `${p}/tcp`] = {};
      });
    case 'CMD':
    case 'ENTRYPOINT': {
      const argv = ins.json ?? [...SHELL, ins.args];
      return meta((c) => {
        if (ins.name === 'CMD') c.config.Cmd = argv;
        else c.config.Entrypoint = argv;
      }, `${ins.name} ${JSON.stringify(argv)}`);
    }
    case 'MAINTAINER':
      return meta((c) => {
        c.author = x(ins.args);
      });
    case 'RUN':
      return runStep(s, ins, args);
    case 'COPY':
    case 'ADD':
      return copyStep(s, ins, ctx, x);
    default:
      throw new DockerfileError(`${ins.name} is not a supported instruction (FROM, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, CMD, ENTRYPOINT, MAINTAINER, RUN, COPY, ADD)`);
  }
}

/** A step's config: made now, with its history entry (each step's image records its parent, which makes it an intermediate). */
function withHistory(config: ImageConfig, createdBy: string, empty: boolean): ImageConfig {
  const now = new Date().toISOString();
  config.created = now;
  config.history = [...config.history, { created: now, created_by: createdBy, ...(empty ? { empty_layer: true } : {}) }];
  return config;
}

/** RUN: the command in a container of the parent image (build args in its env), committed as a layer. */
function runStep(s: Store, ins: Instruction, args: Map<string, string>): Step {
  const argv = ins.json ?? [...SHELL, ins.args];
  const argEnv = [...args].map(([k, v]) => `${k}=${v}`);
  return {
    // Build args change a RUN's result (docker's rule): they are part of its cache key.
    signature: `RUN ${JSON.stringify(argv)} ${JSON.stringify(argEnv)}`,
    run: async (parent, config) => {
      if (!parent) throw new DockerfileError('RUN needs an image with a shell: FROM scratch has none');
      const spec = runSpecOf(config.config, { cmd: argv });
      spec.env = [...argEnv.filter((a) => !spec.env.some((e) => e.startsWith(a.slice(0, a.indexOf('=') + 1)))), ...spec.env];
      const c = create(s, parent.id, { cmd: argv, spec });
      try {
        const code = await runForeground(s, c);
        if (code !== 0) refuse('failed', `The command '${argv.join(' ')}' returned a non-zero code: ${code}`);
        return layerImage(s, s.containerById(c.id)!, withHistory(config, argv.join(' '), false), undefined, parent.id);
      } finally {
        removeContainer(s, s.containerById(c.id) ?? c);
      }
    },
  };
}

/** COPY/ADD: files of the context into a container of the parent image, through its merged view, committed as a layer. */
function copyStep(s: Store, ins: Instruction, ctx: string, x: (v: string) => string): Step {
  const list = ins.json ?? words(x(ins.args));
  if (list.length < 2) throw new DockerfileError(`${ins.name} needs a source and a destination`);
  if (list.some((a) => a.startsWith('--'))) throw new DockerfileError(`${ins.name} flags (${list.find((a) => a.startsWith('--'))}) are not supported`);
  const dest = list[list.length - 1];
  const srcs = list.slice(0, -1).flatMap((src) => {
    if (/^[a-z]+:\/\//i.test(src)) throw new DockerfileError(`${ins.name} of a URL (${src}) is not supported: put the file in the build context`);
    return matches(ctx, src);
  });
  const tars = new Set(ins.name === 'ADD' ? srcs.filter((p) => fs.statSync(p).isFile() && isTar(p)) : []); // ADD unpacks these
  const digest = contentDigest(ctx, srcs);
  const intoDir = dest.endsWith('/') || srcs.length > 1 || (srcs.length === 1 && fs.lstatSync(srcs[0]).isDirectory() && !tars.has(srcs[0]));
  return {
    signature: `${ins.name} ${digest} ${dest}`,
    run: async (parent, config) => {
      const c = create(s, parent?.id ?? refuse('failed', `${ins.name} needs an image below it: use FROM`), { cmd: [] });
      try {
        withMerged(s, c, (mount) => {
          const merged = mount();
          const target = path.posix.resolve(config.config.WorkingDir || '/', dest);
          const real = path.join(merged, target);
          if (intoDir) fs.mkdirSync(real, { recursive: true, mode: 0o755 });
          else fs.mkdirSync(path.dirname(real), { recursive: true, mode: 0o755 });
          for (const src of srcs) {
            if (tars.has(src)) {
              fs.mkdirSync(real, { recursive: true, mode: 0o755 });
              const r = spawnSync('tar', ['-xf', src, '-C', real, '--no-same-owner'], { encoding: 'utf8' });
              if (r.status !== 0) refuse('failed', `ADD could not extract ${path.relative(ctx, src)}: ${r.stderr.trim()}`);
            } else if (fs.lstatSync(src).isDirectory()) copyInto(src, real);
            else copyEntry(src, intoDir || isDirAt(real) ? path.join(real, path.basename(src)) : real);
          }
        });
        const kind = srcs.length === 1 && fs.lstatSync(srcs[0]).isDirectory() ? 'dir' : 'file';
        return layerImage(s, c, withHistory(config, `/bin/sh -c #(nop) ${ins.name} ${kind}:${digest} in ${dest} `, false), undefined, parent?.id);
      } finally {
        removeContainer(s, s.containerById(c.id) ?? c);
      }
    },
  };
}

const isDirAt = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

function isTar(p: string): boolean {
  const fd = fs.openSync(p, 'r');
  try {
    const b = Buffer.alloc(262);
    const n = fs.readSync(fd, b, 0, 262, 0);
    return (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) || (n >= 262 && b.toString('latin1', 257, 262) === 'ustar');
  } finally {
    fs.closeSync(fd);
  }
}

/** The context paths a source names (a `*`, `?` or `[…]` in its last part matches names there); never outside the context. */
function matches(ctx: string, src: string): string[] {
  const full = path.resolve(ctx, src.replace(/^\/+/, ''));
  if (full !== ctx && !full.startsWith(ctx + path.sep)) throw new DockerfileError(`forbidden path outside the build context: ${src}`);
  const base = path.basename(full);
  if (/[*?[]/.test(base)) {
    const re = new RegExp('^' + base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
    const dir = path.dirname(full);
    const hits = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => re.test(n)).sort().map((n) => path.join(dir, n)) : [];
    if (hits.length === 0) throw new DockerfileError(`no file in the build context matches ${src}`);
    return hits;
  }
  if (!fs.existsSync(full) && !fs.lstatSync(full, { throwIfNoEntry: false })) throw new DockerfileError(`file not found in the build context: ${src}`);
  const real = fs.realpathSync(full);
  if (real !== ctx && !real.startsWith(ctx + path.sep)) throw new DockerfileError(`forbidden path outside the build context: ${src} (a symlink out of it)`);
  return [full];
}

/** The sha256 of what the sources hold: names, types, modes, contents, link targets (not times, as docker). */
function contentDigest(ctx: string, srcs: string[]): string {
  const h = crypto.createHash('sha256');
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    h.update(`${path.relative(ctx, p)}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
    else if (st.isFile()) h.update(fs.readFileSync(p));
    else if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
    h.update('\0');
  };
  for (const s of srcs) walk(s);
  return h.digest('hex');
}

/** A dir's contents into `dst` (made if missing), as docker COPY: modes and times kept, owned by root. */
function copyInto(src: string, dst: string): void {
  fs.mkdirSync(dst, { recursive: true, mode: 0o755 });
  for (const n of fs.readdirSync(src)) copyEntry(path.join(src, n), path.join(dst, n));
}

function copyEntry(src: string, dst: string): void {
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) {
    fs.rmSync(dst, { force: true, recursive: true });
    fs.symlinkSync(fs.readlinkSync(src), dst);
    fs.lchownSync(dst, 0, 0);
    return;
  }
  if (st.isDirectory()) {
    if (!isDirAt(dst)) fs.mkdirSync(dst, { mode: st.mode & 0o7777 });
    for (const n of fs.readdirSync(src)) copyEntry(path.join(src, n), path.join(dst, n));
  } else if (st.isFile()) {
    fs.copyFileSync(src, dst);
  } else {
    return; // sockets, FIFOs and devices in a build context are left out, as docker does
  }
  fs.chownSync(dst, 0, 0);
  fs.chmodSync(dst, st.mode & 0o7777);
  fs.utimesSync(dst, st.atime, st.mtime);
}

/** Cached build steps whose image still exists. */
export function cacheEntries(s: Store): { key: string; image: string }[] {
  return s.cacheEntries().filter((e) => e.live);
}

/** docker builder prune: forget every cached step and remove the intermediate images only the cache kept. */
export function builderPrune(): Promise<void> {
  return withStore((s) => {
    let total = 0;
    const gone = s.forgetCache();
    const used = new Set(s.allContainers().map((c) => c.image));
    for (const id of intermediates(s)) {
      const img = s.imageById(id);
      if (!img || used.has(id)) continue;
      total += s.deleteImage(img.id) ?? 0;
      console.log(`deleted: ${id}`);
    }
    console.log(`Deleted build cache objects: ${gone}\n\nTotal reclaimed space: ${humanSize(total)}`);
  });
}
