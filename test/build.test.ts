// strata build: a Dockerfile and a context dir into an image, step by step with a layer cache,
// run as a user runs it, on a real busybox base; and its answers to bad Dockerfiles.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, tmpdir } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';

t.setTimeout(300_000);
const base = tmpdir(t, 'strata-build-');
const { strata, ok, cleanup } = storeCli(`${base}/root`);
t.teardown(cleanup);
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [`${base}/busybox.tar`]);
ok('import', `${base}/busybox.tar`, '--tag', 'base');

const ctx = `${base}/ctx`;
fs.mkdirSync(`${ctx}/files/sub`, { recursive: true });
fs.writeFileSync(`${ctx}/files/a`, 'a\n');
fs.writeFileSync(`${ctx}/files/sub/b`, 'b\n');
fs.writeFileSync(`${ctx}/one.txt`, 'one\n');
fs.writeFileSync(
  `${ctx}/Dockerfile`,
  `# a test image
FROM base
ARG GREETING=hello
ENV APP=/app NAME="strata build"
WORKDIR $APP
COPY files/ ./
COPY one.txt /etc/one.txt
RUN echo "$GREETING from $NAME" > made.txt && \\
    chmod 600 made.txt && echo step-output
LABEL org.example.k=v
EXPOSE 8080
CMD ["cat", "made.txt"]
`,
);
const cacheHits = (out: string) => out.split('\n').filter((l) => l === ' ---> Using cache').length;
const finalId = (out: string) => /Successfully built ([a-f0-9]{12})/.exec(out)?.[1];

