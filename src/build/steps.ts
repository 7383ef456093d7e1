// Each Dockerfile instruction after FROM and ARG as a Step: metadata steps change the config and
// add history only; RUN, COPY and ADD add a layer (run-step.ts, copy-step.ts).
import path from 'node:path';
import type { ImageConfig } from '../oci/image.js';
import { envMap } from '../sys/key-value.js';
import { pairs, expand } from '../sys/shell-words.js';
import { DockerfileError, type Instruction } from './dockerfile.js';
import { runStep } from './run-step.js';
import { copyStep } from './copy-step.js';
import { SHELL, withHistory, type Step, type StepEnv } from './step.js';

/** The step of one instruction, its words substituted with `vars` (ENV and ARG values). */
export function stepOf(env: StepEnv, ins: Instruction, vars: Map<string, string>, args: Map<string, string>): Step {
  const x = (v: string) => expand(v, vars);
  const meta = (edit: (c: ImageConfig) => void, shown = `${ins.name} ${x(ins.args)}`): Step => ({
    signature: shown,
    run: async (parent, config) => {
      edit(config);
      return env.s.addImage(withHistory(config, `/bin/sh -c #(nop)  ${shown}`, true), undefined, parent?.id);
    },
  });
  switch (ins.name) {
    case 'ENV':
      return meta((c) => {
        const e = configEnv(c);
        for (const [k, v] of pairs(x(ins.args))) e.set(k, v);
        c.config.Env = [...e].map(([k, v]) => `${k}=${v}`);
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
      return meta(
        (c) => {
          if (ins.name === 'CMD') c.config.Cmd = argv;
          else c.config.Entrypoint = argv;
        },
        `${ins.name} ${JSON.stringify(argv)}`,
      );
    }
    case 'MAINTAINER':
      return meta((c) => {
        c.author = x(ins.args);
      });
    case 'RUN':
      return runStep(env, ins, args);
    case 'COPY':
    case 'ADD':
      return copyStep(env, ins, x);
    default:
      throw new DockerfileError(
        `${ins.name} is not a supported instruction (FROM, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, CMD, ENTRYPOINT, MAINTAINER, RUN, COPY, ADD)`,
      );
  }
}

/** The config's ENV as a map (insertion order kept: a changed variable keeps its place). */
export const configEnv = (c: ImageConfig) => envMap(c.config.Env ?? []);
