// Kernel overlayfs as the oracle: every scenario runs on a kernel overlay mount and on a strata
// mount over identical copies of the same layers; the merged trees, the step results and the
// upper dirs must match. Then each upper dir is mounted by the other implementation.
import t from 'tap';
import { buildFixture, copyFixture } from './fixture.js';
import { mountKernel, mountStrataDirect, tmpdir } from './mount.js';
import { scenarios, type Log } from './scenarios.js';
import { snapshot } from './tree.js';

const only = process.env.SCENARIO;

/** The whole differential suite, with strata answering lower layers from the index or by probing, over either transport. */
export const differential = (mode: 'index' | 'no-index', transport: 'kernel' | 'fuse-native' = 'kernel') =>
  t.test(`differential against kernel overlayfs (${mode}, ${transport})`, async (t) => {
    const args = [...(mode === 'no-index' ? ['--no-index'] : []), ...(transport === 'fuse-native' ? ['--transport', 'fuse-native'] : [])];
    const base = tmpdir(t, 'strata-diff-');
    const fixture = buildFixture(base + '/fixture');
    const mergedOpts = (since: number) => ({ since });
    const upperOpts = {
      looseDirs: true,
      keepXattr: (n: string) => n.startsWith('user.') || n === 'trusted.overlay.opaque',
    };

    for (const sc of scenarios) {
      if (only && !sc.name.includes(only)) continue;
      await t.test(sc.name, async (t) => {
        const dir = `${base}/${scenarios.indexOf(sc)}`;
        const extra = ['work', 'mnt', 'mnt2', 'work2'];
        const roots = {
          kernel: copyFixture(base + '/fixture', fixture, `${dir}/kernel`, extra),
          strata: copyFixture(base + '/fixture', fixture, `${dir}/strata`, extra),
        };
        const k = mountKernel(t, roots.kernel);
        const s = mountStrataDirect(t, { ...roots.strata, args });
        const since = Date.now() - 1000;
        const logs: Record<string, Log> = { kernel: [], strata: [] };
        sc.run(k.mnt, logs.kernel);
        sc.run(s.mnt, logs.strata);
        t.same(logs.strata, logs.kernel, 'every step answers as on kernel overlayfs');
        if (sc.settle) await new Promise((r) => setTimeout(r, 1200));
        const kTree = snapshot(k.mnt, mergedOpts(since));
        const sTree = snapshot(s.mnt, mergedOpts(since));
        t.same(sTree, kTree, 'merged trees are identical');
        k.umount();
        s.umount();

        t.same(snapshot(roots.strata.upper, upperOpts), snapshot(roots.kernel.upper, upperOpts), 'upper dirs are identical in the kernel format');

        // Cross-mount: strata's upper under the kernel, the kernel's upper under strata.
        const k2 = mountKernel(t, { ...roots.strata, work: roots.strata.work.replace(/work$/, 'work2'), mnt: roots.strata.mnt.replace(/mnt$/, 'mnt2') });
        t.same(snapshot(k2.mnt, mergedOpts(since)), sTree, "the kernel reads strata's upper dir as strata does");
        k2.umount();
        const s2 = mountStrataDirect(t, {
          ...roots.kernel,
          args,
          work: roots.kernel.work.replace(/work$/, 'work2'),
          mnt: roots.kernel.mnt.replace(/mnt$/, 'mnt2'),
        });
        t.same(snapshot(s2.mnt, mergedOpts(since)), kTree, "strata reads the kernel's upper dir as the kernel does");
        s2.umount();
      });
    }
  });
