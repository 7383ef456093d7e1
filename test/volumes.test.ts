// Volumes, binds, tmpfs mounts and the network flags of create and run (issue 11): the flag
// parsers and the in-root path resolver on their own, the volume service in process, then real
// containers through the CLI, as a docker user runs them.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, tmpdir } from './helpers/mount.js';
import { storeCli, storeWithBusybox } from './helpers/store.js';
import { parseMountFlag, parseMountFlags, parsePublish, parseTmpfsFlag, parseVolumeFlag } from '../src/container/mount-flags.js';
import { resolveInRoot } from '../src/sys/in-root.js';
import { Containers } from '../src/container/service.js';
import { StrataError } from '../src/sys/errors.js';

t.setTimeout(300_000);

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StrataError) return err.message;
    throw err;
  }
  return 'not refused';
};

t.test('-v, --mount and --tmpfs parse as docker parses them', async (t) => {
  t.same(parseVolumeFlag('/data'), { type: 'volume', target: '/data' }, 'a target alone: an anonymous volume');
  t.same(parseVolumeFlag('cache:/var/cache/'), { type: 'volume', source: 'cache', target: '/var/cache' }, 'a named volume, the trailing slash gone');
  t.same(
    parseVolumeFlag('/srv/www:/usr/share/nginx:ro'),
    { type: 'bind', source: '/srv/www', target: '/usr/share/nginx', readOnly: true, makeSource: true },
    'a bind, read-only',
  );
  t.same(
    parseVolumeFlag('./site:/site', '/home/u'),
    { type: 'bind', source: '/home/u/site', target: '/site', makeSource: true },
    'a relative host path, from the working dir',
  );
  t.same(parseVolumeFlag('v1:/x:rw,nocopy,z'), { type: 'volume', source: 'v1', target: '/x', noCopy: true });
  t.same(parseMountFlag('type=bind,src=/h,dst=/c,readonly'), { type: 'bind', source: '/h', target: '/c', readOnly: true });
  t.same(parseMountFlag('target=/c,volume-nocopy'), { type: 'volume', target: '/c', noCopy: true }, 'type defaults to volume; no source: anonymous');
  t.same(parseMountFlag('type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770'), { type: 'tmpfs', target: '/run', size: 64 << 20, mode: 0o1770 });
  t.same(parseMountFlag('type=volume,source=vol,target=/c,ro=false'), { type: 'volume', source: 'vol', target: '/c' });
  t.same(parseTmpfsFlag('/scratch:size=1k,mode=700'), { type: 'tmpfs', target: '/scratch', size: 1024, mode: 0o700 });
  const bad: [() => unknown, RegExp][] = [
    [() => parseVolumeFlag('a:b:c:d'), /expected \[SOURCE:\]TARGET/],
    [() => parseVolumeFlag('v:relative'), /not absolute/],
    [() => parseVolumeFlag('v:/'), /root cannot be a mount point/],
    [() => parseVolumeFlag('vol:/x:rx'), /unknown option "rx"/],
    [() => parseVolumeFlag('b@d:/x'), /neither a volume name/],
    [() => parseMountFlag('type=nfs,target=/x'), /type must be volume, bind or tmpfs/],
    [() => parseMountFlag('type=bind,target=/x'), /needs source=HOST_PATH/],
    [() => parseMountFlag('type=tmpfs,source=x,target=/x'), /takes no source/],
    [() => parseMountFlag('type=volume,target=/x,tmpfs-size=1m'), /"tmpfs-size" is not an option of a volume mount/],
    [() => parseMountFlag('type=tmpfs,target=/x,tmpfs-size=lots'), /not a size/],
    [() => parseMountFlag('type=bind,source=/a,target=/x,readonly=maybe'), /readonly takes true or false/],
    [() => parseMountFlag('target=/x,target=/y'), /given twice/],
    [() => parseMountFlags({ volume: ['vol:/x'], tmpfs: ['/x'] }), /two mounts on \/x/],
  ];
  for (const [fn, re] of bad) t.match(refusal(fn), re);
});

