// scripts/bench: kernel overlayfs, fuse-overlayfs and strata over the same fixtures, in one run.
// Prints a markdown table of medians with ratios to kernel overlayfs.
//   bash scripts/bench            full sizes (1 GiB files, 100 layers, 50,000-entry dir, ...)
//   bash scripts/bench --quick    small sizes, for a smoke run
//   bash scripts/bench --only RE     run workloads whose name matches RE ('index' for the index figures)
//   bash scripts/bench --features    also each speed feature of the kernel transport switched off (or on);
//                                   BENCH_FEATURES=RE picks some of them
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/bin/main.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : '';
const features = args.includes('--features');
const RUNS = Number(process.env.BENCH_RUNS || 3);
const GiB = quick ? 64 << 20 : 1 << 30;
const N = (full, small) => (quick ? small : full);

const work = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'strata-bench-'));
const sh = (cmd) => execFileSync('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const dropCaches = () => sh('sync; echo 3 > /proc/sys/vm/drop_caches');
const log = (s) => process.stderr.write(s + '\n');

// ---- mounting the three systems --------------------------------------------------------------
const systems = {
  kernel: {
    // Mount data is limited to one page: name 100 layers relative to their parent dir, as Docker does.
    mount: (lowers, upper, wk, mnt) =>
      sh(
        `cd ${path.dirname(lowers[0])} && mount -t overlay overlay -o lowerdir=${lowers.map((l) => path.relative(path.dirname(lowers[0]), l)).join(':')}${upper ? `,upperdir=${upper},workdir=${wk}` : ''} ${mnt}`,
      ),
    umount: (mnt) => sh(`umount ${mnt}`),
  },
  'fuse-overlayfs': {
    mount: (lowers, upper, wk, mnt) => sh(`fuse-overlayfs -o lowerdir=${lowers.join(':')}${upper ? `,upperdir=${upper},workdir=${wk}` : ''} ${mnt}`),
    umount: (mnt) => sh(`fusermount3 -u ${mnt}`),
  },
  strata: strataWith(''),
  'strata fuse-native': strataWith('--transport fuse-native'),
  'strata --no-index': { ...strataWith('--no-index'), indexOnly: true }, // only where the index matters
};
/** The kernel transport with one speed feature switched off (or, for the writeback cache, on). */
const FEATURES = {
  'strata --no-readdirplus': { flags: '--no-readdirplus', on: /find|ls -f/ },
  'strata --readdirplus-auto': { flags: '--readdirplus-auto', on: /find|ls -f|touch/ },
  'strata --volatile': { flags: '--volatile', on: /touch|untar|chmod|append/ },
  'strata --busy-poll 0': { flags: '--busy-poll 0', on: /touch|untar|chmod|cold/ },
  'strata --entry-timeout 1': { flags: '--entry-timeout 1', on: /find|negative|touch/ },
  'strata --no-keep-cache': { flags: '--no-keep-cache', on: /warm/ },
  'strata --no-passthrough': { flags: '--no-passthrough', on: /read|write|append/ },
  'strata --writeback-cache': { flags: '--writeback-cache', on: /write|untar|append/ },
};
// BENCH_FEATURES=RE: only the switches whose name matches (e.g. 'readdirplus').
const featureRe = new RegExp(process.env.BENCH_FEATURES || '');
if (features) for (const [name, f] of Object.entries(FEATURES)) if (featureRe.test(name)) systems[name] = { ...strataWith(f.flags), feature: f.on };
function strataWith(flags) {
  return {
    mount: (lowers, upper, wk, mnt) => sh(`node ${CLI} mount ${flags} --lower ${lowers.join(':')}${upper ? ` --upper ${upper} --work ${wk}` : ''} ${mnt}`),
    umount: (mnt) => sh(`node ${CLI} umount ${mnt} && while grep -q " ${mnt} " /proc/self/mountinfo; do sleep 0.05; done`),
  };
}
// The index lives in its own root for the run, so the first mount of each stack builds it (untimed).
process.env.STRATA_ROOT = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'strata-bench-root-'));

