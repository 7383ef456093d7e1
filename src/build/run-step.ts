// RUN: the command in a container of the parent image (build args in its env), its upper dir
// committed as the step's layer. The container is removed whatever happens, unless --rm=false
// keeps it (then `diff ID` shows what the step changed), as docker's classic builder does.
import { refuse } from '../sys/errors.js';
import type { Instruction } from './dockerfile.js';
import { DockerfileError } from './dockerfile.js';
import { runSpecOf } from '../container/runtime.js';
import { SHELL, withHistory, type Step, type StepEnv } from './step.js';

export function runStep(env: StepEnv, ins: Instruction, args: Map<string, string>, shell = SHELL): Step {
  const argv = ins.json ?? [...shell, ins.args];
  const argEnv = [...args].map(([k, v]) => `${k}=${v}`);
  const { containers: k } = env;
  return {
    // Build args change a RUN's result (docker's rule): they are part of its cache key.
    signature: `RUN ${JSON.stringify(argv)} ${JSON.stringify(argEnv)}`,
    run: async (parent, config) => {
      if (!parent) throw new DockerfileError('RUN needs an image with a shell: FROM scratch has none');
      const spec = runSpecOf(config.config, { cmd: argv });
      spec.env = [...argEnv.filter((a) => !spec.env.some((e) => e.startsWith(a.slice(0, a.indexOf('=') + 1)))), ...spec.env];
      const c = k.createWith(parent, { cmd: argv, spec });
      env.on({ type: 'running', container: c.id });
      let done = false;
      try {
        const code = await k.run(c);
        if (code !== 0) refuse('failed', `The command '${argv.join(' ')}' returned a non-zero code: ${code}`);
        const img = k.local.commit(c.id, withHistory(config, argv.join(' '), false), { parent: parent.id });
        done = true;
        return img;
      } finally {
        if (env.rm) {
          k.removeRecord(k.fresh(c));
          // docker says so only for a step that worked (a failed one's container goes too, as with --force-rm)
          if (done) env.on({ type: 'removed', container: c.id });
        }
      }
    },
  };
}