t.test('-p: the same port on both sides holds on the host network; another is refused', async (t) => {
  t.equal(parsePublish('8080:8080', 'host'), '8080/tcp');
  t.equal(parsePublish('127.0.0.1:53:53/udp', 'host'), '53/udp');
  t.equal(parsePublish('9000', 'host'), '9000/tcp', 'a container port alone');
  t.equal(parsePublish('7000-7002:7000-7002', 'host'), '7000-7002/tcp');
  t.match(
    refusal(() => parsePublish('8080:80', 'host')),
    /share the host's network here, so container port 80 is host port 80; publish it as -p 80:80/,
  );
  t.match(
    refusal(() => parsePublish('80', 'none')),
    /--network none has no network/,
  );
  t.match(
    refusal(() => parsePublish('70000', 'host')),
    /not a port/,
  );
  t.match(
    refusal(() => parsePublish('eighty', 'host')),
    /expected \[IP:\]HOST_PORT:CONTAINER_PORT/,
  );
});

t.test('a mount target resolves inside the container root, whatever its symlinks say', async (t) => {
  const root = tmpdir(t, 'strata-inroot-');
  fs.mkdirSync(`${root}/real/inner`, { recursive: true });
  fs.symlinkSync('/etc', `${root}/abs`); // absolute: the container's /etc, not the host's
  fs.symlinkSync('../../../../..', `${root}/real/up`);
  fs.symlinkSync('real/inner', `${root}/rel`);
  fs.symlinkSync('loop2', `${root}/loop1`);
  fs.symlinkSync('loop1', `${root}/loop2`);
  t.equal(resolveInRoot(root, '/abs/x'), `${root}/etc/x`);
  t.equal(resolveInRoot(root, '/real/up/etc'), `${root}/etc`, '.. stops at the root');
  t.equal(resolveInRoot(root, '/rel/new/deeper'), `${root}/real/inner/new/deeper`, 'missing parts kept as named');
  t.equal(resolveInRoot(root, '/../../x'), `${root}/x`);
  t.match(
    refusal(() => resolveInRoot(root, '/loop1/x')),
    /too many levels of symbolic links/,
  );
});

t.test('the volume service: plan, users, rm, prune, rm -v', async (t) => {
  const base = tmpdir(t, 'strata-vol-svc-');
  const { s } = await storeWithBusybox(t, base, 'busybox', { Cmd: ['/bin/sh'], Volumes: { '/data': {}, '/logs/': {} } });
  const k = new Containers(s);
  const c = k.create('busybox', [], { name: 'one', volume: ['named:/srv', '/logs'], tmpfs: ['/tmp'] });
  const vols = c.mounts!.filter((m) => m.type === 'volume');
  t.same(
    c.mounts!.map((m) => [m.type, m.target]),
    [
      ['volume', '/srv'],
      ['volume', '/logs'],
      ['tmpfs', '/tmp'],
      ['volume', '/data'],
    ],
    "the flags' mounts, then the image's VOLUME /data (its /logs is taken by -v)",
  );
  t.equal(vols.length, 3);
  t.ok(fs.statSync(s.volumePath('named')).isDirectory(), 'the named volume has its dir');
  const anon = vols.filter((m) => m.source !== 'named').map((m) => m.source!);
  t.ok(
    anon.every((n) => /^[0-9a-f]{64}$/.test(n) && s.volume(n).anonymous),
    'anonymous volumes get 64-hex names',
  );
  t.same(
    k.volumes.users('named').map((u) => u.name),
    ['one'],
  );
  t.match(
    refusal(() => k.volumes.remove('named')),
    /volume named is in use by container one: remove the container first/,
  );
  t.same(k.volumes.list(['dangling=true']), [], 'every volume is used');

  // a second container names the same volume; a bad flag makes nothing
  const before = s.allVolumes().length;
  t.match(
    refusal(() => k.create('busybox', [], { volume: ['named:/srv', 'fresh:/x'], publish: ['8080:80'] })),
    /publish it as -p 80:80/,
  );
  t.match(
    refusal(() => k.create('busybox', [], { name: 'one', volume: ['fresh:/x'] })),
    /already in use/,
  );
  t.equal(s.allVolumes().length, before, 'a container refused leaves no volume behind');

  k.remove('one', { volumes: true });
  t.ok(s.volumeByName('named'), 'rm -v keeps named volumes');
  t.ok(
    anon.every((n) => !s.volumeByName(n) && !fs.existsSync(path.dirname(s.volumePath(n)))),
    'and removes the anonymous ones, dirs and all',
  );

  const d = k.create('busybox', [], { name: 'two' });
  const dAnon = d.mounts!.map((m) => m.source!);
  t.equal(dAnon.length, 2, "the image's two VOLUMEs");
  k.remove('two');
  t.ok(
    dAnon.every((n) => s.volumeByName(n)),
    'rm without -v keeps the anonymous volumes',
  );
  fs.writeFileSync(`${s.volumePath(dAnon[0])}/f`, 'x'.repeat(1000));
  const pruned = k.volumes.prune();
  t.same(pruned.deleted, [...dAnon].sort(), 'prune takes the unused anonymous volumes only');
  t.ok(pruned.freed >= 1000);
  t.ok(s.volumeByName('named'));
  t.same(k.volumes.prune({ all: true }).deleted, ['named'], 'prune -a takes named ones too');
  t.match(
    refusal(() => k.volumes.create('x')),
    /not a valid volume name/,
  );
});