let seq = 0;
/** A fresh upper/work/mountpoint for one run. */
function fresh() {
  const d = `${work}/run${seq++}`;
  for (const x of ['upper', 'work', 'mnt']) fs.mkdirSync(`${d}/${x}`, { recursive: true });
  return d;
}

function timeIt(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return t;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/**
 * One workload on every system: `prep(mnt)` runs before timing (not timed), `cmd(mnt)` is timed.
 * cold: caches dropped and a fresh mount before each run; warm: the same command run once before.
 */
function workload(name, lowers, { cmd, prep = null, cold = false, warm = false, writable = true, index = false }) {
  if (only && !new RegExp(only).test(name)) return;
  const row = { name, t: {} };
  for (const [sys, s] of Object.entries(systems)) {
    if (s.indexOnly && !index) continue;
    if (s.feature && !s.feature.test(name)) continue;
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const d = fresh();
      s.mount(lowers, writable ? `${d}/upper` : null, `${d}/work`, `${d}/mnt`);
      try {
        if (prep) sh(prep(`${d}/mnt`));
        if (warm) timeIt(cmd(`${d}/mnt`));
        if (cold) dropCaches();
        times.push(timeIt(cmd(`${d}/mnt`)));
      } finally {
        s.umount(`${d}/mnt`);
        fs.rmSync(d, { recursive: true, force: true });
      }
    }
    row.t[sys] = median(times);
    log(`${name} / ${sys}: ${times.map((x) => x.toFixed(3)).join(' ')} s`);
  }
  results.push(row);
}

// ---- fixtures ---------------------------------------------------------------------------------
log(`bench: fixtures in ${work} (${quick ? 'quick' : 'full'} sizes, ${RUNS} runs each)`);
function layer(name) {
  const d = `${work}/layers/${name}`;
  fs.mkdirSync(d, { recursive: true });
  return d;
}
const bigLayer = layer('big');
sh(`head -c ${GiB} /dev/urandom > ${bigLayer}/big`);
const manyLayer = layer('many');
sh(
  `mkdir -p ${manyLayer}/files ${manyLayer}/tree && cd ${manyLayer} && for i in $(seq 1 ${N(10000, 1000)}); do echo $i > files/f$i; done && cp -r files/. tree/`,
);

/** `count` layers holding `total` files in all, with a dir present in every layer. */
const stacks = new Map();
function deepStack(count, total) {
  const k = `${count}/${total}`;
  if (!stacks.has(k)) stacks.set(k, makeDeepStack(count, total));
  return stacks.get(k);
}
function makeDeepStack(count, total) {
  const per = Math.floor(total / count);
  const lowers = [];
  for (let l = 0; l < count; l++) {
    const d = layer(`deep${count}x${total}-${l}`);
    sh(`mkdir -p ${d}/common ${d}/own${l}/a ${d}/own${l}/b && cd ${d} && for i in $(seq 1 ${per}); do
      case $((i % 3)) in 0) echo x > common/l${l}-$i;; 1) echo yy > own${l}/a/$i;; *) echo zzz > own${l}/b/$i;; esac; done`);
    lowers.push(d);
  }
  return lowers.reverse();
}
const bigDirLayers = [];
for (let l = 0; l < 5; l++) {
  const d = layer(`bigdir-${l}`);
  sh(`mkdir -p ${d}/dir && cd ${d}/dir && seq -f 'l${l}-%g' 1 ${N(10000, 1000)} | xargs touch`);
  bigDirLayers.push(d);
}
const tarball = `${work}/small-files.tar`;
sh(
  `mkdir -p ${work}/tarsrc && cd ${work}/tarsrc && for d in $(seq 1 ${N(200, 20)}); do mkdir d$d; for f in $(seq 1 100); do echo $d$f > d$d/f$f; done; done && tar -cf ${tarball} .`,
);

// ---- workloads ----------------------------------------------------------------------------------
const results = [];
const size = quick ? '64 MiB' : '1 GiB';
workload(`chmod of a ${size} lower file (copy-up)`, [bigLayer], { cmd: (m) => `chmod 600 ${m}/big` });
workload(`append to a ${size} lower file`, [bigLayer], { cmd: (m) => `echo x >> ${m}/big` });
workload(`touch ${N(10000, 1000)} lower files`, [manyLayer], { cmd: (m) => `cd ${m}/files && find . -type f -print0 | xargs -0 touch` });
// The stat storm of a loader searching its paths: names that exist in no layer, in a dir every layer has.
const NEG = N(20000, 2000);
const negCmd = (m) => `python3 -c 'import os
for i in range(${NEG}):
    try: os.stat("${m}/common/missing%d" % i)
    except FileNotFoundError: pass'`;
