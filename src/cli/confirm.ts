// docker's prompt before a prune: the warning, then "Are you sure you want to continue? [y/N] ",
// answered with a line on stdin (a terminal or a pipe); anything but y or yes, or no answer, is no.
import readline from 'node:readline';

export async function confirm(warning: string): Promise<boolean> {
  process.stdout.write(`WARNING! ${warning}\nAre you sure you want to continue? [y/N] `);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  if (!process.stdin.isTTY) process.stdout.write('\n');
  return /^y(es)?$/i.test(answer.trim());
}
