// `npm start`: a tour of the union mount. Two small lower layers and an upper dir are stacked,
// files are changed through the mount, and the upper dir shows what a container layer records.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin/main.js'); // the bundled CLI, as the installed `strata` runs it
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-demo-'));
fs.chmodSync(base, 0o755);
const [base0, app, upper, work, mnt] = ['base', 'app', 'upper', 'work', 'merged'].map((n) => `${base}/${n}`);

const say = (s: string) => process.stdout.write(`\n\x1b[1m${s}\x1b[0m\n`);
let env: NodeJS.ProcessEnv = process.env;
const run = (cmd: string, ...args: string[]) => {
  process.stdout.write(`$ ${[cmd, ...args].map((a) => (/[\s'$]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}`);
};

say('1. Two read-only layers: a base and an app layer on top of it');
for (const d of [base0, app, upper, work, mnt]) fs.mkdirSync(d, { recursive: true });
fs.mkdirSync(`${base0}/etc`);
fs.writeFileSync(`${base0}/etc/motd`, 'Welcome to the base layer\n');
fs.writeFileSync(`${base0}/etc/hostname`, 'base\n');
fs.mkdirSync(`${base0}/var/cache`, { recursive: true });
fs.writeFileSync(`${base0}/var/cache/big.bin`, Buffer.alloc(256 * 1024, 1));
fs.mkdirSync(`${app}/etc`);
fs.writeFileSync(`${app}/etc/hostname`, 'app\n');
fs.mkdirSync(`${app}/srv`);
fs.writeFileSync(`${app}/srv/index.html`, '<h1>hello</h1>\n');
run('find', base0, app, '-type', 'f');

say('2. strata mount: app layer over base, with a writable upper dir');
run(process.execPath, cli, 'mount', '--lower', `${app}:${base0}`, '--upper', upper, '--work', work, mnt);
try {
  run('mount', '-t', 'fuse.strata');
  run('cat', `${mnt}/etc/hostname`, `${mnt}/etc/motd`);

  say('3. Change things through the mount');
  run('sh', '-c', `echo 'edited in the container' >> ${mnt}/etc/motd`);
  run('rm', `${mnt}/var/cache/big.bin`);
  run('rm', '-r', `${mnt}/srv`);
  run('mkdir', `${mnt}/srv`);
  run('sh', '-c', `echo '<h1>new site</h1>' > ${mnt}/srv/index.html`);
  run('mv', `${mnt}/etc`, `${mnt}/config`);
  run('ls', '-la', mnt, `${mnt}/config`);

  say('4. What landed in the upper dir (kernel overlayfs format: whiteouts are 0/0 char devices)');
  run('find', upper, '-printf', '%M %3s %p\n');
  run('getfattr', '-R', '-d', '-m', 'trusted.overlay', '--absolute-names', upper);

  say('5. The lower layers are untouched');
  run('cat', `${base0}/etc/motd`);
  run('ls', `${base0}/var/cache`, `${app}/srv`);
} finally {
  say('6. strata umount');
  run(process.execPath, cli, 'umount', mnt);
}