t.test('a Dockerfile builds, step by step, into an image that runs', async (t) => {
  const out = ok('build', '-t', 'app:1', ctx);
  t.match(out, /^Step 1\/10 : FROM base\n ---> [a-f0-9]{12}\nStep 2\/10 : ARG GREETING=hello\n/, "docker's step lines");
  t.match(out, /^step-output$/m, "RUN's output is shown");
  t.match(
    out,
    /\nStep 7\/10 : RUN [^\n]*\n ---> Running in ([a-f0-9]{12})\nstep-output\nRemoving intermediate container \1\n ---> [a-f0-9]{12}\nStep 8\/10 /,
    "a RUN step as docker's classic builder prints it: its container, its output, the container removed, the image",
  );
  t.notMatch(out.replace(/Step 7\/10[^]*?Step 8\/10/, ''), /Running in|intermediate container/, 'no other step runs a container');
  t.match(out, /Successfully built [a-f0-9]{12}\nSuccessfully tagged app:1\n$/, 'and the result');
  t.equal(ok('run', '--rm', 'app:1'), 'hello from strata build\n', 'CMD runs in WORKDIR, ARG and ENV reach RUN');
  t.equal(
    ok('run', '--rm', 'app:1', 'sh', '-c', 'pwd; cat a sub/b /etc/one.txt; stat -c "%a %U" made.txt a'),
    '/app\na\nb\none\n600 root\n644 root\n',
    'COPY of a dir copies its contents, a file lands where named; modes kept, owned by root',
  );
  const info = JSON.parse(ok('inspect', 'app:1'))[0];
  t.same(info.Config.Labels, { 'org.example.k': 'v' }, 'LABEL');
  t.same(info.Config.ExposedPorts, { '8080/tcp': {} }, 'EXPOSE');
  t.ok(info.Config.Env.includes('NAME=strata build') && info.Config.Env.includes('APP=/app'), 'ENV with quotes and several pairs');
  t.notOk(
    info.Config.Env.some((e: string) => e.startsWith('GREETING=')),
    'an ARG is not kept in the image',
  );
  t.equal(info.RootFS.Layers.length, 4, 'COPY, COPY and RUN each add a layer to the base');
  const hist = ok('history', 'app:1').trim().split('\n').slice(1);
  t.equal(hist.length, 9, 'history: one row per step after FROM, and the base');
  t.ok(
    hist.every((r) => /^[a-f0-9]{12}\s/.test(r)),
    'each with the ID of the image that step made (as the classic builder)',
  );
  t.match(hist[0], /#\(nop\)\s+CMD \["cat","made.txt"\]\s+0B/, 'metadata steps add no layer');
  t.match(ok('ps', '-a', '-q'), /^$/, 'no build container is left');
});

t.test('the layer cache', async (t) => {
  const first = finalId(ok('build', '-t', 'app:1', ctx));
  const again = ok('build', '-t', 'app:1', ctx);
  t.equal(cacheHits(again), 8, 'a rebuild takes every step from the cache');
  t.equal(finalId(again), first, 'and gives the same image');
  t.notMatch(again, /^step-output$/m, 'without running anything');
  fs.writeFileSync(`${ctx}/files/a`, 'changed\n');
  const changed = ok('build', '-t', 'app:2', ctx);
  t.equal(cacheHits(changed), 2, 'a changed file in the context: ENV and WORKDIR still cached, the COPY of it and all after it run');
  t.equal(ok('run', '--rm', 'app:2', 'cat', 'a'), 'changed\n', 'and the new image has the new file');
  const withArg = ok('build', '--build-arg', 'GREETING=hi', '-t', 'app:3', ctx);
  t.equal(cacheHits(withArg), 4, 'a different build arg reruns the RUN that sees it, not the steps before');
  t.equal(ok('run', '--rm', 'app:3'), 'hi from strata build\n', 'with the value given');
  t.equal(cacheHits(ok('build', '--no-cache', '-t', 'app:4', ctx)), 0, '--no-cache uses nothing cached');
  fs.writeFileSync(`${ctx}/files/a`, 'a\n');
});

t.test('intermediate images, the build cache and its pruning', async (t) => {
  const listed = ok('images');
  t.notMatch(listed, /<none>/, 'images does not list the build steps');
  t.match(ok('images', '-a'), /<none>\s+<none>/, 'images -a does');
  const df = ok('system', 'df');
  const cache = /Build Cache\s+(\d+)\s+0\s+/.exec(df);
  t.ok(cache && Number(cache[1]) > 0, `system df counts the cached steps: ${cache?.[1]}`);
  const pruned = ok('builder', 'prune');
  t.match(pruned, /Deleted build cache objects: [1-9]\d*\n\nTotal reclaimed space: /, 'builder prune empties the cache');
  t.match(ok('system', 'df'), /Build Cache\s+0\s+0\s+0B\s+0B/, 'then none is left');
  t.notMatch(ok('images', '-a'), /<none>/, 'nor any intermediate image');
  t.equal(ok('run', '--rm', 'app:1'), 'hello from strata build\n', 'the tagged images still run');
  t.equal(cacheHits(ok('build', '-t', 'app:1', ctx)), 0, 'and the next build runs every step');
  const before = ok('images', '-a', '-q').split('\n').length;
  const r = ok('rmi', 'app:1');
  t.ok(r.split('\n').filter((l) => l.startsWith('Deleted:')).length > 1, 'rmi of a built image deletes the build steps only it stood on');
  t.ok(ok('images', '-a', '-q').split('\n').length < before - 1, 'they are gone from images -a');
  t.match(ok('system', 'check', '--no-repair'), /the store is consistent/, 'and the store is consistent');
});

t.test('ADD extracts a local tar', async (t) => {
  const c = `${base}/ctx-add`;
  fs.mkdirSync(`${c}/src`, { recursive: true });
  fs.writeFileSync(`${c}/src/inside.txt`, 'from the tar\n');
  execFileSync('tar', ['-czf', `${c}/payload.tgz`, '-C', `${c}/src`, 'inside.txt']);
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nADD payload.tgz /opt/\nCOPY payload.tgz /keep/\n');
  ok('build', '-t', 'added', c);
  t.equal(ok('run', '--rm', 'added', 'cat', '/opt/inside.txt'), 'from the tar\n', 'ADD unpacks a tar');
  t.match(ok('run', '--rm', 'added', 'ls', '/keep'), /^payload\.tgz\n$/, 'COPY copies it as it is');
});

t.test('bad Dockerfiles: one sentence with the line, exit 1, nothing tagged or left running', async (t) => {
  const c = `${base}/ctx-bad`;
  fs.mkdirSync(c, { recursive: true });
  fs.writeFileSync(`${base}/outside.txt`, 'secret\n');
  fs.writeFileSync(`${c}/one.txt`, 'one\n');
  const cases: [string, RegExp][] = [
    ['FROM base\nRUN echo partial && false\n', /^strata: The command '\/bin\/sh -c echo partial && false' returned a non-zero code: 1\n$/],
    ['FROM base\nCOPY ../outside.txt /x\n', /^strata: Dockerfile, line 2: forbidden path outside the build context: \.\.\/outside\.txt\n$/],
    ['FROM base\nCOPY nothere /x\n', /^strata: Dockerfile, line 2: file not found in the build context: nothere\n$/],
    ['FROM base\n\nFROBNICATE /data\n', /^strata: Dockerfile, line 3: FROBNICATE is not a supported instruction/],
    ['FROM base\nCOPY --chmod=9z one.txt /x\n', /^strata: Dockerfile, line 2: COPY --chmod=9z: not an octal mode \(like 644 or 0755\)\n$/],
    ['FROM base\n\nCOPY --chown one.txt /x\n', /^strata: Dockerfile, line 3: COPY --chown needs a value: --chown=USER\[:GROUP\]\n$/],
    ['FROM base\nCOPY --chown= one.txt /x\n', /^strata: Dockerfile, line 2: COPY --chown needs a value: --chown=USER\[:GROUP\]\n$/],
    ['FROM base\nCOPY --chown=a:b:c one.txt /x\n', /^strata: Dockerfile, line 2: COPY --chown=a:b:c: not USER\[:GROUP\] \(names or numbers\)\n$/],
    ['FROM base\nCOPY --link one.txt /x\n', /^strata: Dockerfile, line 2: COPY: unknown flag --link \(COPY takes --from, --chown, --chmod\)\n$/],
    ['FROM base\nADD --from=base one.txt /x\n', /^strata: Dockerfile, line 2: ADD: unknown flag --from \(ADD takes --chown, --chmod\)\n$/],
    ['FROM base\nCOPY --chmod=644 --chmod=600 one.txt /x\n', /^strata: Dockerfile, line 2: COPY: --chmod is given twice\n$/],
    [
      'FROM base\nCOPY --chown=nosuchuser one.txt /x\n',
      /^strata: Dockerfile, line 2: COPY --chown=nosuchuser: no user nosuchuser in the image's \/etc\/passwd\n$/,
    ],
    ['FROM base\nCOPY http://127.0.0.1:9/x /x\n', /^strata: Dockerfile, line 2: COPY cannot take a URL \(http:\/\/127.0.0.1:9\/x\): use ADD\n$/],
    ['FROM base\nADD ftp://127.0.0.1/x /x\n', /^strata: Dockerfile, line 2: ADD takes http and https URLs only, not ftp:\/\/127.0.0.1\/x\n$/],
    ['RUN true\n', /^strata: Dockerfile: the first instruction must be FROM\n$/],
    ['FROM nosuch:image\n', /^strata: no such image: nosuch:image\n$/],
  ];
  for (const [text, re] of cases) {
    fs.writeFileSync(`${c}/Dockerfile`, text);
    const r = strata('build', '-t', 'bad:1', c);
    t.equal(r.status, 1, `${text.trim().split('\n').pop()}: exit 1`);
    t.match(r.stderr, re, r.stderr.trim());
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  t.notMatch(ok('images'), /^bad\s/m, 'no image was tagged');
  t.equal(ok('ps', '-a', '-q'), '', 'no build container is left');
  t.notMatch(ok('run', '--rm', 'base', 'ls', '/'), /outside|secret/, 'nothing from outside the context got in');
});

t.test('multi-stage builds: FROM … AS, COPY --from, --target, only the stages needed (issue 11)', async (t) => {
  const c = `${base}/ctx-multi`;
  fs.mkdirSync(c, { recursive: true });
  fs.writeFileSync(
    `${c}/Dockerfile`,
    `ARG BASE=base
FROM \${BASE} AS builder
RUN mkdir /out && echo built > /out/artifact
FROM base AS unused
RUN echo this stage is not needed && exit 3
FROM builder AS tester
RUN test -f /out/artifact && echo tested > /out/tested
FROM base
COPY --from=builder /out/artifact /artifact
COPY --from=0 /out /out2
COPY --from=tester /out/tested /tested
CMD ["cat", "/artifact", "/tested"]
`,
  );
  const out = ok('build', '-t', 'multi:1', c);
  t.notMatch(out, /this stage is not needed/, 'a stage nothing needs is not built');
  t.match(out, /^Step 1\/10 : ARG BASE=base\n/, 'steps counted over what is built');
  t.equal(ok('run', '--rm', 'multi:1'), 'built\ntested\n', 'the files came from the other stages');
  t.equal(ok('run', '--rm', 'multi:1', 'cat', '/out2/artifact'), 'built\n', 'COPY --from=INDEX');
  t.equal(ok('run', '--rm', 'multi:1', 'sh', '-c', 'test -e /out || echo none'), 'none\n', "the builder's own files are not in the final image");
  ok('build', '--target', 'builder', '-t', 'multi:builder', c);
  t.equal(
    ok('run', '--rm', 'multi:builder', 'sh', '-c', 'cat /out/artifact; test -e /artifact || echo only-builder'),
    'built\nonly-builder\n',
    '--target stops at that stage',
  );
  const bad = strata('build', '--target', 'nosuch', c);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^strata: Dockerfile: target stage "nosuch" could not be found\n$/, 'an unknown target: one sentence');
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base AS a\nCOPY --from=b /x /x\nFROM base AS b\n');
  t.equal(strata('build', c).status, 0, 'a stage the target does not need is not built, even a broken one');
  const later = strata('build', '--target', 'a', c);
  t.match(later.stderr, /^strata: no such image: b\n$/, 'COPY --from a stage defined later is not that stage (docker reads it as an image)');
});

t.test('SHELL, STOPSIGNAL, HEALTHCHECK, VOLUME, ONBUILD; build -q, --label, --iidfile; a build without -t is dangling (issue 11)', async (t) => {
  const c = `${base}/ctx-more`;
  fs.mkdirSync(c, { recursive: true });
  fs.writeFileSync(
    `${c}/Dockerfile`,
    `FROM base
SHELL ["/bin/sh", "-xc"]
RUN echo traced
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=1m30s --retries=2 CMD test -f /ok
VOLUME ["/data"]
ONBUILD RUN echo triggered > /onbuild
CMD trap "echo got USR1; exit 0" USR1; echo up; while true; do sleep 0.1; done
`,
  );
  const r = strata('build', '-t', 'more:1', '--label', 'team=a', c);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /\+ echo traced/, "RUN's shell form runs with SHELL (sh -x traces it, on stderr)");
  const cfg = JSON.parse(ok('inspect', 'more:1'))[0].Config;
  t.same(cfg.Shell, ['/bin/sh', '-xc'], 'SHELL is kept');
  t.same(cfg.Cmd, ['/bin/sh', '-xc', 'trap "echo got USR1; exit 0" USR1; echo up; while true; do sleep 0.1; done'], "CMD's shell form takes it too");
  t.equal(cfg.StopSignal, 'SIGUSR1');
  t.same(cfg.Healthcheck, { Test: ['CMD-SHELL', 'test -f /ok'], Interval: 90e9, Retries: 2 }, 'HEALTHCHECK, as docker stores it');
  t.same(cfg.Volumes, { '/data': {} });
  t.same(cfg.OnBuild, ['RUN echo triggered > /onbuild']);
  t.same(cfg.Labels, { team: 'a' }, '--label');

  ok('run', '-d', '--name', 'sig', 'more:1');
  for (let i = 0; i < 100 && !ok('logs', 'sig').includes('up'); i++) await new Promise((r) => setTimeout(r, 50));
  ok('stop', '-t', '5', 'sig');
  t.match(ok('logs', 'sig'), /got USR1/, 'stop sends STOPSIGNAL first');
  t.match(ok('ps', '-a', '-f', 'name=^sig$'), /Exited \(0\)/, 'and the container exits by it');
  ok('rm', 'sig');

  const child = `${base}/ctx-child`;
  fs.mkdirSync(child, { recursive: true });
  fs.writeFileSync(`${child}/Dockerfile`, 'FROM more:1\nCMD ["cat", "/onbuild"]\n');
  const built = ok('build', '-t', 'child:1', child);
  t.match(built, /# Executing 1 build trigger\n/, 'FROM an image with ONBUILD runs its triggers first');
  t.equal(ok('run', '--rm', 'child:1'), 'triggered\n', 'the trigger ran in the child build');
  t.equal(JSON.parse(ok('inspect', 'child:1'))[0].Config.OnBuild, undefined, 'and the child does not inherit them');

  fs.writeFileSync(`${child}/Dockerfile`, 'FROM base\nLABEL quiet=yes\n');
  const q = ok('build', '-q', '--iidfile', `${base}/iid`, child);
  t.match(q, /^sha256:[a-f0-9]{64}\n$/, '-q prints only the image ID');
  t.equal(fs.readFileSync(`${base}/iid`, 'utf8'), q.trim(), '--iidfile holds it');
  t.match(ok('images', '-q', '-f', 'dangling=true'), new RegExp(`^${q.slice(7, 19)}$`, 'm'), 'a build without -t is a dangling image');
  fs.writeFileSync(`${child}/Dockerfile`, 'FROM base\nSHELL /bin/bash -c\n');
  t.match(
    strata('build', child).stderr,
    /^strata: Dockerfile, line 2: SHELL requires the arguments to be in JSON form/,
    'a bad SHELL: one sentence with its line',
  );
  fs.writeFileSync(`${child}/Dockerfile`, 'FROM base\nHEALTHCHECK --interval=soon CMD true\n');
  t.match(strata('build', child).stderr, /^strata: Dockerfile, line 2: HEALTHCHECK --interval=soon: not a duration/, 'a bad duration too');
});

t.test('import -c and commit -c read ENV as the Dockerfile does', async (t) => {
  ok('import', `${base}/busybox.tar`, '--tag', 'envd', '-c', 'ENV A=1 B="two words"', '-c', 'ENV C three words');
  t.equal(ok('run', '--rm', 'envd', 'sh', '-c', 'echo "$A|$B|$C"'), '1|two words|three words\n', 'several quoted pairs, and the legacy KEY VALUE form');
  const r = strata('import', `${base}/busybox.tar`, '-c', 'ENV A="unterminated');
  t.equal(r.status, 1, 'a bad ENV: exit 1');
  t.match(r.stderr, /^strata: ENV A="unterminated: unterminated " quote/, r.stderr.trim());
});

t.test('build --rm=false keeps each RUN container, for diff (issue 11)', async (t) => {
  const c = `${base}/ctx-rm`;
  fs.mkdirSync(c, { recursive: true });
  fs.writeFileSync(`${c}/Dockerfile`, 'FROM base\nRUN echo kept > /kept-file && rm /etc/os-release\nRUN mkdir /second\n');
  const out = ok('build', '--no-cache', '--rm=false', '-t', 'rm:1', c);
  const ids = [...out.matchAll(/^ ---> Running in ([a-f0-9]{12})$/gm)].map((m) => m[1]);
  t.equal(ids.length, 2, 'each RUN says which container it runs in');
  t.notMatch(out, /Removing intermediate container/, 'and none is removed');
  t.same(ok('ps', '-a', '-q').split('\n').filter(Boolean).sort(), [...ids].sort(), 'both containers are still there');
  t.same(ok('diff', ids[0]).split('\n').filter(Boolean), ['C /etc', 'D /etc/os-release', 'A /kept-file'], 'diff of the first shows what its step changed');
  t.same(ok('diff', ids[1]).split('\n').filter(Boolean), ['A /second'], 'and of the second, what it changed on top of the first');
  ok('rm', ...ids); // (without --rm=false they go: the first test sees `Removing intermediate container` and no container left)
  t.equal(ok('ps', '-a', '-q'), '', 'removed by hand, none is left');
});

t.test("build --squash: the build's layers merged into one on the base; history kept (issue 11)", async (t) => {
  const c = `${base}/ctx-squash`;
  fs.mkdirSync(c, { recursive: true });
  fs.writeFileSync(`${c}/one.txt`, 'one\n');
  fs.writeFileSync(
    `${c}/Dockerfile`,
    `FROM base
RUN echo one > /made && echo temporary > /scratch-file && mkdir -p /d && echo x > /d/x
RUN rm /scratch-file /etc/os-release && echo two >> /made
COPY one.txt /d/
`,
  );
  const plain = JSON.parse(ok('inspect', finalId(ok('build', c))!))[0];
  t.equal(plain.RootFS.Layers.length, 4, 'without --squash: the base and a layer per step');
  const id = ok('build', '--squash', '-q', '-t', 'sq:1', c).trim();
  const info = JSON.parse(ok('inspect', 'sq:1'))[0];
  t.equal(info.Id, id, 'the squashed image is the one built and tagged');
  t.same(info.RootFS.Layers.slice(0, 1), plain.RootFS.Layers.slice(0, 1), "the base's layer stays as it is");
  t.equal(info.RootFS.Layers.length, 2, 'and the three layers of the build are one');
  const layer = `${base}/root/layers/${info.RootFS.Layers[1].slice(7)}`;
  t.equal(fs.readFileSync(`${layer}/made`, 'utf8'), 'one\ntwo\n', 'the merged layer holds the last content of a file two steps wrote');
  t.same(fs.readdirSync(`${layer}/d`).sort(), ['one.txt', 'x'], 'and the files of every step');
  t.notOk(
    fs.lstatSync(`${layer}/scratch-file`, { throwIfNoEntry: false }),
    'a file made and removed within the build is not there at all, not even as a whiteout',
  );
  const wh = fs.lstatSync(`${layer}/etc/os-release`, { throwIfNoEntry: false });
  t.ok(wh?.isCharacterDevice() && wh.rdev === 0, 'a base file the build removed is a whiteout');
  t.equal(
    ok('run', '--rm', 'sq:1', 'sh', '-c', 'cat /made /d/one.txt; test -e /scratch-file || echo no-scratch; test -e /etc/os-release || echo no-os-release'),
    'one\ntwo\none\nno-scratch\nno-os-release\n',
    'and the image runs with the same files as the unsquashed one',
  );
  const config = JSON.parse(fs.readFileSync(`${base}/root/blobs/sha256/${id.slice(7)}`, 'utf8'));
  const history = config.history as { created_by?: string; comment?: string; empty_layer?: boolean }[];
  t.equal(history.length, 5, 'history keeps the base entry, every step, and the merge');
  t.same(
    history.slice(1, 4).map((h) => h.empty_layer),
    [true, true, true],
    "the build's steps are marked empty_layer (docker's squash)",
  );
  const baseId = JSON.parse(ok('inspect', 'base'))[0].Id;
  t.equal(history[4].comment, `merge ${plain.Id} to ${baseId}`, 'and the merge says what onto what, as docker');
  t.equal(history.filter((h) => !h.empty_layer).length, info.RootFS.Layers.length, 'one non-empty history entry per layer');
  t.equal(ok('build', '--squash', '-q', c).trim(), id, 'a rebuild takes the squash from the cache: the same image');
  t.match(ok('system', 'check', '--no-repair'), /the store is consistent/, 'and the store is consistent');
});
