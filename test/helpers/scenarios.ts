// Operation scripts run identically on a kernel overlayfs mount and a strata mount. Each returns
// a log of what every step answered (ok, or the errno code), which must match too.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export type Log = string[];
export interface Scenario {
  name: string;
  run(root: string, log: Log): void;
  /** Changes through one name of a hard link reach the other name's cached attributes only after
   * the attribute timeout (README, "Known limits"): compare after it has passed. */
  settle?: boolean;
}

/** Run one step and record its outcome (and its result, when it returns one). */
export function step(log: Log, what: string, fn: () => unknown): void {
  try {
    const r = fn();
    log.push(`${what}: ok${r === undefined ? '' : ' ' + JSON.stringify(r)}`);
  } catch (e) {
    log.push(`${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();
const T1 = new Date('2011-11-11T11:11:11.123Z');
const T2 = new Date('2012-12-12T12:12:12.456Z');

const s = (name: string, run: (r: string, log: Log) => void, settle = false): Scenario => ({ name, run, settle });

export const scenarios: Scenario[] = [
  s('read only: nothing changes', (r, l) => step(l, 'cat', () => fs.readFileSync(r + '/shared', 'utf8'))),
  s('append to a lower file', (r, l) => step(l, 'append', () => fs.appendFileSync(r + '/f2', 'more\n'))),
  s('overwrite a lower file with O_TRUNC', (r, l) => step(l, 'write', () => fs.writeFileSync(r + '/dir/a', 'new a\n'))),
  s('truncate a lower file', (r, l) => step(l, 'truncate', () => fs.truncateSync(r + '/big', 3))),
  s('write in the middle of a lower file', (r, l) =>
    step(l, 'pwrite', () => {
      const fd = fs.openSync(r + '/big', 'r+');
      fs.writeSync(fd, Buffer.from('XYZ'), 0, 3, 4096);
      fs.closeSync(fd);
    }),
  ),
  s('chmod a lower file', (r, l) => step(l, 'chmod', () => fs.chmodSync(r + '/f2', 0o600))),
  s('chown a lower file', (r, l) => step(l, 'chown', () => fs.chownSync(r + '/f2', 1234, 5678))),
  s('chown keeps the setuid file data and clears setuid', (r, l) => step(l, 'chown', () => fs.chownSync(r + '/exec', 0, 0))),
  s('utimes a lower file', (r, l) => step(l, 'utimes', () => fs.utimesSync(r + '/dir/b', T1, T2))),
  s('touch -m only (single timestamp)', (r, l) => step(l, 'touch -m', () => sh('touch', ['-m', '-d', '2013-03-03 03:03:03.5', r + '/shared']))),
  s('touch -a only (single timestamp)', (r, l) => step(l, 'touch -a', () => sh('touch', ['-a', '-d', '2013-03-03 03:03:03.5', r + '/shared']))),
  s('setxattr on a lower file', (r, l) => step(l, 'setfattr', () => sh('setfattr', ['-n', 'user.new', '-v', 'v', r + '/f2']))),
  s('removexattr on a lower file', (r, l) => step(l, 'setfattr -x', () => sh('setfattr', ['-x', 'user.color', r + '/xattr_f']))),
  s('setxattr on a lower dir', (r, l) => step(l, 'setfattr', () => sh('setfattr', ['-n', 'user.d', '-v', '1', r + '/dir2']))),
  s('unlink a lower file', (r, l) => step(l, 'unlink', () => fs.unlinkSync(r + '/f2'))),
  s('unlink an upper-only file', (r, l) => step(l, 'unlink', () => fs.unlinkSync(r + '/uonly'))),
  s('unlink a file present in two lowers', (r, l) => {
    step(l, 'unlink', () => fs.unlinkSync(r + '/shared'));
    step(l, 'stat', () => fs.statSync(r + '/shared'));
  }),
  s('unlink a lower FIFO, device and symlink', (r, l) => {
    for (const n of ['fifo', 'chr', 'blk', 'sym']) step(l, 'unlink ' + n, () => fs.unlinkSync(r + '/' + n));
  }),
  s('rm -rf a lower dir', (r, l) => step(l, 'rm -rf', () => fs.rmSync(r + '/dir', { recursive: true }))),
  s('rmdir a non-empty merged dir', (r, l) => step(l, 'rmdir', () => fs.rmdirSync(r + '/mergedir'))),
  s('rmdir an empty lower dir', (r, l) => step(l, 'rmdir', () => fs.rmdirSync(r + '/emptydir'))),
  s('empty a merged dir, then rmdir it', (r, l) => {
    for (const n of ['l1file', 'l2file', 'ufile']) step(l, 'unlink ' + n, () => fs.unlinkSync(r + '/mergedir/' + n));
    step(l, 'readdir', () => fs.readdirSync(r + '/mergedir'));
    step(l, 'rmdir', () => fs.rmdirSync(r + '/mergedir'));
  }),
  s('mkdir over a deleted dir is opaque', (r, l) => {
    step(l, 'rm -rf', () => fs.rmSync(r + '/dir', { recursive: true }));
    step(l, 'mkdir', () => fs.mkdirSync(r + '/dir'));
    step(l, 'readdir', () => fs.readdirSync(r + '/dir'));
    step(l, 'write', () => fs.writeFileSync(r + '/dir/new', 'n\n'));
  }),
  s('create a file over a deleted file', (r, l) => {
    step(l, 'unlink', () => fs.unlinkSync(r + '/f2'));
    step(l, 'write', () => fs.writeFileSync(r + '/f2', 'reborn\n'));
  }),
  s('create a file over a name whited out in a lower', (r, l) => step(l, 'write', () => fs.writeFileSync(r + '/gone', 'back\n'))),
  s('mkdir over an upper whiteout', (r, l) => step(l, 'mkdir', () => fs.mkdirSync(r + '/hidden_by_upper'))),
  s('mkdir, mkdir -p, and EEXIST', (r, l) => {
    step(l, 'mkdir', () => fs.mkdirSync(r + '/newdir', 0o750));
    step(l, 'mkdir -p', () => void fs.mkdirSync(r + '/dir/sub/x/y/z', { recursive: true }));
    step(l, 'mkdir existing', () => fs.mkdirSync(r + '/dir2'));
  }),
  s('symlink and readlink', (r, l) => {
    step(l, 'symlink', () => fs.symlinkSync('../dir/a', r + '/dir2/link'));
    step(l, 'readlink', () => fs.readlinkSync(r + '/dir2/link'));
    step(l, 'read through', () => fs.readFileSync(r + '/dir2/link', 'utf8'));
    step(l, 'readlink lower', () => fs.readlinkSync(r + '/dangling'));
  }),
  s('lchown a lower symlink', (r, l) => step(l, 'lchown', () => fs.lchownSync(r + '/sym', 42, 43))),
  s('mkfifo and mknod', (r, l) => {
    step(l, 'mkfifo', () => sh('mkfifo', ['-m', '0640', r + '/dir2/newfifo']));
    step(l, 'mknod c', () => sh('mknod', ['-m', '0600', r + '/dir2/null2', 'c', '1', '3']));
    step(l, 'mknod b', () => sh('mknod', ['-m', '0600', r + '/dir2/loop9', 'b', '7', '9']));
  }),
  s(
    'hard link to a lower file',
    (r, l) => {
      step(l, 'link', () => fs.linkSync(r + '/f2', r + '/f2.link'));
      step(l, 'append via link', () => fs.appendFileSync(r + '/f2.link', 'both\n'));
    },
    true,
  ),
  s(
    'hard link, then unlink one name',
    (r, l) => {
      step(l, 'link', () => fs.linkSync(r + '/uonly', r + '/uonly2'));
      step(l, 'unlink', () => fs.unlinkSync(r + '/uonly2'));
    },
    true,
  ),
  s('unlink one name of a lower hard link pair', (r, l) => step(l, 'unlink', () => fs.unlinkSync(r + '/hl2'))),
  s('modify one name of a lower hard link pair', (r, l) => step(l, 'append', () => fs.appendFileSync(r + '/hl1', 'x\n'))),
  s('rename a lower file in its dir', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/dir/a', r + '/dir/a2'))),
  s('rename a lower file across dirs', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/dir/b', r + '/dir2/b'))),
  s('rename an upper file over a lower file', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/uonly', r + '/f2'))),
  s('rename a lower file over an upper file', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/f2', r + '/uonly'))),
  s('rename a file onto a whited-out name', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/f2', r + '/hidden_by_upper'))),
  s('rename a populated lower dir (redirect)', (r, l) => {
    step(l, 'rename', () => fs.renameSync(r + '/ren_dir', r + '/moved'));
    step(l, 'readdir', () => fs.readdirSync(r + '/moved').sort());
    step(l, 'read nested', () => fs.readFileSync(r + '/moved/nested/three', 'utf8'));
    step(l, 'old gone', () => fs.existsSync(r + '/ren_dir'));
  }),
  s('rename an empty lower dir', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/emptydir', r + '/emptied'))),
  s('rename a nested dir into another merged dir', (r, l) => {
    step(l, 'rename', () => fs.renameSync(r + '/ren_dir/nested', r + '/mergedir/nested'));
    step(l, 'read', () => fs.readFileSync(r + '/mergedir/nested/three', 'utf8'));
  }),
  s('rename a dir, then change inside it', (r, l) => {
    step(l, 'rename', () => fs.renameSync(r + '/dir', r + '/dirx'));
    step(l, 'write', () => fs.writeFileSync(r + '/dirx/sub/new', 'new\n'));
    step(l, 'unlink', () => fs.unlinkSync(r + '/dirx/a'));
    step(l, 'rename back', () => fs.renameSync(r + '/dirx', r + '/dir'));
  }),
  s('rename a merged dir (three layers)', (r, l) => {
    step(l, 'rename', () => fs.renameSync(r + '/mergedir', r + '/merged2'));
    step(l, 'readdir', () => fs.readdirSync(r + '/merged2').sort());
  }),
  s('rename a dir over an empty lower dir', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/dir2', r + '/emptydir'))),
  s('rename a new dir over an empty lower dir', (r, l) => {
    step(l, 'mkdir', () => fs.mkdirSync(r + '/fresh'));
    step(l, 'rename', () => fs.renameSync(r + '/fresh', r + '/emptydir'));
    step(l, 'readdir', () => fs.readdirSync(r + '/emptydir'));
  }),
  s('rename a dir over a non-empty dir', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/dir2', r + '/dir'))),
  s('rename a dir onto a whited-out dir name', (r, l) => {
    step(l, 'rm -rf', () => fs.rmSync(r + '/dir', { recursive: true }));
    step(l, 'rename', () => fs.renameSync(r + '/dir2', r + '/dir'));
    step(l, 'readdir', () => fs.readdirSync(r + '/dir').sort());
  }),
  s('rename a lower device node', (r, l) => step(l, 'rename', () => fs.renameSync(r + '/chr', r + '/dir2/chr'))),
  s('opaque dirs: lower and upper', (r, l) => {
    step(l, 'readdir opq', () => fs.readdirSync(r + '/opq').sort());
    step(l, 'readdir uopq', () => fs.readdirSync(r + '/uopq').sort());
    step(l, 'unlink', () => fs.unlinkSync(r + '/opq/new1'));
    step(l, 'rmdir', () => fs.rmdirSync(r + '/opq'));
  }),
  s('chmod a lower dir', (r, l) => step(l, 'chmod', () => fs.chmodSync(r + '/dir/sub', 0o700))),
  s('chmod through a symlink', (r, l) => step(l, 'chmod', () => fs.chmodSync(r + '/sym', 0o640))),
  s('create and delete in a lower dir leaves nothing', (r, l) => {
    step(l, 'write', () => fs.writeFileSync(r + '/dir2/tmp', 't'));
    step(l, 'unlink', () => fs.unlinkSync(r + '/dir2/tmp'));
  }),
  s('write in an upper-only dir', (r, l) => step(l, 'write', () => fs.writeFileSync(r + '/updir/u2', 'u2\n'))),
  s('errors: ENOENT, ENOTDIR, EISDIR', (r, l) => {
    step(l, 'open missing', () => fs.readFileSync(r + '/nope'));
    step(l, 'under a file', () => fs.statSync(r + '/f2/x'));
    step(l, 'unlink dir', () => fs.unlinkSync(r + '/dir'));
    step(l, 'rmdir file', () => fs.rmdirSync(r + '/f2'));
    step(l, 'stat whited out', () => fs.statSync(r + '/gone'));
  }),
  s('rename onto itself through a hard link', (r, l) => {
    step(l, 'rename', () => fs.renameSync(r + '/hl1', r + '/hl2'));
    step(l, 'both there', () => [fs.existsSync(r + '/hl1'), fs.existsSync(r + '/hl2')]);
  }),
  s('copy-up keeps times, owner and mode of parents', (r, l) => step(l, 'write', () => fs.writeFileSync(r + '/dir/sub/new', 'x'))),
];
