// How copy-up makes its data durable before the rename, per filesystem (copy-up-sync.ts), on real
// filesystems made for the test: ext4 with a journal (ordered and writeback), ext4 without one,
// and tmpfs. Each gets a copy-up of a small and a 5 MiB file (the big one copied by the
// background worker), whose data must arrive whole.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyUpSyncFor } from '../src/union/copy-up-sync.js';
import { Union } from '../src/union/union.js';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** A fresh filesystem mounted at a temp dir, unmounted in teardown. */
function filesystem(t: { teardown(fn: () => void): void }, kind: 'ext4' | 'ext4-nojournal' | 'tmpfs', opts = ''): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-sync-'));
  const mnt = `${d}/mnt`;
  fs.mkdirSync(mnt);
  if (kind === 'tmpfs') sh('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]);
  else {
    const img = `${d}/fs.img`;
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 64 << 20);
    sh('mkfs.ext4', ['-q', '-F', ...(kind === 'ext4-nojournal' ? ['-O', '^has_journal'] : []), img]);
    sh('mount', ['-o', `loop${opts ? ',' + opts : ''}`, img, mnt]);
  }
  t.teardown(() => {
    execFileSync('umount', [mnt]);
    fs.rmSync(d, { recursive: true, force: true });
  });
  return mnt;
}

const cases: [string, 'ext4' | 'ext4-nojournal' | 'tmpfs', string, string][] = [
  ['ext4 with a journal, data=ordered', 'ext4', '', 'ordered'],
  ['ext4 with a journal, data=writeback', 'ext4', 'data=writeback', 'wait'],
  ['ext4 without a journal', 'ext4-nojournal', '', 'fsync'],
  ['tmpfs', 'tmpfs', '', 'none'],
];

for (const [name, kind, opts, want] of cases) {
  t.test(name, { timeout: 60000 }, async (t) => {
    const mnt = filesystem(t, kind, opts);
    t.equal(copyUpSyncFor(mnt), want, `copy-up syncs with '${want}'`);
    for (const x of ['lower', 'upper', 'work']) fs.mkdirSync(`${mnt}/${x}`);
    const big = crypto.randomBytes(5 << 20);
    fs.writeFileSync(`${mnt}/lower/small`, 'small data\n');
    fs.writeFileSync(`${mnt}/lower/big`, big);
    const u = new Union({ lowers: [`${mnt}/lower`], upper: `${mnt}/upper`, work: `${mnt}/work` });
    u.prepareWork();
    u.chmod('/small', 0o600);
    await u.prepareCopyUp('/big'); // the background worker copies it, with the same sync
    u.chmod('/big', 0o600);
    u.close();
    t.equal(fs.readFileSync(`${mnt}/upper/small`, 'utf8'), 'small data\n', 'the small file was copied up whole');
    t.ok(fs.readFileSync(`${mnt}/upper/big`).equals(big), 'and the 5 MiB one');
    t.same(fs.readdirSync(`${mnt}/work/work`), [], 'nothing left in the work dir');
  });
}

t.test('a filesystem strata does not know gets a full fsync', async (t) => {
  // /proc is no block filesystem: the general case.
  t.equal(copyUpSyncFor('/proc'), 'fsync');
});
