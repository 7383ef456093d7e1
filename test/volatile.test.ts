// `strata mount --volatile`, as overlayfs's volatile: copy-ups and fsync make nothing durable (the
// daemon's syscalls are watched with strace), the work dir carries a mark while mounted, a clean
// unmount syncs and removes it, and after a daemon killed mid-mount the upper dir is refused.
import t from 'tap';
import fs from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { CLI, forceUnmountUnder, isMounted, mountStrata, tmpdir, waitUntil } from './helpers/mount.js';

const daemonPid = (mnt: string) =>
  Number(
    spawnSync('pgrep', ['-f', `daemon-main.js mount ${mnt} `], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0],
  );

/** The sync syscalls the daemon makes while `script` runs in the mount (and its utimensat calls, which every copy-up makes: strace saw the daemon). */
async function syncCalls(mnt: string, script: string): Promise<{ syncs: string[]; utimensat: number }> {
  const out = `${mnt}.strace`;
  const st = spawn('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync,sync_file_range,syncfs,utimensat', '-o', out, '-p', String(daemonPid(mnt))], {
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 500)); // attached
  execFileSync('sh', ['-c', script], { cwd: mnt });
  st.kill('SIGINT');
  await new Promise((r) => st.on('close', r));
  const calls = fs
    .readFileSync(out, 'utf8')
    .split('\n')
    .map((l) => l.replace(/^\d+\s+/, '').replace(/\(.*/, ''));
  return { syncs: calls.filter((c) => /sync/.test(c)), utimensat: calls.filter((c) => c === 'utimensat').length };
}

function layers(t: Parameters<typeof tmpdir>[0]) {
  const base = tmpdir(t, 'strata-volatile-');
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${base}/${x}`);
  for (let i = 0; i < 5; i++) fs.writeFileSync(`${base}/lower/f${i}`, `file ${i}\n`);
  return { base, lowers: [`${base}/lower`], upper: `${base}/upper`, work: `${base}/work`, mnt: `${base}/mnt` };
}

t.test('copy-ups and fsync make nothing durable on a volatile mount, and do on a normal one', async (t) => {
  const l = layers(t);
  const normal = mountStrata(t, l);
  const made = await syncCalls(l.mnt, 'touch f0 && echo x >> f1 && sync f1');
  t.ok(made.syncs.length >= 2, `a normal mount syncs its copy-ups and the fsync: ${made.syncs.join(' ')}`);
  normal.umount();
  const v = mountStrata(t, { ...l, args: ['--volatile'] });
  t.ok(fs.existsSync(`${l.work}/incompat/volatile`), 'the work dir carries the volatile mark while mounted');
  const none = await syncCalls(l.mnt, 'touch f2 && echo x >> f3 && sync f3 && dd if=/dev/zero of=new bs=4k count=1 conv=fsync status=none');
  t.ok(none.utimensat >= 2, `strace saw the daemon copy up (${none.utimensat} utimensat calls)`);
  t.same(none.syncs, [], 'a volatile mount makes no sync call');
  t.equal(fs.readFileSync(`${l.mnt}/f3`, 'utf8'), 'file 3\nx\n', 'the copied-up file is whole');
  const stats = JSON.parse(execFileSync(process.execPath, [CLI, 'stats', l.mnt, '--format', 'json'], { encoding: 'utf8' }));
  t.equal(stats.settings.volatile, true, 'strata stats says so');
  v.umount();
  waitUntil(() => !fs.existsSync(`${l.work}/incompat/volatile`));
  t.pass('a clean unmount syncs and removes the mark');
  t.equal(fs.readFileSync(`${l.upper}/f3`, 'utf8'), 'file 3\nx\n');
  mountStrata(t, l).umount();
  t.pass('and the upper dir mounts again');
});

t.test('after a volatile mount whose daemon was killed, the upper dir is refused until its mark is removed', async (t) => {
  const l = layers(t);
  mountStrata(t, { ...l, args: ['--volatile'] });
  fs.writeFileSync(`${l.mnt}/f0`, 'changed\n');
  process.kill(daemonPid(l.mnt), 'SIGKILL');
  forceUnmountUnder(l.mnt);
  waitUntil(() => !isMounted(l.mnt));
  t.ok(fs.existsSync(`${l.work}/incompat/volatile`), 'the mark stays');
  for (const args of [[], ['--volatile']]) {
    const r = spawnSync(process.execPath, [CLI, 'mount', '--lower', l.lowers[0], '--upper', l.upper, '--work', l.work, ...args, l.mnt], { encoding: 'utf8' });
    t.equal(r.status, 1, `mount ${args.join(' ')} refused`);
    t.match(r.stderr, /was mounted with --volatile and not unmounted cleanly/, 'with one sentence');
    t.equal(r.stderr.trim().split('\n').length, 1);
    t.notOk(isMounted(l.mnt), 'and nothing mounted');
  }
  fs.rmSync(`${l.work}/incompat`, { recursive: true });
  mountStrata(t, l).umount();
  t.pass('once the mark is removed, it mounts');
});
