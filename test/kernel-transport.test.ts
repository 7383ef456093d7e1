// The kernel transport (our own FUSE protocol code, the default): what libfuse 2's path API could
// not do, each compared with kernel overlayfs where it has an answer, with the default (long)
// cache lifetimes. The old transport fails the first two (noted there).
import t from 'tap';
import fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { mountKernel, mountStrata, tmpdir, waitUntil } from './helpers/mount.js';
import { snapshot } from './helpers/tree.js';
import { native, RENAME_EXCHANGE, RENAME_NOREPLACE } from '../src/sys/native.js';

/** Two lowers and an upper, built the same for both systems; each side has its own copy. */
function layers(t: Parameters<typeof tmpdir>[0]) {
  const base = tmpdir(t, 'strata-kt-');
  const make = (side: string) => {
    const d = `${base}/${side}`;
    for (const x of ['l1', 'l2', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
    fs.writeFileSync(`${d}/l2/lowerfile`, 'lower\n');
    fs.writeFileSync(`${d}/l2/other`, 'other\n');
    fs.mkdirSync(`${d}/l2/ldir/sub`, { recursive: true });
    fs.writeFileSync(`${d}/l2/ldir/sub/x`, 'x\n');
    fs.mkdirSync(`${d}/l1/ldir2`);
    fs.writeFileSync(`${d}/l1/ldir2/y`, 'y\n');
    fs.writeFileSync(`${d}/l1/topfile`, 'top\n');
    fs.writeFileSync(`${d}/l1/sparse`, '');
    fs.truncateSync(`${d}/l1/sparse`, 4 << 20);
    return { lowers: [`${d}/l1`, `${d}/l2`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` };
  };
  const k = mountKernel(t, make('kernel'));
  const s = mountStrata(t, make('strata'));
  return { k: k.mnt, s: s.mnt, base };
}

const sh = (cwd: string, script: string) => execFileSync('sh', ['-c', script], { cwd, encoding: 'utf8' });

t.test('a hard link to a lower file: every name shows the new content, size and nlink at once', async (t) => {
  const { k, s } = layers(t);
  const script = 'ln lowerfile b && echo x >> b && cat lowerfile && stat -c "%s %h" lowerfile b';
  const want = sh(k, script);
  t.equal(want, 'lower\nx\n8 2\n8 2\n', 'kernel overlayfs: the new content, size 8 and nlink 2 under both names');
  t.equal(sh(s, script), want, 'strata shows the same, with no attribute timeout lowered (fuse-native: the old content and nlink 1)');
  t.equal(fs.statSync(`${s}/lowerfile`).ino, fs.statSync(`${s}/b`).ino, 'and one inode number');
});

t.test('a write through one name is seen through every other name at once', async (t) => {
  const { k, s } = layers(t);
  for (const m of [k, s]) {
    sh(m, 'echo one > new && ln new n2 && ln new n3');
    const fd = fs.openSync(`${m}/n2`, 'a');
    for (let i = 0; i < 5; i++) {
      fs.writeSync(fd, `line ${i}\n`);
      for (const name of ['new', 'n3']) t.equal(fs.statSync(`${m}/${name}`).size, 4 + 7 * (i + 1), `${m === k ? 'kernel' : 'strata'}: ${name} sees write ${i}`);
    }
    fs.closeSync(fd);
  }
  t.equal(fs.readFileSync(`${s}/n3`, 'utf8'), fs.readFileSync(`${k}/n3`, 'utf8'), 'the same content as on the kernel');
});

t.test('renameat2 NOREPLACE and EXCHANGE, on files and dirs across layers, as kernel overlayfs', async (t) => {
  const { k, s } = layers(t);
  const cases: [string, string, number][] = [
    ['lowerfile', 'topfile', RENAME_NOREPLACE],
    ['lowerfile', 'fresh', RENAME_NOREPLACE],
    ['other', 'topfile', RENAME_EXCHANGE],
    ['ldir', 'ldir2', RENAME_EXCHANGE],
    ['fresh', 'ldir', RENAME_EXCHANGE],
    ['ldir2', 'nothere', RENAME_EXCHANGE],
  ];
  for (const [a, b, flags] of cases) {
    const rk = native.renameat2(`${k}/${a}`, `${k}/${b}`, flags);
    const rs = native.renameat2(`${s}/${a}`, `${s}/${b}`, flags);
    t.equal(rs, rk, `renameat2(${a}, ${b}, ${flags === RENAME_EXCHANGE ? 'EXCHANGE' : 'NOREPLACE'}) = ${rk}`);
  }
  t.same(snapshot(s), snapshot(k), 'the merged trees are the same afterwards');
  t.equal(fs.readFileSync(`${s}/ldir2/sub/x`, 'utf8'), 'x\n', 'an exchanged dir keeps its lower contents');
});

t.test('fallocate, copy_file_range and SEEK_DATA / SEEK_HOLE', async (t) => {
  const { k, s } = layers(t);
  const SEEK_DATA = 3;
  const SEEK_HOLE = 4;
  for (const [m, who] of [
    [k, 'kernel'],
    [s, 'strata'],
  ] as const) {
    const fd = fs.openSync(`${m}/sparse`, 'r+');
    t.equal(native.lseek(fd, 0, SEEK_HOLE), 0, `${who}: a file of holes has a hole at 0`);
    t.equal(native.fallocate(fd, 0, 3 << 20, 65536), 0, `${who}: fallocate succeeds`);
    t.ok(fs.fstatSync(fd).blocks >= 128, `${who}: and allocates`);
    fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 2 << 20);
    fs.fsyncSync(fd);
    t.equal(native.lseek(fd, 0, SEEK_DATA), 2 << 20, `${who}: SEEK_DATA finds the written block`);
    t.equal(native.lseek(fd, 2 << 20, SEEK_HOLE), (2 << 20) + 4096, `${who}: SEEK_HOLE finds where it ends`);
    const out = fs.openSync(`${m}/copy`, 'w+');
    t.equal(native.copyFileRange(fd, 2 << 20, out, 0, 4096), 4096, `${who}: copy_file_range copies 4096 bytes`);
    fs.closeSync(out);
    fs.closeSync(fd);
    t.same(fs.readFileSync(`${m}/copy`), Buffer.alloc(4096, 7), `${who}: the copy holds them`);
  }
});

t.test('inode numbers are unique across layers and stable under copy-up', async (t) => {
  const { s } = layers(t);
  const names = ['lowerfile', 'other', 'topfile', 'sparse', 'ldir', 'ldir2', 'ldir/sub', 'ldir/sub/x', 'ldir2/y'];
  const inos = names.map((n) => fs.statSync(`${s}/${n}`).ino);
  t.equal(new Set(inos).size, names.length, 'every object has its own number');
  sh(s, 'chmod 600 lowerfile && echo more >> ldir/sub/x');
  t.same(
    names.map((n) => fs.statSync(`${s}/${n}`).ino),
    inos,
    'copy-up keeps them',
  );
});

t.test('mmap of a lower file while another process copies it up', async (t) => {
  const { s } = layers(t);
  const py = `
import mmap, os, subprocess
f = open("${s}/lowerfile", "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
before = m[:6]
subprocess.run(["sh", "-c", "echo appended >> ${s}/lowerfile"], check=True)
print(before.decode().strip(), m[:6].decode().strip(), open("${s}/lowerfile").read().replace("\\n", "|"))
`;
  const r = spawnSync('python3', ['-c', py], { encoding: 'utf8', timeout: 20000 });
  t.equal(r.status, 0, `the mapping survives the copy-up (${r.stderr})`);
  t.equal(r.stdout.trim(), 'lower lower lower|appended|', 'it still reads the data, and the file has the appended line');
});

t.test('the node table stays bounded: the kernel forgets what it no longer caches', async (t) => {
  const base = tmpdir(t, 'strata-kt-forget-');
  const lower = `${base}/lower`;
  fs.mkdirSync(lower);
  execFileSync('sh', ['-c', `cd ${lower} && for d in $(seq 1 100); do mkdir d$d; (cd d$d && seq 1 1000 | xargs touch); done`]);
  fs.mkdirSync(`${base}/mnt`);
  const log = `${base}/daemon.log`;
  const m = mountStrata(t, { lowers: [lower], mnt: `${base}/mnt`, args: ['--log', log] });
  execFileSync('find', [m.mnt, '-printf', '%s\\n'], { stdio: 'ignore' });
  const pid = Number(
    spawnSync('pgrep', ['-f', `daemon-main.js mount ${m.mnt} `], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0],
  );
  const nodes = () => {
    const before = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').length : 0;
    process.kill(pid, 'SIGUSR2');
    waitUntil(() => fs.readFileSync(log, 'utf8').length > before);
    return Number(/nodes (\d+)/.exec(fs.readFileSync(log, 'utf8').slice(before))![1]);
  };
  const after = nodes();
  t.ok(after > 1000, `after a find over 100,100 entries the daemon holds ${after} nodes`);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '2'); // the kernel drops dentries and inodes, and FORGETs them
  waitUntil(() => nodes() < 1000, 10000);
  t.pass(`after the kernel dropped its caches the daemon holds ${nodes()} nodes`);
});

/** One lower with a big file (real data, so the copy is real work) and a small one. */
function bigLayer(t: Parameters<typeof tmpdir>[0], mib: number) {
  const base = tmpdir(t, 'strata-kt-big-');
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${base}/${x}`);
  execFileSync('sh', ['-c', `dd if=/dev/zero of=${base}/lower/big bs=1M count=${mib} status=none && echo small > ${base}/lower/small`]);
  const m = mountStrata(t, { lowers: [`${base}/lower`], upper: `${base}/upper`, work: `${base}/work`, mnt: `${base}/mnt` });
  return { base, mnt: m.mnt };
}

t.test('a reader of another file is served while a 1 GiB copy-up runs', async (t) => {
  const { mnt, base } = bigLayer(t, 1024);
  const t0 = Date.now();
  const writer = spawnSync(
    'sh',
    ['-c', `(echo x >> ${mnt}/big; date +%s%N > ${base}/writer.done) & sleep 0.2; cat ${mnt}/small; stat -c %s ${mnt}/small; ls ${mnt}; date +%s%N; wait`],
    { encoding: 'utf8', timeout: 60000 },
  );
  t.equal(writer.status, 0, writer.stderr);
  const lines = writer.stdout.trim().split('\n');
  const readerDone = Number(lines.at(-1)) / 1e6;
  const writerDone = Number(fs.readFileSync(`${base}/writer.done`, 'utf8')) / 1e6;
  t.same(lines.slice(0, 2), ['small', '6'], 'the reader got its file and its size');
  t.ok(
    readerDone < writerDone,
    `the reader finished ${Math.round(writerDone - readerDone)} ms before the copy-up did (${Math.round(writerDone - t0)} ms in all)`,
  );
  t.equal(fs.statSync(`${mnt}/big`).size, (1024 << 20) + 2, 'and the write landed after the copy');
  t.equal(fs.statSync(`${base}/upper/big`).size, (1024 << 20) + 2, 'in the upper dir');
});

t.test('a request stuck behind a copy-up is interrupted by a signal', async (t) => {
  const { mnt } = bigLayer(t, 512);
  const py = `
import os, signal, time
class Stop(Exception): pass
def on_alarm(*_): raise Stop()
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.15)
t0 = time.time()
try:
    os.open("${mnt}/big", os.O_WRONLY | os.O_APPEND)
    print("opened", round(time.time() - t0, 3))
except Stop:
    print("interrupted", round(time.time() - t0, 3))
`;
  const r = spawnSync('python3', ['-c', py], { encoding: 'utf8', timeout: 30000 });
  t.match(r.stdout, /^interrupted 0\.[12]/, `the open gave up at the signal, not after the copy (${r.stdout.trim()} ${r.stderr})`);
  t.equal(fs.readFileSync(`${mnt}/small`, 'utf8'), 'small\n', 'the mount goes on serving');
  execFileSync('sh', ['-c', `echo y >> ${mnt}/big`]);
  t.equal(fs.statSync(`${mnt}/big`).size, (512 << 20) + 2, 'and a later write copies up and lands');
});

t.test('passthrough: file data goes straight to the backing file, and a copy-up under an open reader still works', async (t) => {
  const base = tmpdir(t, 'strata-kt-pt-');
  for (const x of ['lower', 'upper', 'work', 'mnt']) fs.mkdirSync(`${base}/${x}`);
  execFileSync('sh', ['-c', `dd if=/dev/urandom of=${base}/lower/data bs=1M count=8 status=none`]);
  const log = `${base}/daemon.log`;
  const m = mountStrata(t, { lowers: [`${base}/lower`], upper: `${base}/upper`, work: `${base}/work`, mnt: `${base}/mnt`, args: ['--debug', '--log', log] });
  t.ok(fs.readFileSync(`${m.mnt}/data`).equals(fs.readFileSync(`${base}/lower/data`)), 'a read gives the lower data');
  const reads = (fs.readFileSync(log, 'utf8').match(/^strata: READ /gm) ?? []).length;
  t.equal(reads, 0, 'and not one READ request reached the daemon');
  // A reader holds the lower file open (in passthrough) while a writer copies it up.
  const reader = fs.openSync(`${m.mnt}/data`, 'r');
  fs.appendFileSync(`${m.mnt}/data`, 'tail');
  t.equal(fs.statSync(`${m.mnt}/data`).size, (8 << 20) + 4, 'the writer opened, copied up and appended (no EIO)');
  t.equal(fs.readFileSync(`${m.mnt}/data`).subarray(-4).toString(), 'tail', 'a new reader sees the new data');
  fs.closeSync(reader);
  t.equal(fs.readFileSync(`${base}/upper/data`).length, (8 << 20) + 4, 'the upper copy holds it');
  t.ok(
    fs
      .readFileSync(`${m.mnt}/data`)
      .subarray(0, 8 << 20)
      .equals(fs.readFileSync(`${base}/lower/data`)),
    'with the lower data before it',
  );
});

t.test('a file unlinked while open: read, written, truncated and changed through its fd, as on kernel overlayfs', async (t) => {
  const { k, s } = layers(t);
  const py = (m: string) => `
import os
fd = os.open("${m}/lowerfile", os.O_RDWR)
os.unlink("${m}/lowerfile")
os.write(fd, b"new")
os.ftruncate(fd, 5)
os.fchmod(fd, 0o600)
os.lseek(fd, 0, 0)
st = os.fstat(fd)
print(os.read(fd, 100), st.st_size, oct(st.st_mode & 0o7777), st.st_nlink, sorted(os.listdir("${m}")))
`;
  const run = (m: string) => spawnSync('python3', ['-c', py(m)], { encoding: 'utf8', timeout: 20000 });
  const want = run(k);
  t.equal(want.status, 0, want.stderr);
  const got = run(s);
  t.equal(got.stdout, want.stdout, `strata answers as the kernel: ${want.stdout.trim()} (${got.stderr})`);
  t.notOk(
    fs.readdirSync(s).some((n) => n.startsWith('.fuse_hidden')),
    'no hidden name anywhere',
  );
});

t.test('setuid and setgid bits drop as kernel overlayfs drops them (the daemon does it: HANDLE_KILLPRIV_V2)', async (t) => {
  const base = tmpdir(t, 'strata-kp-');
  fs.chmodSync(base, 0o755); // the unprivileged writer must reach the mounts
  const files: [string, number, number][] = [
    ['suid', 0o4755, 65534], // written by its owner: loses setuid
    ['sgid', 0o2775, 65534], // setgid with group execute: lost on a write
    ['sgidnx', 0o2765, 65534], // setgid without group execute: kept
    ['trunc', 0o4755, 65534], // opened O_TRUNC by its owner: loses setuid
    ['ftrunc', 0o4755, 65534], // truncate(1) by its owner: loses setuid
    ['chowned', 0o4755, 0], // chown by root: loses setuid
    ['rootwrite', 0o4755, 0], // written by root (CAP_FSETID): keeps it
    ['upper', 0o4755, 65534], // a file of the upper layer, written by its owner
  ];
  const make = (side: string) => {
    const d = `${base}/${side}`;
    for (const x of ['l', 'upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
    for (const [name, mode, uid] of files) {
      const where = name === 'upper' ? 'upper' : 'l';
      fs.writeFileSync(`${d}/${where}/${name}`, 'data\n');
      fs.chownSync(`${d}/${where}/${name}`, uid, uid);
      fs.chmodSync(`${d}/${where}/${name}`, mode);
    }
    return { lowers: [`${d}/l`], upper: `${d}/upper`, work: `${d}/work`, mnt: `${d}/mnt` };
  };
  const k = mountKernel(t, make('kernel')).mnt;
  // Passthrough writes would go to the backing file as the daemon (root), which keeps the bits:
  // a write open of a setid file is served by the daemon, as every write is with --no-passthrough.
  const s = mountStrata(t, make('strata')).mnt;
  const np = mountStrata(t, { ...make('strata-np'), args: ['--no-passthrough'] }).mnt;
  const modes: Record<string, string> = {};
  for (const m of [k, s, np]) {
    const nobody = (cmd: string) => {
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd], { cwd: m, encoding: 'utf8' });
      t.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    };
    nobody('echo x >> suid && echo x >> sgid && echo x >> sgidnx && : > trunc && truncate -s 2 ftrunc && echo x >> upper');
    sh(m, 'chown 65534 chowned && echo x >> rootwrite');
    modes[m] = files.map(([name]) => `${name} ${(fs.statSync(`${m}/${name}`).mode & 0o7777).toString(8)}`).join(', ');
  }
  t.equal(modes[k], 'suid 755, sgid 775, sgidnx 2765, trunc 755, ftrunc 755, chowned 755, rootwrite 4755, upper 755', 'kernel overlayfs');
  t.equal(modes[s], modes[k], 'strata drops the same bits');
  t.equal(modes[np], modes[k], 'and so it does without passthrough');
});
