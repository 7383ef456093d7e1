// The build service: an image from a Dockerfile and a context dir, step by step as docker's classic
// builder does (each step an image; RUN in a container of the previous step, COPY through its
// snapshot, both committed as a layer; metadata steps add history only), with a layer cache: a
// step whose parent image, instruction (after substitution), files and build args are the same as
// a cached one's reuses that image. What it does is reported as BuildEvents; it prints nothing.
import fs from 'node:fs';
import path from 'node:path';
import { refuse } from '../sys/errors.js';
import { splitKeyValue } from '../sys/key-value.js';
import { expand, words } from '../sys/shell-words.js';
import { parseRef, type ImageRecord, type Store } from '../store/store.js';
import { newConfig, type ImageConfig } from '../oci/image.js';
import type { Containers } from '../container/service.js';
import { parseDockerfile, DockerfileError, type Instruction } from './dockerfile.js';
import { cacheKey } from './cache-key.js';
import { configEnv, stepOf } from './steps.js';

export interface BuildRequest {
  /** The context dir: what COPY and ADD can read. */
  context: string;
  /** The Dockerfile (default: CONTEXT/Dockerfile). */
  file?: string;
  tags?: string[];
  /** false: run every step (--no-cache). */
  cache?: boolean;
  /** --build-arg KEY=VALUE, or KEY alone for the value in our environment. */
  buildArgs?: string[];
}

/** What a build reports, in docker's order: `Step n/N : …`, ` ---> Using cache`, ` ---> ID`, `Successfully built …`. */
export type BuildEvent =
  | { type: 'step'; n: number; of: number; instruction: string }
  | { type: 'from'; image: string | null }
  | { type: 'cached'; image: string }
  | { type: 'made'; image: string }
  | { type: 'built'; image: string }
  | { type: 'tagged'; ref: string };

export async function build(s: Store, containers: Containers, req: BuildRequest, on: (e: BuildEvent) => void = () => {}): Promise<ImageRecord> {
  const ctx = fs.realpathSync(fs.existsSync(req.context) ? req.context : refuse('not-found', `the build context ${req.context} does not exist`));
  const file = req.file ? path.resolve(req.file) : path.join(ctx, 'Dockerfile');
  if (!fs.existsSync(file)) refuse('not-found', `no Dockerfile at ${file}`);
  const tags = (req.tags ?? []).map((t) => parseRef(t));
  const given = new Map((req.buildArgs ?? []).map((kv) => splitKeyValue(kv)).map(([k, v]) => [k, v ?? process.env[k] ?? ''] as [string, string]));
  const name = path.basename(file);
  let steps: Instruction[];
  try {
    steps = parseDockerfile(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return refuse('invalid', `${name}: ${(err as Error).message}`);
  }
  if (steps.length === 0 || steps.find((i) => i.name !== 'ARG')?.name !== 'FROM') refuse('invalid', `${name}: the first instruction must be FROM`);

  let img: ImageRecord | null = null; // null: FROM scratch
  let config: ImageConfig = newConfig();
  const args = new Map<string, string>(); // declared ARGs and their values
  const vars = () => new Map([...configEnv(config), ...args]); // ARG shadows ENV only until ENV sets it: docker's order
  const env = { s, containers, ctx };
  for (const [i, ins] of steps.entries()) {
    on({ type: 'step', n: i + 1, of: steps.length, instruction: `${ins.name} ${ins.args}` });
    try {
      if (ins.name === 'ARG') {
        for (const [k, v] of argPairs(expand(ins.args, vars()))) args.set(k, given.get(k) ?? v);
        continue;
      }
      if (ins.name === 'FROM') {
        const ref = expand(ins.args, vars()).split(/\s+/)[0];
        img = ref === 'scratch' ? null : s.image(ref);
        config = img ? s.config(img) : { ...newConfig(), config: {} };
        on({ type: 'from', image: img?.id ?? null });
        continue;
      }
      const step = stepOf(env, ins, vars(), args);
      const key = cacheKey(img, step.signature);
      const cached = req.cache !== false ? s.cachedImage(key) : undefined;
      const next = cached ?? (await step.run(img, structuredClone(config)));
      if (!cached) s.cacheStep(key, next.id);
      img = next;
      config = s.config(next);
      on(cached ? { type: 'cached', image: next.id } : { type: 'made', image: next.id });
    } catch (err) {
      if (err instanceof DockerfileError) refuse('invalid', `${name}, line ${ins.line}: ${err.message}`, err);
      throw err;
    }
  }
  const final: ImageRecord = (img as ImageRecord | null) ?? refuse('invalid', 'the build made no image (a Dockerfile with only FROM scratch)');
  for (const t of tags) s.tag(t, final.id);
  on({ type: 'built', image: final.id });
  for (const t of tags) on({ type: 'tagged', ref: t });
  return final;
}

/** ARG NAME[=default] …: names without a default are declared with the empty string. */
function argPairs(args: string): [string, string][] {
  return words(args).map((w) => {
    const [k, v] = splitKeyValue(w);
    return [k, v ?? ''];
  });
}