for (const count of [1, 10, 100]) {
  if (quick && count === 100) continue;
  const lowers = deepStack(count, N(20000, 2000));
  workload(`${NEG} negative lookups, ${count} layers, cold`, lowers, { cmd: negCmd, index: true, cold: true });
  workload(`find -printf %s, ${count} layers, cold`, lowers, { cmd: (m) => `find ${m} -printf '%s\\n' > /dev/null`, cold: true, index: true });
  workload(`find -printf %s, ${count} layers, warm`, lowers, { cmd: (m) => `find ${m} -printf '%s\\n' > /dev/null`, warm: true, index: true });
}
workload(`ls -f of a ${N(50000, 5000)}-entry dir (5 layers), cold`, bigDirLayers, { cmd: (m) => `ls -f ${m}/dir > /dev/null`, cold: true, index: true });
workload(`ls -f of a ${N(50000, 5000)}-entry dir (5 layers), warm`, bigDirLayers, { cmd: (m) => `ls -f ${m}/dir > /dev/null`, warm: true, index: true });
workload(`sequential read of a ${size} lower file, cold`, [bigLayer], { cmd: (m) => `cat ${m}/big > /dev/null`, cold: true });
workload(`sequential read of a ${size} lower file, warm`, [bigLayer], { cmd: (m) => `cat ${m}/big > /dev/null`, warm: true });
workload(`sequential ${size} write of a new file (dd bs=1M)`, [manyLayer], {
  cmd: (m) => `dd if=/dev/zero of=${m}/new bs=1M count=${GiB >> 20} conv=fsync status=none`,
});
workload(`untar ${N(20000, 2000)} small files`, [manyLayer], { cmd: (m) => `tar -xf ${tarball} -C ${m}` });
workload(`rm -rf of a ${N(10000, 1000)}-file lower tree`, [manyLayer], { cmd: (m) => `rm -rf ${m}/tree` });

// ---- index figures (strata alone): first build, mount of an indexed chain, daemon memory -----------
const indexFigures = [];
if (!only || new RegExp(only).test('index figures')) {
  const count = quick ? 10 : 100;
  const lowers = deepStack(count, N(100000, 5000));
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  const envRoot = `STRATA_ROOT=${root}`;
  const build = timeIt(`${envRoot} node ${CLI} index build ${lowers.join(' ')}`);
  const entries = JSON.parse(sh(`${envRoot} node ${CLI} index build --format json ${lowers.join(' ')}`)).at(-1).entries;
  indexFigures.push([`first index build: ${count} layers, ${entries} entries in the chain (\`strata index build\`)`, build]);
  // As users run it (the installed `strata`, which skips the CA bundle), and as `node dist/bin/main.js`.
  for (const [label, bin, flags] of [
    [' (`strata mount`)', 'strata', ''],
    [' (`strata mount --transport fuse-native`)', 'strata', '--transport fuse-native'],
    [' (`node dist/bin/main.js mount`, NODE_EXTRA_CA_CERTS as set here)', `node ${CLI}`, ''],
  ]) {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const d = fresh();
      times.push(timeIt(`${envRoot} ${bin} mount ${flags} --lower ${lowers.join(':')} ${d}/mnt`));
      if (i === RUNS - 1 && bin === 'strata') {
        const pid = sh(`pgrep -f -- 'mount ${d}/mnt '`).trim().split('\n')[0];
        // RssAnon is the daemon's own memory; RssFile counts the index pages it has mapped (page cache, reclaimable).
        const rss = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
        const which = flags ? ` (${flags})` : ' (kernel transport)';
        const mem = (when) => {
          indexFigures.push([`daemon resident memory ${when}${which}: total (VmRSS)`, rss('VmRSS'), 'MiB']);
          indexFigures.push([`daemon resident memory ${when}${which}: its own (RssAnon)`, rss('RssAnon'), 'MiB']);
          indexFigures.push([`daemon resident memory ${when}${which}: mapped files, the index among them (RssFile)`, rss('RssFile'), 'MiB']);
        };
        mem(`with the ${count}-layer chain mounted`);
        sh(`find ${d}/mnt -printf '%s\\n' > /dev/null`);
        mem(`after a find over all ${entries} entries`);
      }
      systems.strata.umount(`${d}/mnt`);
    }
    indexFigures.push([`mount of the indexed ${count}-layer chain, until ready${label}`, median(times)]);
  }
  for (const [name, v] of indexFigures) log(`${name}: ${v}`);
}

