// Dockerfile-style config changes for import and commit (`-c 'CMD ["sh"]'`, `-c 'ENV A=1'`).
import type { RunConfig } from './image.js';
import { pairs } from '../sys/shell-words.js';

import { StrataError } from '../sys/errors.js';
import { withEnv } from '../sys/key-value.js';

export class ChangeError extends StrataError {
  override name = 'ChangeError';
  constructor(message: string) {
    super('invalid', message);
  }
}

/** A JSON array, or shell form (run through /bin/sh -c, as docker does). */
function words(arg: string): string[] {
  const a = arg.trim();
  if (a.startsWith('[')) {
    try {
      const v = JSON.parse(a);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      /* fall through */
    }
    throw new ChangeError(`"${arg}" is not a JSON array of strings`);
  }
  return ['/bin/sh', '-c', a];
}

export function applyChanges(config: RunConfig, changes: string[]): RunConfig {
  const out: RunConfig = { ...config, Env: [...(config.Env ?? [])] };
  for (const c of changes) {
    const m = /^\s*(\w+)\s+(.*)$/s.exec(c);
    if (!m) throw new ChangeError(`"${c}" is not a change (INSTRUCTION ARGUMENTS)`);
    const [, ins, arg] = m;
    switch (ins.toUpperCase()) {
      case 'CMD':
        out.Cmd = words(arg);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = words(arg);
        break;
      case 'WORKDIR':
        out.WorkingDir = arg.trim();
        break;
      case 'USER':
        out.User = arg.trim();
        break;
      case 'ENV': {
        // As the Dockerfile's: several KEY=VALUE pairs with quotes, or the legacy KEY VALUE.
        let kvs: [string, string][];
        try {
          kvs = pairs(arg);
        } catch (err) {
          throw new ChangeError(`ENV ${arg}: ${(err as Error).message}`);
        }
        for (const [k, v] of kvs) out.Env = withEnv(out.Env!, k, v);
        break;
      }
      default:
        throw new ChangeError(`${ins} is not supported here (CMD, ENTRYPOINT, ENV, WORKDIR, USER)`);
    }
  }
  return out;
}