t.test('volumes, binds, tmpfs and networks in real containers, through the CLI', async (t) => {
  const base = tmpdir(t, 'strata-vol-cli-');
  const { strata, ok, cleanup } = storeCli(`${base}/root`);
  t.teardown(cleanup);
  execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [`${base}/busybox.tar`]);
  ok('import', `${base}/busybox.tar`, '--tag', 'busybox');
  fs.mkdirSync(`${base}/ctx`);
  fs.writeFileSync(`${base}/ctx/Dockerfile`, 'FROM busybox\nRUN mkdir -p /data && echo seed > /data/seed && chmod 0750 /data\nVOLUME /data\n');
  ok('build', '-q', '-t', 'volimg', `${base}/ctx`);

  t.test('a named volume outlives its containers and is shared', async (t) => {
    ok('run', '--rm', '-v', 'shared:/v', 'busybox', 'sh', '-c', 'echo hi > /v/f');
    t.equal(ok('run', '--rm', '-v', 'shared:/v:ro', 'busybox', 'cat', '/v/f'), 'hi\n', 'a second container reads it');
    const ro = strata('run', '--rm', '--mount', 'source=shared,target=/v,readonly', 'busybox', 'sh', '-c', 'echo x > /v/g');
    t.not(ro.status, 0, 'read-only: a write fails');
    t.match(ro.stderr, /Read-only file system/);
    t.match(ok('volume', 'ls'), /DRIVER +VOLUME NAME\nlocal +shared\n/);
    const [info] = JSON.parse(ok('volume', 'inspect', 'shared'));
    t.equal(info.Mountpoint, `${base}/root/volumes/shared/_data`);
    t.equal(fs.readFileSync(`${info.Mountpoint}/f`, 'utf8'), 'hi\n', 'the data is in the volume dir');
    ok('run', '--name', 'writer', '-v', 'shared:/v', 'busybox', 'sh', '-c', 'echo z > /v/z && echo w > /w');
    t.same(ok('diff', 'writer').trim().split('\n'), ['A /v', 'A /w'], "a volume's files are not in the container's layer (its mount point is)");
    t.match(strata('volume', 'rm', 'shared').stderr, /volume shared is in use by container writer/);
    ok('rm', 'writer');
    t.equal(ok('volume', 'rm', 'shared'), 'shared\n');
    t.notOk(fs.existsSync(`${base}/root/volumes/shared`), 'gone with its data');
  });

  t.test('binds and tmpfs mounts', async (t) => {
    const host = `${base}/hostdir`;
    fs.mkdirSync(host);
    fs.writeFileSync(`${host}/in`, 'from the host\n');
    t.equal(ok('run', '--rm', '-v', `${host}:/h`, 'busybox', 'sh', '-c', 'cat /h/in && echo back > /h/out'), 'from the host\n');
    t.equal(fs.readFileSync(`${host}/out`, 'utf8'), 'back\n', 'the host sees what the container wrote');
    t.not(strata('run', '--rm', '--mount', `type=bind,source=${host},target=/h,readonly`, 'busybox', 'touch', '/h/x').status, 0, 'a read-only bind');
    fs.writeFileSync(`${base}/one-file`, 'single\n');
    t.equal(ok('run', '--rm', '-v', `${base}/one-file:/etc/single.conf:ro`, 'busybox', 'cat', '/etc/single.conf'), 'single\n', 'a file bound onto a file');
    t.ok(fs.existsSync(`${base}/made/by/v`) === false);
    ok('run', '--rm', '-v', `${base}/made/by/v:/m`, 'busybox', 'true');
    t.ok(fs.statSync(`${base}/made/by/v`).isDirectory(), '-v makes a missing host dir, as docker does');
    const missing = strata('run', '--rm', '--mount', `type=bind,source=${base}/not/there,target=/m`, 'busybox', 'true');
    t.equal(missing.status, 1);
    t.match(missing.stderr, /--mount: the bind source .*\/not\/there does not exist \(-v would make it\)/);
    t.notOk(fs.existsSync(`${base}/not`), '--mount makes nothing');
    const mounts = ok('run', '--rm', '--tmpfs', '/scratch:size=1m,mode=700', 'busybox', 'grep', ' /scratch ', '/proc/mounts');
    t.match(mounts, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,.*size=1024k,mode=700/);
  });

  t.test("an image's VOLUME: an anonymous volume with the image's content, gone with rm -v", async (t) => {
    ok('create', '--name', 'seeded', 'volimg', 'sh', '-c', 'cat /data/seed && stat -c %a /data && echo more > /data/more');
    t.equal(ok('start', '-a', 'seeded'), 'seed\n750\n', "the image's files and the dir's mode, copied in");
    const [c] = JSON.parse(ok('inspect', 'seeded'));
    t.equal(c.Mounts.length, 1);
    t.match(c.Mounts[0], { Type: 'volume', Destination: '/data', Driver: 'local', RW: true });
    const vol = c.Mounts[0].Name as string;
    t.equal(fs.readFileSync(`${base}/root/volumes/${vol}/_data/more`, 'utf8'), 'more\n');
    t.equal(ok('volume', 'ls', '-q', '-f', 'dangling=false'), `${vol}\n`);
    t.equal(ok('start', '-a', 'seeded'), 'seed\n750\n', 'a second start keeps what the volume has');
    const df = ok('system', 'df');
    t.match(df, /Local Volumes +1 +1 /, 'system df has the Local Volumes row');
    const dfv = ok('system', 'df', '-v');
    t.match(dfv, new RegExp(`Local Volumes space usage:\\n\\nVOLUME NAME +LINKS +SIZE\\n${vol} +1 +`));
    t.match(dfv, /seeded\n/);
    ok('rm', '-v', 'seeded');
    t.equal(ok('volume', 'ls', '-q'), '', 'rm -v took it');
    ok('run', '--rm', 'volimg', 'true');
    t.equal(ok('volume', 'ls', '-q'), '', 'run --rm takes its anonymous volume too');
    ok('run', '--name', 'kept', 'volimg', 'true');
    ok('rm', 'kept');
    t.equal(ok('volume', 'ls', '-q').split('\n').filter(Boolean).length, 1, 'rm without -v leaves it');
    t.match(ok('volume', 'prune', '-f'), /Deleted Volumes:\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
    t.equal(ok('volume', 'ls', '-q'), '');
  });

  t.test('--network none and -p on the host network', async (t) => {
    t.equal(ok('run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'), 'lo\n', 'a network of its own: loopback only');
    t.match(ok('run', '--rm', '--network', 'none', 'busybox', 'cat', '/sys/class/net/lo/operstate'), /^(unknown|up)\n/, 'loopback is up');
    const hostNics = fs.readdirSync('/sys/class/net').sort().join('\n') + '\n';
    t.equal(ok('run', '--rm', 'busybox', 'ls', '/sys/class/net'), hostNics, "by default the host's network");
    ok('create', '--name', 'web', '-p', '8080:8080', 'busybox', 'true');
    const [c] = JSON.parse(ok('inspect', 'web'));
    t.equal(c.HostConfig.NetworkMode, 'host');
    t.same(Object.keys(c.NetworkSettings.Networks), ['host']);
    t.same(c.HostConfig.PortBindings, { '8080/tcp': [{ HostIp: '', HostPort: '8080' }] });
    t.match(ok('ps', '-a'), /PORTS +NAMES\n.* 8080\/tcp +web\n/);
    const bad = strata('run', '--rm', '-p', '8080:80', 'busybox', 'true');
    t.equal(bad.status, 1);
    t.match(bad.stderr, /-p 8080:80: containers share the host's network here/);
    t.match(strata('run', '--network', 'bridge', 'busybox', 'true').stderr, /--network bridge: containers here use the host's network \(host\) or none/);
    t.same(
      ok('ps', '-a', '--format', 'json')
        .match(/"name": "[^"]+"/g)
        ?.map((n) => n),
      ['"name": "web"'],
      'no container was left by the refusals',
    );
  });
});