// ---- store figures (strata alone): run of `true`, commit of a large container layer --------------
// The commit is measured twice: in a store on a fresh ext4 with a journal (mkfs defaults, on a
// loop device), and in a store on the backing fs of this run. Without a journal (as on these
// machines' root fs) ext4 skips inodes freed in the last ~20 minutes when it allocates new ones,
// so every file created after a big delete costs a scan: that shows in the second figure.
const storeFigures = [];
if (!only || new RegExp(only).test('store figures')) {
  const loopImg = `${work}/ext4.img`,
    loopMnt = `${work}/ext4`;
  sh(
    `truncate -s ${N(8, 1)}G ${loopImg} && mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 ${loopImg} && mkdir -p ${loopMnt} && mount -o loop ${loopImg} ${loopMnt}`,
  );
  try {
    for (const [where, base] of [
      ['a fresh journaled ext4', loopMnt],
      [`this run's backing fs (${sh(`stat -f -c %T ${work}`).trim()})`, work],
    ]) {
      const root = fs.mkdtempSync(path.join(base, 'store-'));
      const S = `STRATA_ROOT=${root} strata`;
      sh(`${ROOT}/scripts/make-busybox-rootfs ${work}/busybox.tar && ${S} import ${work}/busybox.tar -t busybox`);
      if (base === loopMnt) {
        const runs = [];
        for (let i = 0; i < Math.max(RUNS, 5); i++) runs.push(timeIt(`${S} run --rm busybox true`));
        storeFigures.push(['`strata run --rm busybox true`, from command to exit', median(runs)]);
      }
      const files = N(10000, 1000);
      const each = Math.floor(GiB / files);
      sh(`${S} create --name big busybox sh`);
      const upper = JSON.parse(sh(`${S} inspect big`))[0].GraphDriver.Data.UpperDir;
      // The files are written straight into the upper dir (as the container would through the mount, only faster).
      sh(`mkdir ${upper}/data && cd ${upper}/data && for i in $(seq 0 ${files - 1}); do head -c ${each} /dev/urandom > f$i; done; sync`);
      const ref = [],
        commit = [];
      for (let i = 0; i < RUNS; i++) {
        ref.push(timeIt(`tar -C ${upper} -cf - . | sha256sum > /dev/null`));
        commit.push(timeIt(`${S} commit big big:${i}`));
        sh(`${S} rmi big:${i}`);
      }
      log(`commit on ${where}: ${commit.map((x) => x.toFixed(2)).join(' ')} s; tar | sha256sum: ${ref.map((x) => x.toFixed(2)).join(' ')} s`);
      storeFigures.push([`\`tar -c | sha256sum\` of a container's upper dir (${GiB >> 20} MiB in ${files} files), on ${where}`, median(ref)]);
      storeFigures.push([`\`strata commit\` of that container (tar, hash, store the blob and the layer dir, in one pass), on ${where}`, median(commit)]);
      storeFigures.push([`commit / (tar | sha256sum), on ${where}`, median(commit) / median(ref), 'x']);
      sh(`${S} rm -f big`);
    }
  } finally {
    sh(`umount ${loopMnt}; rm -f ${loopImg}`);
  }
  for (const [name, v] of storeFigures) log(`${name}: ${v}`);
}

