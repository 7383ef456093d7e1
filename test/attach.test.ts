// run -dit and attach, as docker's: a detached container keeps its terminal under its supervisor;
// attach connects a real terminal to it (raw, its window size passed on), the detach keys leave it
// running, several clients share it, its exit code ends the attach; a container without a tty is
// attached to its output and stdin; and the refusals, each one sentence.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { CLI, ROOT, tmpdir } from './helpers/mount.js';
import { storeCli } from './helpers/store.js';
import { Terminal } from './helpers/terminal.js';

t.setTimeout(120_000);
const base = tmpdir(t, 'strata-attach-');
const root = `${base}/root`;
const { env, strata, ok, cleanup } = storeCli(root);
const terminals: Terminal[] = [];
/** `strata ARGS` on a terminal of its own, closed (killed if it still runs) in teardown. */
const onTerminal = (...args: string[]) => {
  const term = new Terminal(args, { ...env, TERM: 'xterm' });
  terminals.push(term);
  return term;
};
t.teardown(() => {
  for (const term of terminals) term.close();
  cleanup(); // rm -f of every container (its supervisor unmounts it), then any mount left under the store
});
const rootfs = `${base}/busybox.tar`;
execFileSync(path.join(ROOT, 'scripts/make-busybox-rootfs'), [rootfs]);
ok('import', rootfs, '--tag', 'bb');
const idOf = (name: string) => JSON.parse(ok('inspect', name))[0].Id as string;
/** One sentence on stderr and exit 1. */
const refused = (t: Test, r: ReturnType<typeof strata>, re: RegExp, what: string) => {
  t.equal(r.status, 1, `${what}: exit 1`);
  t.match(r.stderr, new RegExp(`^strata: ${re.source}[^\\n]*\\n$`), `${what}: one sentence`);
};

t.test('run -dit, attach, type, detach with ctrl-p ctrl-q, attach again, exit 3', { timeout: 60_000 }, async (t) => {
  t.match(ok('run', '-dit', '--name', 'sh1', 'bb', 'sh'), /^[a-f0-9]{64}\n$/, 'run -dit prints the ID');
  const sock = fs.statSync(`${root}/containers/${idOf('sh1')}/attach.sock`);
  t.ok(sock.isSocket() && (sock.mode & 0o777) === 0o600, 'its supervisor listens on a socket in its dir, mode 0600');
  const a = onTerminal('attach', 'sh1');
  await a.prompt();
  a.type('echo hi-$((6*7)); stty size\r');
  await a.waitFor(/\nhi-42\r*\n33 101\r*\n/);
  t.pass("typed input reaches the shell, its output comes back, and its terminal has this one's size");
  const mark = a.out.length;
  a.resize(40, 120);
  await new Promise((r) => setTimeout(r, 200));
  a.type('stty size\r');
  await a.waitFor(/\n40 120\r*\n/, 10_000, mark);
  t.pass('a change of window size is passed on');
  const before = a.out.length;
  a.type('\x10\x11');
  t.equal(await a.exit(), 0, 'ctrl-p ctrl-q: attach exits 0');
  t.notMatch(a.out.slice(before), /escape|detach/i, 'and prints nothing');
  t.match(ok('ps'), /Up [^\n]*\ssh1\n/, 'the container still runs');
  t.match(ok('logs', 'sh1'), /hi-42/, "its terminal's output is in its log too");

  const b = onTerminal('attach', 'sh1');
  await b.prompt();
  b.type('exit 3\r');
  t.equal(await b.exit(), 3, "attached again: the container's exit ends attach with its exit code");
  t.match(ok('ps', '-a'), /Exited \(3\)[^\n]*\ssh1\n/, 'and the container has exited with it');
  t.notOk(fs.existsSync(`${root}/containers/${idOf('sh1')}/attach.sock`), 'its socket is gone');
});

