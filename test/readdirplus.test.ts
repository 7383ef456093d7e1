// READDIRPLUS on the kernel transport: by default every listing chunk carries its entries'
// attributes, so a `find` that stats what it lists makes no LOOKUP round trip; with
// --readdirplus-auto the kernel lists later chunks of a big dir without them, and pays LOOKUPs.
import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { CLI, mountStrata, tmpdir } from './helpers/mount.js';

interface Stats {
  requests: Record<string, { count: number }>;
  settings: { readdirplus: boolean; readdirplusAuto: boolean };
}

const stats = (mnt: string): Stats => JSON.parse(execFileSync(process.execPath, [CLI, 'stats', mnt, '--format', 'json'], { encoding: 'utf8' }));

t.test('always READDIRPLUS by default: a find over 3,000 entries makes no LOOKUP; --readdirplus-auto makes some', async (t) => {
  const base = tmpdir(t, 'strata-rdp-');
  fs.mkdirSync(`${base}/lower/dir`, { recursive: true });
  execFileSync('sh', ['-c', `cd ${base}/lower/dir && seq -f 'file-with-a-longish-name-%g' 1 3000 | xargs touch`]);
  const lookups: Record<string, number> = {};
  for (const mode of ['always', 'auto']) {
    fs.mkdirSync(`${base}/mnt-${mode}`);
    const m = mountStrata(t, { lowers: [`${base}/lower`], mnt: `${base}/mnt-${mode}`, args: mode === 'auto' ? ['--readdirplus-auto'] : [] });
    fs.statSync(`${m.mnt}/dir`); // its own LOOKUP, before the count
    const before = stats(m.mnt).requests.LOOKUP?.count ?? 0;
    const sizes = execFileSync('find', [`${m.mnt}/dir`, '-type', 'f', '-printf', '%s\\n'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    t.equal(sizes.length, 3000, `${mode}: find sees every file`);
    const s = stats(m.mnt);
    lookups[mode] = (s.requests.LOOKUP?.count ?? 0) - before;
    const chunks = (s.requests.READDIRPLUS?.count ?? 0) + (s.requests.READDIR?.count ?? 0);
    t.ok(chunks > 2, `${mode}: the listing took ${chunks} replies`);
    if (mode === 'always') t.notOk(s.requests.READDIR, 'always: every one a READDIRPLUS');
    else t.ok(s.requests.READDIR?.count > 0, 'auto: some plain READDIRs');
    t.same([s.settings.readdirplus, s.settings.readdirplusAuto], [true, mode === 'auto'], `${mode}: the settings say so`);
    m.umount();
  }
  t.equal(lookups.always, 0, 'always: no LOOKUP at all');
  t.ok(lookups.auto > 100, `auto: the chunks listed without attributes cost ${lookups.auto} LOOKUPs`);
});