// ---- registry figures (strata against skopeo + umoci, on a loopback docker-registry) -------------
// An image of 1 GiB in 5 layers (each half random bytes, half base64 text: gzip shrinks the text
// only), and for push also 1 GiB of this machine's own /usr files (what images really hold). Push: strata push against skopeo copy of the same image from an OCI
// layout (`strata save`), both gzipping. Pull: into an empty store (layers applied) against
// skopeo copy to an OCI layout plus umoci unpack. Each run gets a fresh registry, so nothing is
// already there; the last figure is a pull whose layers the store already has.
const registryFigures = [];
if (!only || new RegExp(only).test('registry figures')) {
  const startRegistry = (dir) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      `${dir}/config.yml`,
      `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:0\n  secret: bench\n`,
    );
    const pid = Number(sh(`cd ${dir} && (setsid docker-registry serve config.yml > log 2>&1 & echo $!)`).trim());
    for (let i = 0; i < 150; i++) {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(fs.readFileSync(`${dir}/log`, 'utf8'));
      if (m) return { host: `127.0.0.1:${m[1]}`, stop: () => sh(`kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.05; done`) };
      sh('sleep 0.1');
    }
    throw new Error(`docker-registry did not start: ${fs.readFileSync(`${dir}/log`, 'utf8')}`);
  };
  const regWork = fs.mkdtempSync(path.join(work, 'registry-'));
  const src = `${regWork}/src-store`;
  const S = (root) => `STRATA_ROOT=${root} strata`;
  sh(`${ROOT}/scripts/make-busybox-rootfs ${regWork}/busybox.tar && ${S(src)} import ${regWork}/busybox.tar -t base`);
  const per = Math.floor(GiB / 5);
  /** A 5-layer image NAME:5 whose layer i gets what `fill(upperDir, i)` writes, and its OCI layout (for skopeo). */
  const image = (name, fill) => {
    let from = 'base';
    for (let i = 1; i <= 5; i++) {
      sh(`${S(src)} create --name l${i} ${from} true`);
      fill(JSON.parse(sh(`${S(src)} inspect l${i}`))[0].GraphDriver.Data.UpperDir, i);
      sh(`${S(src)} commit l${i} ${name}:${i} && ${S(src)} rm l${i}`);
      from = `${name}:${i}`;
    }
    sh(
      `${S(src)} save -o ${regWork}/${name}.tar ${name}:5 && mkdir ${regWork}/${name}-layout && tar -C ${regWork}/${name}-layout -xf ${regWork}/${name}.tar && rm ${regWork}/${name}.tar`,
    );
    const index = JSON.parse(fs.readFileSync(`${regWork}/${name}-layout/index.json`, 'utf8'));
    return `${regWork}/${name}-layout:${index.manifests[0].annotations?.['org.opencontainers.image.ref.name'] ?? `${name}:5`}`;
  };
  const layout = image('big', (up, i) =>
    sh(`head -c ${per >> 1} /dev/urandom > ${up}/random${i}.bin && head -c ${Math.floor((per >> 1) * 0.75)} /dev/urandom | base64 > ${up}/text${i}.txt`),
  );
  // The same size of this machine's own files (programs, libraries, docs: what images hold), as one tar per layer.
  const usr = `${regWork}/usr.tar`;
  sh(`tar -cf - /usr 2>/dev/null | head -c ${per * 5} > ${usr} || true`);
  const sysLayout = image('sys', (up, i) => sh(`tail -c +${(i - 1) * per + 1} ${usr} | head -c ${per} > ${up}/files${i}.tar`));
  fs.rmSync(usr);
  const push = [],
    skopeoPush = [],
    sysPush = [],
    sysSkopeoPush = [],
    pull = [],
    skopeoPull = [],
    presentFirst = [],
    present = [];
  for (let i = 0; i < RUNS; i++) {
    const reg = startRegistry(`${regWork}/reg${i}`);
    try {
      sh(`${S(src)} tag big:5 ${reg.host}/bench/strata:1`);
      push.push(timeIt(`${S(src)} push ${reg.host}/bench/strata:1`));
      skopeoPush.push(timeIt(`skopeo copy -q --dest-tls-verify=false --dest-compress oci:${layout} docker://${reg.host}/bench/skopeo:1`));
      sh(`${S(src)} tag sys:5 ${reg.host}/bench/sys:1`);
      sysPush.push(timeIt(`${S(src)} push ${reg.host}/bench/sys:1`));
      sysSkopeoPush.push(timeIt(`skopeo copy -q --dest-tls-verify=false --dest-compress oci:${sysLayout} docker://${reg.host}/bench/sys-skopeo:1`));
      sh(`${S(src)} rmi ${reg.host}/bench/sys:1`);
      const dst = `${regWork}/pull-store${i}`;
      dropCaches();
      pull.push(timeIt(`${S(dst)} pull ${reg.host}/bench/strata:1`));
      dropCaches();
      skopeoPull.push(
        timeIt(
          `skopeo copy -q --src-tls-verify=false docker://${reg.host}/bench/strata:1 oci:${regWork}/out${i}:1 && umoci unpack --image ${regWork}/out${i}:1 ${regWork}/bundle${i}`,
        ),
      );
      // Its first run follows the cold-cache pulls (node and strata's own files may be out of the
      // page cache); the repeats are what a user typing the command again sees.
      presentFirst.push(timeIt(`${S(dst)} pull ${reg.host}/bench/strata:1`));
      for (let k = 0; k < 4; k++) present.push(timeIt(`${S(dst)} pull ${reg.host}/bench/strata:1`));
      sh(`${S(src)} rmi ${reg.host}/bench/strata:1; rm -rf ${dst} ${regWork}/out${i} ${regWork}/bundle${i}`);
    } finally {
      reg.stop();
      fs.rmSync(`${regWork}/reg${i}`, { recursive: true, force: true }); // 4 GiB of blobs a run: the disk is not endless
    }
  }
  log(
    `push: strata ${push.map((x) => x.toFixed(2))} skopeo ${skopeoPush.map((x) => x.toFixed(2))}; /usr push: strata ${sysPush.map((x) => x.toFixed(2))} skopeo ${sysSkopeoPush.map((x) => x.toFixed(2))}; pull: strata ${pull.map((x) => x.toFixed(2))} skopeo+umoci ${skopeoPull.map((x) => x.toFixed(2))}`,
  );
  registryFigures.push([`push of ${GiB >> 20} MiB in 5 layers to a loopback registry: \`strata push\``, median(push)]);
  registryFigures.push([`… \`skopeo copy --dest-compress oci:… docker://…\` of the same image`, median(skopeoPush)]);
  registryFigures.push(['push: strata / skopeo', median(push) / median(skopeoPush), 'x']);
  registryFigures.push([`push of ${GiB >> 20} MiB of this machine's /usr files in 5 layers: \`strata push\``, median(sysPush)]);
  registryFigures.push(['… `skopeo copy --dest-compress` of the same image', median(sysSkopeoPush)]);
  registryFigures.push(['push of /usr files: strata / skopeo', median(sysPush) / median(sysSkopeoPush), 'x']);
  registryFigures.push(['pull of it into an empty store, layers applied: `strata pull` (cold cache)', median(pull)]);
  registryFigures.push(['… `skopeo copy docker://… oci:…` + `umoci unpack` (cold cache)', median(skopeoPull)]);
  registryFigures.push(['pull: strata / (skopeo + umoci)', median(pull) / median(skopeoPull), 'x']);
  registryFigures.push(['`strata pull` of it again, every layer present (median of 4 repeats a run)', median(present)]);
  registryFigures.push(['… the first of those pulls, right after the cold-cache ones', median(presentFirst)]);
  for (const [name, v] of registryFigures) log(`${name}: ${v}`);
}

