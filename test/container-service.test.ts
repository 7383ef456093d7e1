// The container service called in process (no CLI): create a container of a real busybox image,
// change its files through its in-process snapshot, then diff and commit it; and the codes its
// refusals carry. Nothing here runs a container, so no FUSE mount is made.
import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from './helpers/mount.js';
import { storeWithBusybox } from './helpers/store.js';
import { Containers } from '../src/container/service.js';
import { commandLine } from '../src/container/command-line.js';
import { systemInfo } from '../src/container/system-info.js';
import { StrataError } from '../src/sys/errors.js';
import type { ProgressEvent } from '../src/sys/progress.js';
import { ROOT as CALLER } from '../src/union/union.js';
import { isWhiteout } from '../src/sys/overlay-format.js';
import { lstat } from '../src/sys/stat.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-ctr-');
const { s } = await storeWithBusybox(t, base, 'busybox', { Cmd: ['/bin/sh'] });
const k = new Containers(s);
const codeOf = async (fn: () => unknown) => {
  try {
    await fn();
  } catch (err) {
    return err instanceof StrataError ? err.code : `not a StrataError: ${err}`;
  }
  return 'none';
};

t.test('diff and commit of a container changed through its in-process snapshot', async (t) => {
  const c = k.create('busybox', [], { name: 'work' });
  t.same(c.spec?.argv, ['/bin/sh'], "the image's command");
  const u = k.local.open(c.id);
  u.mkdir('/data', 0o755, CALLER);
  const fh = u.create('/data/file', 0o644, fs.constants.O_WRONLY, CALLER);
  u.write(fh, Buffer.from('data\n'), 5, 0);
  u.release(fh);
  const h2 = u.open('/etc/hostname', fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  u.write(h2, Buffer.from('changed\n'), 8, 0);
  u.release(h2);
  u.unlink('/etc/os-release');

  t.same(
    k.diff('work'),
    [
      ['A', '/data'],
      ['A', '/data/file'],
      ['C', '/etc'],
      ['C', '/etc/hostname'],
      ['D', '/etc/os-release'],
    ],
    "docker diff's A/C/D, by path",
  );

  const events: ProgressEvent[] = [];
  const img = k.commit('work', { repo: 'mine:v1', message: 'add data', progress: (e) => events.push(e) });
  t.equal(s.image('mine:v1').id, img.id, 'the new image is tagged');
  t.equal(img.layers.length, 2, 'one layer on the image');
  t.equal(events[0].task, 'commit', 'commit reports its start');
  t.ok(events.at(-1)?.finished && events.at(-1)!.done > 0, 'and its end, with the bytes of the layer');
  const layer = s.layerDir(img.layers[1]);
  t.equal(fs.readFileSync(`${layer}/data/file`, 'utf8'), 'data\n', "the layer holds the container's file");
  t.equal(fs.readFileSync(`${layer}/etc/hostname`, 'utf8'), 'changed\n', 'and the changed one');
  t.ok(isWhiteout(lstat(`${layer}/etc/os-release`)), 'and a whiteout for the deleted lower file');
  const names = execFileSync('tar', ['-tf', s.blobPath(img.layers[1])], { encoding: 'utf8' }).split('\n');
  t.ok(names.includes('etc/.wh.os-release'), 'which its tar writes as a .wh. entry');
  t.notOk(names.includes('data/.wh..wh..opq'), 'a new dir nothing below has gets no opaque marker');
  const cfg = s.config(img);
  t.equal(cfg.history.at(-1)?.comment, 'add data', 'the history says why');

  const info = (await k.inspect('work')) as { Name: string; GraphDriver: { Data: { UpperDir: string } } };
  t.equal(info.Name, 'work', 'inspect data');
  t.equal(info.GraphDriver.Data.UpperDir, s.containerPaths(c.id).upper, 'with its upper dir');
  t.same(
    k.list({ all: true }).map((r) => r.c.name),
    ['work'],
    'list, with -a',
  );
  t.same(k.list(), [], 'and without: nothing runs');
  t.same(k.state(c), { running: false, paused: false, daemonDead: false }, 'its state');

  k.remove('work');
  t.notOk(fs.existsSync(s.containerPaths(c.id).dir), 'rm leaves none of its dirs');
  t.equal(await codeOf(() => k.get('work')), 'not-found', 'and it is gone');
});

t.test('diff: a dir copied up with nothing about it changed is not a change (issue 11)', async (t) => {
  const c = k.create('busybox', [], { name: 'chmods' });
  const u = k.local.open(c.id);
  // chmod -R to the modes they have: every file is copied up, and /etc with them
  u.chmod('/etc', u.getattr('/etc').mode);
  u.chmod('/etc/hostname', u.getattr('/etc/hostname').mode);
  u.chmod('/bin', 0o700);
  u.chmod('/bin/busybox', u.getattr('/bin/busybox').mode);
  t.same(
    k.diff('chmods'),
    [
      ['C', '/bin'],
      ['C', '/bin/busybox'],
      ['C', '/etc/hostname'],
    ],
    'the files are changed (copied up), /bin is (its mode), /etc is not',
  );
  k.remove('chmods');
});

t.test("ps's COMMAND is what the container will run, as docker writes it (issue 11)", async (t) => {
  const c = k.create('busybox', [], { name: 'nocmd' });
  t.equal(commandLine(c), '/bin/sh', "created without a command: the image's");
  const d = k.create('busybox', ['nginx', '-g', 'daemon off;'], { name: 'web' });
  t.equal(commandLine(d), "nginx -g 'daemon off;'", 'an argument with a space in single quotes');
  k.remove('nocmd');
  k.remove('web');
});

t.test('info: counts, the storage driver, the host (issue 11)', async (t) => {
  const c = k.create('busybox', [], { name: 'counted' });
  const i = systemInfo(s, '0.1.0');
  t.equal(i.Containers, s.allContainers().length, 'every container');
  t.equal(i.ContainersStopped, i.Containers, 'none runs');
  t.equal(i.Images, s.allImages().length, 'every image');
  t.equal(i.Driver, 'strata');
  t.equal(i.StrataRootDir, s.root, "the store's root dir");
  const statName = execFileSync('stat', ['-f', '-c', '%T', s.root], { encoding: 'utf8' }).trim();
  const docker: Record<string, string> = { 'ext2/ext3': 'extfs', xfs: 'xfs', btrfs: 'btrfs', tmpfs: 'tmpfs' };
  t.equal(Object.fromEntries(i.DriverStatus)['Backing Filesystem'], docker[statName] ?? `(${statName})`, 'the backing filesystem, named as docker names it');
  t.match(Object.fromEntries(i.DriverStatus).Transport, /^kernel/, 'the default transport');
  t.equal(i.KernelVersion, execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
  k.remove(c.id);
});

t.test('refusals carry codes', async (t) => {
  t.equal(await codeOf(() => k.diff('nosuch')), 'not-found', 'no such container');
  t.equal(await codeOf(() => k.create('nosuch:image', ['true'])), 'not-found', 'no such image');
  const c = k.create('busybox', ['true'], { name: 'idle' });
  t.equal(await codeOf(() => k.create('busybox', ['true'], { name: 'idle' })), 'conflict', 'a name in use');
  t.equal(await codeOf(() => k.exec('idle', ['true'])), 'conflict', 'exec into a container that does not run');
  t.equal(await codeOf(() => k.pause('idle')), 'conflict', 'pause of one that does not run');
  fs.writeFileSync(s.containerPaths(c.id).log, 'one\ntwo\n');
  t.equal(
    await codeOf(async () => {
      for await (const _ of k.logs('idle', { tail: 'x' })) void _;
    }),
    'invalid',
    'a bad --tail',
  );
  const chunks: Buffer[] = [];
  for await (const b of k.logs('idle', { tail: '1' })) chunks.push(b);
  t.equal(Buffer.concat(chunks).toString(), 'two\n', 'logs --tail 1 gives the last line');
  t.equal(await codeOf(() => k.commit('idle', { change: ['VOLUME /x'] })), 'invalid', 'a bad -c, before any work');
  k.remove('idle');
});
