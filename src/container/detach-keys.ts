// Detach keys, as docker's --detach-keys: a comma-separated list of keys, each `ctrl-<value>` (a-z,
// @, [, \, ], ^, _), `DEL`, or one plain character; ctrl-p,ctrl-q by default. Typed on an attached
// terminal in a row, they leave the container running instead of reaching it.
import { refuse } from '../sys/errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

// ctrl-@ is NUL (0), ctrl-a 1, …, ctrl-z 26, then ctrl-[ (ESC, 27) to ctrl-_ (31): as moby/term's table.
const CTRL = '@abcdefghijklmnopqrstuvwxyz[\\]^_';

/** The bytes a detach-keys spec stands for; a spec that does not parse is refused ('invalid') in one sentence. */
export function parseDetachKeys(spec: string = DEFAULT_DETACH_KEYS): Buffer {
  const codes = spec.split(',').map((key) => {
    if (Buffer.byteLength(key) === 1) return key.charCodeAt(0);
    if (key === 'DEL') return 127;
    const i = key.startsWith('ctrl-') && key.length === 6 ? CTRL.indexOf(key[5]) : -1;
    if (i < 0)
      refuse(
        'invalid',
        `invalid detach keys "${spec}": "${key}" is not a key (give comma-separated keys, each ctrl-<a-z, @, [, \\, ], ^ or _>, DEL or one character, as ctrl-p,ctrl-q)`,
      );
    return i;
  });
  return Buffer.from(codes);
}

/**
 * Watches input for the detach keys. `feed` returns what should go on to the container and whether
 * the keys have been typed. Bytes that may begin the sequence are held back until the next ones
 * show whether they do (then they are dropped) or not (then they go on, in order). Unlike docker,
 * which only matches keys that arrive one read at a time, the sequence is found anywhere in the
 * input: a paste that holds it detaches too.
 */
export class DetachWatcher {
  private held = 0; // how many bytes of the sequence have been seen and held back

  constructor(readonly keys: Buffer) {}

  feed(data: Buffer): { pass: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of data) {
      const seen = [...this.keys.subarray(0, this.held), byte];
      // Let bytes go from the front of what is held until it is again a beginning of the sequence.
      while (seen.length && !seen.every((b, i) => b === this.keys[i])) out.push(seen.shift()!);
      this.held = seen.length;
      if (this.held === this.keys.length) {
        this.held = 0;
        return { pass: Buffer.from(out), detach: true };
      }
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
