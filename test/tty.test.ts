// -t and -it: a container command on a pseudo-terminal of its own, driven through a real
// terminal (script(1) gives strata one), with the window size, Ctrl-C and the exit code.
import t from 'tap';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { CLI, ROOT, tmpdir, forceUnmountUnder } from './helpers/mount.js';

t.setTimeout(180_000);
const base = tmpdir(t, 'strata-tty-');
const root = `${base}/root`;
const env: NodeJS.ProcessEnv = { ...process.env, STRATA_ROOT: root, TERM: 'xterm' };
delete env.NODE_EXTRA_CA_CERTS;
const strata = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
const cli = `${process.execPath} ${CLI}`;
/**
 * `strata ARGS` on a real terminal of 33 rows x 101 columns, fed `input` (a shell snippet that prints it).
 * The terminal's output is also copied to `$OUT`, so `input` can wait for what it needs (`until_seen TEXT`)
 * instead of sleeping a fixed time that a loaded machine overruns.
 */
const onTerminal = (args: string, input: string) => {
  const out = `${base}/terminal-${Date.now()}.out`;
  const untilSeen = `until_seen() { for _ in $(seq 600); do grep -q "$1" "$OUT" 2>/dev/null && return; sleep 0.1; done; }`;
  return spawnSync(
    'bash',
    [
      '-c',
      `${untilSeen}; OUT=${out}; : > "$OUT"; (${input}) | script -qec "stty rows 33 cols 101; ${cli} ${args}" /dev/null | tee "$OUT"; exit \${PIPESTATUS[1]}`,
    ],
    { encoding: 'utf8', env, timeout: 90_000 },
  );
};
t.teardown(() => {
  const list = strata('ps', '-a', '-q');
  if (list.status === 0 && list.stdout.trim()) strata('rm', '-f', ...list.stdout.trim().split('\n'));
  forceUnmountUnder(root);
});
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
execFileSync(process.execPath, [CLI, 'import', rootfs, '--tag', 'bb'], { env });

t.test('run -t: the command has a terminal of its own', async (t) => {
  const r = strata('run', '--rm', '-t', 'bb', 'sh', '-c', 'test -t 0 && test -t 1 && echo is-a-tty; tty; ls /dev/console; echo $TERM; exit 4');
  t.equal(r.status, 4, "exit code is the command's");
  t.match(
    r.stdout,
    /^is-a-tty\r\n\/dev\/pts\/\d+\r\n\/dev\/console\r\nxterm\r\n$/,
    'stdin and stdout are a terminal, known inside as /dev/pts/N and /dev/console, TERM set (and output in terminal line endings)',
  );
  const plain = strata('run', '--rm', 'bb', 'sh', '-c', 'test -t 1 || echo no-tty');
  t.equal(plain.stdout, 'no-tty\n', 'without -t, stdio is passed through as it is');
  const fed = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, input: 'fed\n', timeout: 60_000 });
  t.equal(fed(['run', '--rm', '-i', 'bb', 'cat']).stdout, 'fed\n', 'with -i the command reads our stdin');
  t.equal(fed(['run', '--rm', 'bb', 'cat']).stdout, '', 'without -i it reads nothing (as docker)');
});

t.test('run -it: this terminal drives the shell: window size, Ctrl-C, exit code', async (t) => {
  const r = onTerminal(
    'run -it --rm bb sh',
    // The Ctrl-C goes once the shell has said it is about to sleep (arm2ed, not the echoed arm$((1+1))ed):
    // sent before strata puts the terminal in raw mode, it would interrupt strata itself.
    "printf 'echo hi-$((6*7))\\nstty size\\necho arm$((1+1))ed; sleep 100\\n'; until_seen arm2ed; sleep 0.3; printf '\\003'; " +
      "until_seen '\\^C'; sleep 0.3; printf 'echo after-$?\\nexit 3\\n'",
  );
  t.equal(r.status, 3, "script returns the shell's exit code");
  t.match(r.stdout, /\nhi-42\r+\n/, 'input reaches the shell and its output comes back');
  t.match(r.stdout, /\n33 101\r+\n/, "the container's terminal has the size of this one");
  t.match(r.stdout, /\nafter-130\r+\n/, 'Ctrl-C interrupts the foreground command (SIGINT through the terminal), not the shell');
});

t.test('create -t, start, exec -t: a detached shell on its terminal stays up', async (t) => {
  t.equal(strata('create', '-t', '--name', 'tsh', 'bb', 'sh').status, 0, 'create -t');
  t.equal(strata('start', 'tsh').status, 0, 'start');
  await new Promise((r) => setTimeout(r, 500));
  t.match(
    strata('ps').stdout,
    /Up (?:Less than a second|\d+ seconds?|About a minute)\s+tsh/,
    'a shell without input waits on its terminal instead of reading end of file',
  );
  const e = strata('exec', '-t', 'tsh', 'sh', '-c', 'test -t 0 && echo exec-tty');
  t.equal(e.stdout, 'exec-tty\r\n', 'exec -t gets a terminal too');
  t.equal(strata('stop', '-t', '1', 'tsh').status, 0, 'stop');
});
