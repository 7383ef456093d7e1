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
import { readIgnore, sentFilter } from './context.js';
import { squash } from './squash.js';
import type { StepEvent } from './step.js';
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
  /** --target NAME: build up to that stage (and only the stages it needs). */
  target?: string;
  /** --label KEY=VALUE: labels of the final image, as a last LABEL step. */
  labels?: string[];
  /** false (--rm=false): keep each RUN step's container (default: removed once the step is done). */
  rm?: boolean;
  /** --squash: the final image's layers above its base image's merged into one. */
  squash?: boolean;
}

/**
 * What a build reports, in docker's order: `Step n/N : …`, ` ---> Using cache`, ` ---> Running in
 * ID`, `Removing intermediate container ID`, ` ---> ID`, `Successfully built …`.
 */
export type BuildEvent =
  | StepEvent
  | { type: 'step'; n: number; of: number; instruction: string }
  | { type: 'from'; image: string | null }
  | { type: 'triggers'; count: number }
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

  const plan = planStages(steps, req.target, name);
  // the Dockerfile is read above whatever .dockerignore says; COPY sees only what it lets through
  const env = { s, containers, ctx, sent: sentFilter(ctx, readIgnore(ctx)), stages: new Map<string, ImageRecord>(), rm: req.rm !== false, on };
  const globals = new Map<string, string>(); // ARGs before the first FROM: for FROM lines, and the defaults of ARGs a stage declares again
  let img: ImageRecord | null = null; // null: FROM scratch
  let base: ImageRecord | null = null; // the current stage's FROM image: what --squash merges onto
  let config: ImageConfig = newConfig();
  let args = new Map<string, string>(); // the stage's declared ARGs and their values
  const vars = () => new Map([...configEnv(config), ...args]); // ARG shadows ENV only until ENV sets it: docker's order
  const closeStage = (stage: Stage | undefined) => {
    if (!stage || !img) return;
    env.stages.set(String(stage.index), img);
    if (stage.name) env.stages.set(stage.name, img);
  };
  const todo = plan.instructions;
  if (req.labels?.length) {
    const pairs = req.labels.map((kv) => splitKeyValue(kv)).map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v ?? '')}`);
    todo.push({ ins: { line: 0, name: 'LABEL', args: pairs.join(' '), json: null }, stage: todo.at(-1)?.stage });
  }
  let current: Stage | undefined;
  /** One instruction after FROM: its image from the cache or made now. */
  const step = async (ins: Instruction) => {
    const st = stepOf(env, ins, vars(), args, config.config.Shell);
    let next: ImageRecord;
    let cached: ImageRecord | undefined;
    try {
      const key = cacheKey(img, await st.signature);
      cached = req.cache !== false ? s.cachedImage(key) : undefined;
      next = cached ?? (await st.run(img, structuredClone(config)));
      if (!cached) s.cacheStep(key, next.id);
    } finally {
      st.dispose?.();
    }
    img = next;
    config = s.config(next);
    on(cached ? { type: 'cached', image: next.id } : { type: 'made', image: next.id });
  };
  for (const [i, { ins, stage }] of todo.entries()) {
    on({ type: 'step', n: i + 1, of: todo.length, instruction: `${ins.name} ${ins.args}` });
    try {
      if (ins.name === 'ARG') {
        for (const [k, v] of argPairs(expand(ins.args, stage ? vars() : globals))) {
          if (!stage) globals.set(k, given.get(k) ?? v);
          else args.set(k, given.get(k) ?? (v || globals.get(k) || ''));
        }
        continue;
      }
      if (ins.name === 'FROM') {
        closeStage(current);
        current = stage;
        const ref = fromRef(expand(ins.args, globals));
        img = ref === 'scratch' ? null : (env.stages.get(ref.toLowerCase()) ?? s.image(ref));
        base = img;
        config = img ? structuredClone(s.config(img)) : { ...newConfig(), config: {} };
        args = new Map();
        on({ type: 'from', image: img?.id ?? null });
        // The base's ONBUILD triggers run first, as its own instructions; the new image does not inherit them.
        const triggers = config.config.OnBuild ?? [];
        delete config.config.OnBuild;
        if (triggers.length) on({ type: 'triggers', count: triggers.length });
        for (const t of triggers.flatMap((line) => parseDockerfile(line))) await step(t);
        continue;
      }
      await step(ins);
    } catch (err) {
      if (err instanceof DockerfileError) refuse('invalid', `${name}, line ${ins.line}: ${err.message}`, err);
      throw err;
    }
  }
  const built: ImageRecord = (img as ImageRecord | null) ?? refuse('invalid', 'the build made no image (a Dockerfile with only FROM scratch)');
  const final = req.squash ? squash(s, built, base, req.cache !== false) : built;
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

/** One FROM and what follows it. */
interface Stage {
  index: number;
  name?: string;
}

/** A FROM line's words, `--platform=…` left out: IMAGE [AS NAME]. */
const fromWords = (args: string) => args.split(/\s+/).filter((x) => !x.startsWith('--platform='));

/** The image a FROM line names. */
const fromRef = (args: string) => fromWords(args)[0] ?? '';

/**
 * The instructions to run: the ARGs before the first FROM, then the stages the target stage (the
 * last, or --target's) needs, through `FROM STAGE` and `COPY --from=STAGE|INDEX`, in file order.
 */
function planStages(steps: Instruction[], target: string | undefined, file: string): { instructions: { ins: Instruction; stage?: Stage }[] } {
  const stages: { stage: Stage; body: Instruction[]; deps: Set<number> }[] = [];
  const globals: Instruction[] = [];
  for (const ins of steps) {
    if (ins.name === 'FROM') {
      const w = fromWords(ins.args);
      if (w.length === 3 && w[1].toLowerCase() === 'as') {
        if (!/^[a-z][a-z0-9_.-]*$/i.test(w[2])) refuse('invalid', `${file}, line ${ins.line}: invalid stage name "${w[2]}"`);
      } else if (w.length !== 1) refuse('invalid', `${file}, line ${ins.line}: FROM takes an image and, optionally, AS NAME`);
      const stage: Stage = { index: stages.length, ...(w.length === 3 ? { name: w[2].toLowerCase() } : {}) };
      const byName = stages.find((x) => x.stage.name === w[0].toLowerCase());
      stages.push({ stage, body: [ins], deps: new Set(byName ? [byName.stage.index] : []) });
      continue;
    }
    const cur = stages.at(-1);
    if (!cur) {
      globals.push(ins); // only ARGs come before the first FROM (checked by the caller)
      continue;
    }
    cur.body.push(ins);
    const m = ins.name === 'COPY' ? /(?:^|\s)--from=(\S+)/.exec(ins.args) : null;
    if (m) {
      const ref = m[1].toLowerCase();
      const dep = /^\d+$/.test(ref) ? Number(ref) : stages.find((x) => x.stage.name === ref)?.stage.index;
      if (dep !== undefined) {
        if (dep >= cur.stage.index) refuse('invalid', `${file}, line ${ins.line}: COPY --from=${m[1]} names this stage or a later one`);
        cur.deps.add(dep);
      }
    }
  }
  const last = target ? stages.findIndex((x) => x.stage.name === target.toLowerCase()) : stages.length - 1;
  if (last < 0) refuse('invalid', `${file}: target stage "${target}" could not be found`);
  const needed = new Set<number>();
  for (const todo = [last]; todo.length;) {
    const i = todo.pop()!;
    if (needed.has(i)) continue;
    needed.add(i);
    todo.push(...stages[i].deps);
  }
  return {
    instructions: [
      ...globals.map((ins) => ({ ins })),
      ...stages.filter((x) => needed.has(x.stage.index)).flatMap((x) => x.body.map((ins) => ({ ins, stage: x.stage }))),
    ],
  };
}