say("7. The same dirs mount with the kernel's overlayfs and show the same tree");
const kmnt = `${base}/kernel`;
fs.mkdirSync(kmnt);
fs.mkdirSync(`${base}/kwork`);
try {
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${app}:${base0},upperdir=${upper},workdir=${base}/kwork,redirect_dir=on`, kmnt]);
  run('ls', '-la', kmnt, `${kmnt}/config`);
  run('cat', `${kmnt}/config/motd`);
  execFileSync('umount', [kmnt]);
} catch (e) {
  process.stdout.write(`(kernel overlayfs not available here: ${(e as Error).message.split('\n')[0]})\n`);
}

// ---- Part two: images and containers, the story docker users know -----------------------------
const strata = (...args: string[]) => run(process.execPath, cli, ...args);
const rootfs = `${base}/busybox.tar`;
say('8. A small real base image: busybox, imported as a one-layer image');
run(path.join(path.dirname(cli), '../../scripts/make-busybox-rootfs'), rootfs);
strata('import', rootfs, '--tag', 'busybox:latest', '-m', 'busybox base', '-c', 'CMD ["/bin/sh"]');
strata('images');

say('8b. Build a small image from a Dockerfile; built again, every step comes from the layer cache');
const ctx = `${base}/build`;
fs.mkdirSync(ctx);
fs.writeFileSync(`${ctx}/greeting.txt`, 'hello from a strata build\n');
fs.writeFileSync(
  `${ctx}/Dockerfile`,
  'FROM busybox\nCOPY greeting.txt /etc/greeting\nRUN wc -c /etc/greeting > /etc/greeting.size\nCMD ["cat", "/etc/greeting"]\n',
);
process.stdout.write(fs.readFileSync(`${ctx}/Dockerfile`, 'utf8'));
strata('build', '-t', 'hello:latest', ctx);
strata('build', '-t', 'hello:latest', ctx);
strata('run', '--rm', 'hello:latest');

say('8c. A multi-stage build: the final image takes one file from a builder stage, and nothing else of it');
fs.writeFileSync(
  `${ctx}/Dockerfile.multi`,
  'FROM busybox AS builder\nRUN mkdir /out && echo "made in the builder stage" > /out/report\nFROM busybox\nCOPY --from=builder /out/report /report\nCMD ["cat", "/report"]\n',
);
process.stdout.write(fs.readFileSync(`${ctx}/Dockerfile.multi`, 'utf8'));
strata('build', '-f', `${ctx}/Dockerfile.multi`, '-t', 'multi:latest', ctx);
strata('run', '--rm', 'multi:latest');

say('8d. A detached container: run -d prints its ID and returns; its output goes to its log');
strata('run', '-d', '--name', `ticker-${process.pid}`, 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done; sleep 30');
spawnSync('sleep', ['1']);
strata('ps', '-f', `name=ticker-${process.pid}`);
strata('logs', `ticker-${process.pid}`);
strata('rm', '-f', `ticker-${process.pid}`);

say('8e. A named volume outlives its containers: one container writes to it, the next reads it (read-only)');
const notes = `notes-${process.pid}`;
strata('volume', 'create', notes);
strata('run', '--rm', '-v', `${notes}:/notes`, 'busybox', 'sh', '-c', 'echo "written by container $(hostname)" > /notes/hello');
strata('run', '--rm', '-v', `${notes}:/notes:ro`, 'busybox', 'cat', '/notes/hello');
strata('volume', 'ls');

const name = `demo-${process.pid}`;
say('9. Run a container that changes files (mounted with strata, chrooted, in its own namespaces)');
strata(
  'run',
  '--name',
  name,
  'busybox',
  'sh',
  '-c',
  'mkdir /data; dd if=/dev/zero of=/data/one bs=1M count=1 2>/dev/null; chmod -R 0777 /data; dd if=/dev/zero of=/data/two bs=1M count=1 2>/dev/null; rm /data/one; echo "PID $$ on $(hostname)"',
);

say('10. What the container changed (A added, C changed, D deleted), and its size');
strata('diff', name);
strata('ps', '-a', '-s');

say('11. Commit the container layer as a new image (an OCI layer tar: deletions are .wh. entries)');
strata('commit', '-a', 'strata demo <demo@example.com>', '-m', 'add /data', name, 'demo:latest');
strata('history', 'demo:latest');
strata('images');

say('12. Disk use: the base layer is stored once and shared; what each image adds of its own');
strata('system', 'df', '-v');
strata('volume', 'rm', notes);

say("12b. Measuring copy-up: the seeds' image, whose /data holds two 50 MiB files, then chmod -R 0777 /data");
fs.writeFileSync(
  `${ctx}/Dockerfile.seed`,
  'FROM busybox\nRUN mkdir /data && dd if=/dev/zero of=/data/one bs=1M count=50 && dd if=/dev/zero of=/data/two bs=1M count=50\nRUN dd if=/dev/zero of=/data/tmp bs=1M count=50\nRUN rm /data/tmp\n',
);
process.stdout.write(fs.readFileSync(`${ctx}/Dockerfile.seed`, 'utf8'));
strata('build', '-q', '-f', `${ctx}/Dockerfile.seed`, '-t', 'seed:latest', ctx);
process.stdout.write('(the 50 MiB of /data/tmp stay in the image: made in one layer, deleted by a whiteout in the next)\n');
strata('history', 'seed:latest');
const trace = `${base}/copy-up.jsonl`;
strata('run', '--rm', '--trace', trace, 'seed:latest', 'sh', '-c', 'chmod -R 0777 /data && rm /bin/vi');
process.stdout.write(`$ cat ${trace}   # a permission change copies each whole file up; rm leaves a whiteout\n${fs.readFileSync(trace, 'utf8')}`);
strata('bench', '-n', '1', 'seed:latest', '--', 'chmod', '-R', '0777', '/data');

say('13. Through a registry: push the image to a local registry (distribution 2.8), pull it into a fresh store, run it');
const reg = startRegistry(`${base}/registry`);
try {
  const remote = `${reg.host}/demo/app:1`;
  strata('tag', 'demo:latest', remote);
  strata('push', remote);
  strata('push', remote); // a second push sends nothing: every layer is there
  env = { ...process.env, STRATA_ROOT: `${base}/second-store` };
  process.stdout.write(`(now with STRATA_ROOT=${env.STRATA_ROOT}, an empty store)\n`);
  strata('pull', remote);
  strata('run', '--rm', remote, 'ls', '-l', '/data');
  strata('images');
  env = process.env;
} finally {
  reg.stop();
}

say('14. The merged view stays mounted: chroot into it by hand');
strata('mount', name);
const merged = spawnSync(process.execPath, [cli, 'inspect', name], { encoding: 'utf8' });
const mergedDir = JSON.parse(merged.stdout)[0].GraphDriver.Data.MergedDir;
process.stdout.write(`\n  chroot ${mergedDir} /bin/sh\n  strata umount ${name}     # when done; strata rm ${name} removes the container\n`);
process.stdout.write(`\nDemo files are in ${base}\n`);

/** Debian's docker-registry on a free loopback port, storing in `dir`; stopped at the end of the demo. */
function startRegistry(dir: string): { host: string; stop(): void } {
  fs.mkdirSync(dir, { recursive: true });
  const config = `${dir}/config.yml`;
  fs.writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:0\n  secret: strata-demo\n`,
  );
  const log = fs.openSync(`${dir}/registry.log`, 'w');
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log], detached: true });
  child.unref();
  const deadline = Date.now() + 15000;
  for (;;) {
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(`${dir}/registry.log`, 'utf8'));
    if (m) {
      process.stdout.write(`(docker-registry serve, listening on 127.0.0.1:${m[1]})\n`);
      return { host: `127.0.0.1:${m[1]}`, stop: () => void process.kill(child.pid!, 'SIGTERM') };
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${fs.readFileSync(`${dir}/registry.log`, 'utf8')}`);
    spawnSync('sleep', ['0.1']);
  }
}
