// Detach keys in docker's format, and the watcher that finds them in typed input (no processes).
import t from 'tap';
import { DetachWatcher, parseDetachKeys } from '../src/container/detach-keys.js';
import { StrataError } from '../src/sys/errors.js';

t.test('docker format: ctrl-<value>, DEL and plain characters, comma separated', async (t) => {
  t.same([...parseDetachKeys()], [0x10, 0x11], 'the default is ctrl-p,ctrl-q');
  t.same([...parseDetachKeys('ctrl-a,x')], [1, 0x78], 'a ctrl key and a plain character');
  t.same(
    [...parseDetachKeys('ctrl-@,ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')],
    [0, 26, 27, 28, 29, 30, 31],
    "@, z and the signs after it, as moby/term's table",
  );
  t.same([...parseDetachKeys('DEL,a')], [127, 0x61], 'DEL');
  for (const bad of ['', 'ctrl-', 'ctrl-xx', 'ctrl-A', 'ctrl-1', 'xy', 'é', 'ctrl-p,,ctrl-q,']) {
    try {
      parseDetachKeys(bad);
      t.fail(`"${bad}" is refused`);
    } catch (err) {
      t.ok(
        err instanceof StrataError && err.code === 'invalid' && !err.message.includes('\n'),
        `"${bad}" is refused in one sentence: ${(err as Error).message}`,
      );
    }
  }
});

t.test('the watcher holds a beginning of the sequence back, and lets it go when it breaks', async (t) => {
  const w = () => new DetachWatcher(parseDetachKeys('ctrl-p,ctrl-q'));
  const feed = (x: DetachWatcher, s: string) => {
    const r = x.feed(Buffer.from(s, 'latin1'));
    return [r.pass.toString('latin1'), r.detach];
  };
  t.same(feed(w(), 'ls\r'), ['ls\r', false], 'plain input passes');
  t.same(feed(w(), 'ab\x10\x11cd'), ['ab', true], 'the sequence in one read detaches; what came before it passes, what follows is dropped');
  const split = w();
  t.same(feed(split, 'a\x10'), ['a', false], 'a first key is held back');
  t.same(feed(split, '\x11'), ['', true], 'and the next read completes the sequence');
  const broken = w();
  t.same(feed(broken, '\x10'), ['', false], 'held');
  t.same(feed(broken, 'x'), ['\x10x', false], 'a key that breaks the sequence lets the held one go, in order');
  t.same(feed(w(), '\x10\x10\x11'), ['\x10', true], 'ctrl-p twice, then ctrl-q: the second ctrl-p begins the sequence again');
  const three = new DetachWatcher(parseDetachKeys('a,a,b'));
  t.same(feed(three, 'aaab'), ['a', true], 'a sequence that overlaps itself is still found');
});
