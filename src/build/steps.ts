// Each Dockerfile instruction after FROM and ARG as a Step: metadata steps change the config and
// add history only; RUN, COPY and ADD add a layer (run-step.ts, copy-step.ts).
import path from 'node:path';
import { signalNumber } from '../sys/signals.js';
import type { ImageConfig } from '../oci/image.js';
import { envMap } from '../sys/key-value.js';
import { pairs, expand } from '../sys/shell-words.js';
import { DockerfileError, type Instruction } from './dockerfile.js';
import { runStep } from './run-step.js';
import { copyStep } from './copy-step.js';
import { SHELL, withHistory, type Step, type StepEnv } from './step.js';

/** The step of one instruction, its words substituted with `vars` (ENV and ARG values); `shell`: the image's SHELL. */
export function stepOf(env: StepEnv, ins: Instruction, vars: Map<string, string>, args: Map<string, string>, shell: string[] = SHELL): Step {
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
      const argv = ins.json ?? [...shell, ins.args];
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
    case 'SHELL':
      if (!ins.json || ins.json.length === 0) throw new DockerfileError('SHELL requires the arguments to be in JSON form: SHELL ["executable", "parameters"]');
      return meta(
        (c) => {
          c.config.Shell = ins.json!;
        },
        `SHELL ${JSON.stringify(ins.json)}`,
      );
    case 'STOPSIGNAL': {
      const sig = x(ins.args).trim();
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(sig) || !signalNumber(sig)) throw new DockerfileError(`STOPSIGNAL ${sig}: not a signal`);
      return meta((c) => {
        c.config.StopSignal = sig;
      });
    }
    case 'VOLUME': {
      const dirs = ins.json ?? x(ins.args).split(/\s+/).filter(Boolean);
      if (dirs.length === 0) throw new DockerfileError('VOLUME needs at least one path');
      return meta((c) => {
        for (const d of dirs) (c.config.Volumes ??= {})[d] = {};
      });
    }
    case 'HEALTHCHECK': {
      const hc = healthcheck(ins);
      return meta((c) => {
        c.config.Healthcheck = hc;
      });
    }
    case 'ONBUILD': {
      const trigger = ins.args.trim();
      const first = trigger.split(/\s+/)[0]?.toUpperCase();
      if (!first) throw new DockerfileError('ONBUILD needs an instruction');
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(first)) throw new DockerfileError(`${first} isn't allowed as an ONBUILD trigger`);
      return meta((c) => {
        c.config.OnBuild = [...(c.config.OnBuild ?? []), trigger];
      }, `ONBUILD ${trigger}`);
    }
    case 'RUN':
      return runStep(env, ins, args, shell);
    case 'COPY':
    case 'ADD':
      return copyStep(env, ins, x);
    default:
      throw new DockerfileError(
        `${ins.name} is not a supported instruction (FROM, ARG, ENV, LABEL, WORKDIR, USER, EXPOSE, CMD, ENTRYPOINT, MAINTAINER, RUN, COPY, ADD, SHELL, STOPSIGNAL, VOLUME, HEALTHCHECK, ONBUILD)`,
      );
  }
}

/** Docker's duration words (30s, 1m30s, 500ms) in nanoseconds. */
function nanos(flag: string, v: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g;
  let seen = '';
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * units[m[2]];
    seen += m[0];
  }
  if (!v || seen !== v) throw new DockerfileError(`HEALTHCHECK --${flag}=${v}: not a duration (30s, 1m30s, 500ms)`);
  return Math.round(total);
}

/** HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD command | NONE. */
function healthcheck(ins: Instruction): NonNullable<ImageConfig['config']['Healthcheck']> {
  let rest = ins.args.trim();
  const hc: NonNullable<ImageConfig['config']['Healthcheck']> = { Test: [] };
  for (let m = /^--([a-z-]+)=(\S+)\s*/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s*/.exec(rest)) {
    const [all, flag, v] = m;
    if (flag === 'interval') hc.Interval = nanos(flag, v);
    else if (flag === 'timeout') hc.Timeout = nanos(flag, v);
    else if (flag === 'start-period') hc.StartPeriod = nanos(flag, v);
    else if (flag === 'retries' && /^\d+$/.test(v)) hc.Retries = Number(v);
    else throw new DockerfileError(`HEALTHCHECK: unknown flag or value --${flag}=${v}`);
    rest = rest.slice(all.length);
  }
  if (/^NONE$/i.test(rest)) return { Test: ['NONE'] };
  const cmd = /^CMD\s+(.*)$/is.exec(rest);
  if (!cmd) throw new DockerfileError('HEALTHCHECK takes CMD command or NONE');
  let json: unknown = null;
  try {
    json = JSON.parse(cmd[1]);
  } catch {
    /* the shell form */
  }
  hc.Test = Array.isArray(json) && json.every((w) => typeof w === 'string') ? ['CMD', ...json] : ['CMD-SHELL', cmd[1]];
  return hc;
}

/** The config's ENV as a map (insertion order kept: a changed variable keeps its place). */
export const configEnv = (c: ImageConfig) => envMap(c.config.Env ?? []);
