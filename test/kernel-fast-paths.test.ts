// The kernel transport's fast paths for files the mount made or copied up, each compared with
// kernel overlayfs over the same layers: a SETATTR answered by one native call (by path, or through
// the open fd tar names), and security.capability answered without a syscall for files this mount
// created, until someone sets an xattr on them.
import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mountKernel, mountStrata, tmpdir } from './helpers/mount.js';

const sh = (cwd: string, script: string) => execFileSync('sh', ['-c', script], { cwd, encoding: 'utf8' });

function both(t: Parameters<typeof tmpdir>[0], lower: (d: string) => void) {
  const base = tmpdir(t, 'strata-fast-');
  const make = (side: string) => {
    const d = `${base}/${side}`;
    for (const x of ['l', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
    lower(`${d}/l`);
    return { lowers: [`${d}/l`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` };
  };
  return { base, k: mountKernel(t, make('kernel')).mnt, s: mountStrata(t, make('strata')).mnt };
}

/** What a test compares: each name's mode, owner, size, mtime (to the ns) and xattrs; atime where `withAtime` has it (tar leaves it at now). */
function attrs(m: string, names: string[], withAtime: string[] = []): string[] {
  return names.map((n) => {
    const st = fs.lstatSync(`${m}/${n}`, { bigint: true });
    const x = sh(m, `getfattr -h -d -m - --absolute-names ${n} 2>/dev/null | grep -v '^#' | sort || true`).trim();
    return `${n} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${withAtime.includes(n) ? `a${st.atimeNs} ` : ''}m${st.mtimeNs} [${x.replace(/\n/g, ' ')}]`;
  });
}

t.test('tar -x as root: owner, mode and times of new files and of copied-up ones, as kernel overlayfs', async (t) => {
  const { base, k, s } = both(t, (l) => {
    fs.mkdirSync(`${l}/d`);
    fs.writeFileSync(`${l}/d/old`, 'lower\n');
  });
  const src = `${base}/src`;
  fs.mkdirSync(`${src}/d/sub`, { recursive: true });
  for (const [n, mode, uid] of [
    ['d/new', 0o640, 1000],
    ['d/old', 0o600, 1001],
    ['d/sub/x', 0o4755, 0],
    ['d/sub/y', 0o2710, 2000],
  ] as const) {
    fs.writeFileSync(`${src}/${n}`, `${n}\n`);
    fs.chownSync(`${src}/${n}`, uid, uid + 1);
    fs.chmodSync(`${src}/${n}`, mode);
    fs.utimesSync(`${src}/${n}`, new Date('2001-02-03T04:05:06.789Z'), new Date('2002-03-04T05:06:07.891Z'));
  }
  execFileSync('tar', ['-cf', `${base}/x.tar`, '-C', src, 'd']);
  const names = ['d/new', 'd/old', 'd/sub/x', 'd/sub/y'];
  for (const m of [k, s]) execFileSync('tar', ['-xpf', `${base}/x.tar`, '-C', m]);
  t.same(attrs(s, names), attrs(k, names));
  // and chmod, chown and touch by path (no fd), on files the mount made and on a lower file
  for (const m of [k, s]) sh(m, 'chmod 0751 d/new && chown 7:8 d/sub/y && touch -d @1000000000.5 d/sub/x && chown 9 d/sub/x && touch -m -d @999 d/old');
  t.same(attrs(s, names, ['d/sub/x']), attrs(k, names, ['d/sub/x']), 'after chmod, chown and touch by path');
});

t.test('security.capability of files the mount created: set, seen, and dropped by a write as kernel overlayfs drops it', async (t) => {
  const { k, s } = both(t, (l) => fs.writeFileSync(`${l}/lowerfile`, 'x\n'));
  const got: Record<string, string> = {};
  for (const m of [k, s]) {
    sh(m, 'echo data > made && echo data > made2 && cp lowerfile copied');
    t.equal(sh(m, 'getcap made').trim(), '', 'a new file has no capability');
    sh(m, 'setcap cap_net_raw+ep made && setcap cap_net_raw+ep copied && setcap cap_net_raw+ep made2');
    const seen = sh(m, 'getcap made copied').trim();
    sh(m, 'echo more >> made2'); // a write drops the capability (the kernel asks for it first)
    got[m] = `${seen} | after a write: ${sh(m, 'getcap made2').trim() || 'none'}`;
  }
  t.match(got[s], /made cap_net_raw=ep/, 'the capability set through the mount is seen');
  t.equal(got[s], got[k], 'as on kernel overlayfs');
});
