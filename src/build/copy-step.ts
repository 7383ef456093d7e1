// COPY and ADD: files of the context into a container of the parent image, committed as a layer.
// The files are written in process, through the snapshot's Union (copy-up and whiteouts as on the
// mount, no FUSE round trips). ADD of a local tar is unpacked by GNU tar (its formats, links and
// modes) on the FUSE mount of the same snapshot, for that source alone.
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { FsError, errnoName, refuse } from '../sys/errors.js';
import { words } from '../sys/shell-words.js';
import { DockerfileError, type Instruction } from './dockerfile.js';
import { contentDigest, isTar, matches } from './context.js';
import { RootWriter } from './root-writer.js';
import { withHistory, type Step, type StepEnv } from './step.js';
import type { ImageRecord } from '../store/store.js';
import type { ImageConfig } from '../oci/image.js';

interface Sources {
  srcs: string[];
  /** The sources ADD unpacks. */
  tars: Set<string>;
  /** Whether the destination is a dir the sources go into (rather than the name of one file). */
  intoDir: boolean;
}

export function copyStep(env: StepEnv, ins: Instruction, x: (v: string) => string): Step {
  let list = ins.json ?? words(x(ins.args));
  let from: string | undefined;
  while (list[0]?.startsWith('--')) {
    const m = /^--from=(.+)$/.exec(list[0]);
    if (!m || ins.name !== 'COPY') throw new DockerfileError(`${ins.name} flags (${list[0]}) are not supported`);
    from = m[1];
    list = list.slice(1);
  }
  if (list.length < 2) throw new DockerfileError(`${ins.name} needs a source and a destination`);
  if (from !== undefined) return copyFromStep(env, ins, from, list.slice(0, -1), list[list.length - 1]);
  const dest = list[list.length - 1];
  const srcs = list.slice(0, -1).flatMap((src) => {
    if (/^[a-z]+:\/\//i.test(src)) throw new DockerfileError(`${ins.name} of a URL (${src}) is not supported: put the file in the build context`);
    return matches(env.ctx, src);
  });
  const tars = new Set(ins.name === 'ADD' ? srcs.filter((p) => fs.statSync(p).isFile() && isTar(p)) : []);
  const digest = contentDigest(env.ctx, srcs);
  const intoDir = dest.endsWith('/') || srcs.length > 1 || (srcs.length === 1 && fs.lstatSync(srcs[0]).isDirectory() && !tars.has(srcs[0]));
  const kind = srcs.length === 1 && fs.lstatSync(srcs[0]).isDirectory() ? 'dir' : 'file';
  return {
    signature: `${ins.name} ${digest} ${dest}`,
    run: async (parent, config) =>
      commitCopy(env, ins, parent, config, dest, `/bin/sh -c #(nop) ${ins.name} ${kind}:${digest} in ${dest} `, (key, target) =>
        copySources(env, key, target, { srcs, tars, intoDir }),
      ),
  };
}

/**
 * COPY --from=STAGE|INDEX|IMAGE: the sources come from that image's filesystem, mounted read-only
 * for the step. Its image ID stands for its content in the cache key.
 */
function copyFromStep(env: StepEnv, ins: Instruction, from: string, patterns: string[], dest: string): Step {
  const img = env.stages.get(from.toLowerCase()) ?? env.s.image(from);
  const k = env.containers;
  return {
    signature: `${ins.name} --from=${img.id} ${JSON.stringify(patterns)} ${dest}`,
    run: async (parent, config) => {
      const src = k.createWith(img, { cmd: [] });
      try {
        return commitCopy(env, ins, parent, config, dest, `/bin/sh -c #(nop) COPY --from=${from} ${patterns.join(' ')} in ${dest} `, (key, target) =>
          k.fuse.withMounted(src.id, (mounted) => {
            const srcs = patterns.flatMap((p) => matches(mounted(), p, true));
            const intoDir = dest.endsWith('/') || srcs.length > 1 || (srcs.length === 1 && fs.lstatSync(srcs[0]).isDirectory());
            copySources(env, key, target, { srcs, tars: new Set(), intoDir });
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

/** The sources at `target` in the snapshot `key`, in order (a later one may overwrite an earlier). */
function copySources(env: StepEnv, key: string, target: string, o: Sources): void {
  const k = env.containers;
  let w = new RootWriter(k.local.open(key));
  w.mkdirp(o.intoDir ? target : path.posix.dirname(target));
  for (const src of o.srcs) {
    if (o.tars.has(src)) {
      const at = w.mkdirp(target);
      k.fuse.withMounted(key, (mounted) => {
        const r = spawnSync('tar', ['-xf', src, '-C', mounted() + at, '--no-same-owner'], { encoding: 'utf8' });
        if (r.status !== 0) refuse('failed', `ADD could not extract ${path.relative(env.ctx, src)}: ${r.stderr.trim()}`);
      });
      w = new RootWriter(k.local.open(key)); // the mount changed the upper dir: a fresh view, no stale lookups
    } else if (fs.lstatSync(src).isDirectory()) {
      w.copyInto(src, target);
    } else {
      w.copyEntry(src, o.intoDir || w.isDir(target) ? path.posix.join(target, path.basename(src)) : target);
    }
  }
}
