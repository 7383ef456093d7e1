// strata's store commands run as a user runs them: a separate process, bound to one STRATA_ROOT.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { Store, parseRef, type ImageRecord } from '../../src/store/store.js';
import { newConfig, type RunConfig } from '../../src/oci/image.js';
import { openTar } from '../../src/oci/tar-apply.js';
import { CLI, ROOT, forceUnmountUnder } from './mount.js';

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

/**
 * An in-process store in `base/root` holding a busybox image tagged `tag` (for the service tests,
 * which call the services directly instead of the CLI); closed in teardown.
 */
export async function storeWithBusybox(t: { teardown(fn: () => unknown): void }, base: string, tag = 'busybox', run?: RunConfig) {
  execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [`${base}/busybox.tar`]);
  const s = Store.open(`${base}/root`);
  t.teardown(() => s.close());
  const config = newConfig(run);
  const img: ImageRecord = await s.addLayer(openTar(`${base}/busybox.tar`), (layer) => {
    config.rootfs.diff_ids = [layer.diffId];
    return s.addImage(config, parseRef(tag));
  });
  return { s, img };
}
