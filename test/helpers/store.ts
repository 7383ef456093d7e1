// strata's store commands run as a user runs them: a separate process, bound to one STRATA_ROOT.
import { spawnSync } from 'node:child_process';
import { CLI, forceUnmountUnder } from './mount.js';

export function storeCli(root: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, STRATA_ROOT: root };
  delete env.NODE_EXTRA_CA_CERTS; // as the installed `strata` wrapper runs it
  const strata = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  /** Run and return stdout; a failure throws with its stderr. */
  const ok = (...args: string[]) => {
    const r = strata(...args);
    if (r.status !== 0) throw new Error(`strata ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const upperOf = (c: string) => JSON.parse(ok('inspect', c))[0].GraphDriver.Data.UpperDir as string;
  /** Teardown: remove every container (rm -f kills what runs) and any mount left under the store. */
  const cleanup = () => {
    const list = strata('ps', '-a', '-q');
    const ids = list.status === 0 ? list.stdout.split('\n').filter(Boolean) : [];
    if (ids.length) strata('rm', '-f', ...ids);
    forceUnmountUnder(root);
  };
  return { env, strata, ok, upperOf, cleanup };
}