t.test('--detach-keys, and two clients on one terminal', { timeout: 60_000 }, async (t) => {
  ok('run', '-dit', '--name', 'sh2', 'bb', 'sh');
  const a = onTerminal('attach', '--detach-keys', 'ctrl-a,x', 'sh2');
  const b = onTerminal('attach', 'sh2');
  await a.prompt();
  await b.prompt();
  a.type('echo from-a-$((1+1))\r');
  await a.waitFor(/\nfrom-a-2\r*\n/);
  await b.waitFor(/\nfrom-a-2\r*\n/);
  t.pass('what one client types, every client sees answered');
  a.type('\x10\x11');
  t.ok(await a.stillRunning(), 'with other detach keys, ctrl-p ctrl-q does not detach');
  a.type('\x03'); // what ctrl-p ctrl-q left on the shell's line goes (ash: ^C cancels the line)
  a.type('\x01x');
  t.equal(await a.exit(), 0, 'ctrl-a x does: exit 0');
  t.ok(await b.stillRunning(), 'the other client stays attached');

  const file = `${root}/containers/${idOf('sh2')}/attach.sock`;
  fs.chmodSync(file, 0o666);
  refused(t, strata('attach', 'sh2'), /cannot attach to container sh2: .* is not strata's attach socket/, 'a socket others could use');
  fs.chmodSync(file, 0o600);

  b.type('exit 4\r');
  t.equal(await b.exit(), 4, 'the container exits 4, and so does the attach');
});

t.test('run -it and start -a leave the container running on the detach keys', { timeout: 60_000 }, async (t) => {
  const r = onTerminal('run', '-it', '--name', 'sh3', 'bb', 'sh');
  await r.prompt();
  r.type('echo in-run\r');
  await r.waitFor(/\nin-run\r*\n/);
  r.type('\x10\x11');
  t.equal(await r.exit(), 0, 'run -it: ctrl-p ctrl-q leaves it, exit 0');
  t.match(ok('ps'), /Up [^\n]*\ssh3\n/, 'the container still runs, in the background');

  ok('create', '-it', '--name', 'sh4', 'bb', 'sh');
  const s = onTerminal('start', '-a', '--detach-keys', 'ctrl-x', 'sh4');
  await s.prompt();
  s.type('\x18');
  t.equal(await s.exit(), 0, 'start -a --detach-keys ctrl-x: ctrl-x leaves it');
  t.match(ok('ps'), /Up [^\n]*\ssh4\n/, 'and it still runs');
});

t.test('a container without a tty: its output, and its stdin with -i', { timeout: 60_000 }, async (t) => {
  const script = 'while read l; do [ "$l" = quit ] && exit 5; echo got-$l; echo err-$l >&2; done';
  ok('run', '-di', '--name', 'plain', 'bb', 'sh', '-c', script);
  const a = spawn(process.execPath, [CLI, 'attach', 'plain'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  a.stdout.on('data', (d: Buffer) => (out += d));
  a.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => a.on('exit', (code) => resolve(code)));
  t.teardown(() => void a.kill('SIGKILL'));
  a.stdin.write('one\n');
  for (let i = 0; i < 200 && !(out.includes('got-one') && err.includes('err-one')); i++) await new Promise((r) => setTimeout(r, 25));
  t.equal(out, 'got-one\n', 'stdin reaches the command, its stdout comes back on stdout');
  t.equal(err, 'err-one\n', 'and its stderr on stderr');
  a.stdin.write('quit\n');
  t.equal(await exited, 5, "attach exits with the container's exit code");
});

t.test('refused in one sentence', { timeout: 60_000 }, async (t) => {
  ok('create', '--name', 'idle', 'bb', 'true');
  refused(t, strata('attach', 'idle'), /cannot attach to container idle: it is not running/, 'a container never started');
  refused(t, strata('attach', 'sh1'), /cannot attach to container sh1: it is not running/, 'an exited container');
  refused(t, strata('attach', 'nosuch'), /no such container: nosuch/, 'a container strata does not know');
  refused(t, strata('container', 'attach', '--detach-keys', 'ctrl-xx', 'sh3'), /invalid detach keys "ctrl-xx"/, 'bad detach keys');
  const count = ok('ps', '-a', '-q').split('\n').length;
  refused(t, strata('run', '-it', '--detach-keys', 'ctrl-', 'bb', 'sh'), /invalid detach keys "ctrl-"/, 'run -it with bad detach keys');
  t.equal(ok('ps', '-a', '-q').split('\n').length, count, 'and it made no container');
  const fg = spawn(process.execPath, [CLI, 'run', '--name', 'fg', 'bb', 'sleep', '30'], { env, stdio: 'ignore' });
  const fgExit = new Promise((resolve) => fg.on('exit', resolve));
  t.teardown(() => void fg.kill('SIGKILL'));
  for (let i = 0; i < 200 && !/\sfg\n/.test(ok('ps')); i++) await new Promise((r) => setTimeout(r, 25));
  refused(t, strata('attach', 'fg'), /cannot attach to container fg: it runs in the foreground/, 'a container run in the foreground of another command');
  ok('stop', '-t', '0', 'fg');
  await fgExit;
  t.pass('(and stopped)');
});
