// Busy polling on the kernel transport: after a reply the daemon keeps reading /dev/fuse for a
// while when the client comes back fast, instead of sleeping in epoll. Checked from the daemon's
// own counters (strata stats), with the switch off, and for what it must not do: keep the
// event loop (here, the control socket) from running while a serial client never pauses.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { CLI, mountStrata, tmpdir } from './helpers/mount.js';

t.setTimeout(120_000);

interface Stats {
  settings: { busyPollUs: number; busyPoll: { hits: number; misses: number } };
}
const stats = (mnt: string, timeout = 20_000): Stats =>
  JSON.parse(execFileSync(process.execPath, [CLI, 'stats', mnt, '--format', 'json'], { encoding: 'utf8', timeout }));

const base = tmpdir(t, 'strata-busy-poll-');
fs.mkdirSync(`${base}/lower/files`, { recursive: true });
execFileSync('sh', ['-c', `cd ${base}/lower/files && seq -f 'f%g' 1 2000 | xargs touch`]);
const mount = (name: string, args: string[] = []) => {
  for (const d of ['upper', 'work', 'mnt']) fs.mkdirSync(`${base}/${name}/${d}`, { recursive: true });
  return mountStrata(t, { lowers: [`${base}/lower`], upper: `${base}/${name}/upper`, work: `${base}/${name}/work`, mnt: `${base}/${name}/mnt`, args });
};
const touchAll = (mnt: string) => execFileSync('sh', ['-c', `cd ${mnt}/files && find . -type f -print0 | xargs -0 touch`]);

t.test(
  'by default, a serial client (touch of 2,000 lower files) is caught by the busy poll',
  { skip: os.availableParallelism() < 2 && 'one CPU: busy polling is off' },
  async (t) => {
    const m = mount('default');
    touchAll(m.mnt);
    const s = stats(m.mnt).settings;
    t.equal(s.busyPollUs, 50, 'the default budget is 50 µs');
    t.ok(s.busyPoll.hits > 0, `requests read while polling: ${s.busyPoll.hits} (${s.busyPoll.misses} missed)`);
    t.equal(fs.readdirSync(`${m.mnt}/files`).length, 2000, 'every file is still there');
    t.equal(fs.readdirSync(`${base}/default/upper/files`).length, 2000, 'and every one was copied up');
    m.umount();
  },
);

t.test('--busy-poll 0: never polls', async (t) => {
  const m = mount('off', ['--busy-poll', '0']);
  touchAll(m.mnt);
  const s = stats(m.mnt).settings;
  t.equal(s.busyPollUs, 0, 'the settings say off');
  t.same(s.busyPoll, { hits: 0, misses: 0 }, 'no request was read while polling');
  const human = execFileSync(process.execPath, [CLI, 'stats', m.mnt], { encoding: 'utf8' });
  t.match(human, /busy poll off/, 'strata stats prints it');
  m.umount();
});

t.test(
  'a client that never pauses does not keep the daemon from answering its control socket',
  { skip: os.availableParallelism() < 2 && 'one CPU: busy polling is off' },
  async (t) => {
    // A budget of 10 ms, so that no pause of the client's disarms the poll: only the drain's 5 ms slices let the loop run.
    const m = mount('stream', ['--busy-poll', '10000']);
    // statfs(2) in a tight loop for up to 30 s: each request follows the last reply at once.
    const stream = spawn(
      process.execPath,
      ['-e', `const fs = require('fs'); const end = Date.now() + 30000; while (Date.now() < end) fs.statfsSync(${JSON.stringify(m.mnt)});`],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => stream.on('exit', r));
    t.teardown(() => {
      stream.kill('SIGKILL');
    });
    await new Promise((r) => setTimeout(r, 1000));
    const asked = Date.now();
    const s = stats(m.mnt, 15_000).settings;
    const took = Date.now() - asked;
    t.equal(stream.exitCode, null, 'the stream was still running when stats answered');
    t.ok(s.busyPoll.hits > 100, `the stream's requests were caught by polling (${s.busyPoll.hits})`);
    t.ok(took < 15_000, `stats answered in ${took} ms`);
    stream.kill('SIGKILL');
    await exited;
    m.umount();
  },
);

t.test('--busy-poll takes microseconds, and says so otherwise', async (t) => {
  for (const bad of ['abc', '-5', '1.5', '20000']) {
    const r = spawnSync(process.execPath, [CLI, 'mount', '--lower', `${base}/lower`, '--busy-poll', bad, `${base}/nowhere`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    t.not(r.status, 0, `${bad}: refused`);
    t.match(r.stderr, /--busy-poll takes a whole number of microseconds from 0 to 10000/, `${bad}: one sentence`);
  }
});
