// A progress line on a terminal ("indexing DIR: N entries"), rewritten in place at most 10 times a second.
import type { Progress } from '../index/layer-index.js';

export function progressLine(stream: NodeJS.WriteStream = process.stderr): Progress | undefined {
  if (!stream.isTTY) return undefined;
  let last = 0;
  return (what, done) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    stream.write(`\r\x1b[Kindexing ${what === 'chain' ? `the chain: layer ${done}` : `${what}: ${done} entries`}`);
  };
}