// ---- report ---------------------------------------------------------------------------------------
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const fmt = (s) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
let out = `Medians of ${RUNS} runs, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}, backing fs ${sh(`stat -f -c %T ${work}`).trim()}.\n\n`;
out +=
  '| workload | kernel overlayfs | fuse-overlayfs | strata | strata / kernel | strata / fuse-overlayfs | strata fuse-native (/ kernel) | strata --no-index (/ kernel) |\n|---|---|---|---|---|---|---|---|\n';
const cell = (v, k) => (v === undefined ? '' : `${fmt(v)} (${ratio(v, k)})`);
for (const r of results) {
  const k = r.t.kernel,
    f = r.t['fuse-overlayfs'],
    s = r.t.strata;
  out += `| ${r.name} | ${fmt(k)} | ${cell(f, k)} | ${fmt(s)} | ${ratio(s, k)} | ${ratio(s, f)} | ${cell(r.t['strata fuse-native'], k)} | ${cell(r.t['strata --no-index'], k)} |\n`;
}
if (features) {
  out += '\n| workload | strata (every feature) | feature switched | that run | / every feature |\n|---|---|---|---|---|\n';
  for (const r of results)
    for (const name of Object.keys(FEATURES))
      if (r.t[name] !== undefined)
        out += `| ${r.name} | ${fmt(r.t.strata)} | ${name.replace('strata ', '')} | ${fmt(r.t[name])} | ${ratio(r.t[name], r.t.strata)} |\n`;
}
if (indexFigures.length) {
  out += '\n| index figure | value |\n|---|---|\n';
  for (const [name, v, unit] of indexFigures) out += `| ${name} | ${unit ? `${v.toFixed(0)} ${unit}` : fmt(v)} |\n`;
}
if (registryFigures.length) {
  out += '\n| registry figure | value |\n|---|---|\n';
  for (const [name, v, unit] of registryFigures) out += `| ${name} | ${unit ? `${v.toFixed(2)}${unit}` : fmt(v)} |\n`;
}
if (storeFigures.length) {
  out += '\n| store figure | value |\n|---|---|\n';
  for (const [name, v, unit] of storeFigures) out += `| ${name} | ${unit ? `${v.toFixed(2)}${unit}` : fmt(v)} |\n`;
}
// Time against layer count, per system, as an SVG chart (README).
const chartRows = results.filter((r) => /layers?(,|$)/.test(r.name) && !/warm/.test(r.name));
if (chartRows.length && process.env.BENCH_CHART) fs.writeFileSync(process.env.BENCH_CHART, chart(chartRows));
function chart(rows) {
  const groups = {};
  for (const r of rows) {
    const m = /^(.*?),? (\d+) layers?(.*)$/.exec(r.name);
    if (!m) continue;
    const g = (groups[m[1] + m[3]] ??= {});
    for (const [sys, v] of Object.entries(r.t)) (g[sys] ??= []).push([Number(m[2]), v]);
  }
  const colors = { kernel: '#1f77b4', 'fuse-overlayfs': '#ff7f0e', strata: '#2ca02c', 'strata --no-index': '#9467bd' };
  const W = 360,
    H = 220,
    names = Object.keys(groups);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W * names.length}" height="${H + 40}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="#fff"/>`;
  names.forEach((g, gi) => {
    const x0 = gi * W + 50,
      y0 = H - 20,
      w = W - 80,
      h = H - 50;
    const max = Math.max(
      ...Object.values(groups[g])
        .flat()
        .map(([, v]) => v),
    );
    const lx = (n) => x0 + (Math.log10(n) / 2) * w,
      ly = (v) => y0 - (v / max) * h;
    svg += `<text x="${x0}" y="14" font-weight="bold">${g} (seconds)</text><line x1="${x0}" y1="${y0}" x2="${x0 + w}" y2="${y0}" stroke="#000"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 - h}" stroke="#000"/>`;
    for (const n of [1, 10, 100]) svg += `<text x="${lx(n) - 8}" y="${y0 + 14}">${n}</text>`;
    svg += `<text x="${x0 + w / 2 - 20}" y="${y0 + 28}">layers</text><text x="${x0 - 40}" y="${ly(max) + 4}">${max.toFixed(2)}</text><text x="${x0 - 14}" y="${y0}">0</text>`;
    Object.entries(groups[g]).forEach(([sys, pts], si) => {
      svg += `<polyline fill="none" stroke-width="2" stroke="${colors[sys]}" points="${pts.map(([n, v]) => `${lx(n)},${ly(v)}`).join(' ')}"/>`;
      if (gi === 0) svg += `<text x="${x0 + 10 + si * 120}" y="${H + 35}" fill="${colors[sys]}">${sys}</text>`;
    });
  });
  return svg + '</svg>\n';
}
process.stdout.write(out);
if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, out);
fs.rmSync(work, { recursive: true, force: true });
