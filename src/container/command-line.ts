// The COMMAND column of `ps`, as docker writes it: what the container runs (its entrypoint and
// command as resolved at create), arguments that hold a space in single quotes.
import type { ContainerRecord } from '../store/store.js';

export function commandLine(c: Pick<ContainerRecord, 'command' | 'spec'>): string {
  const argv = c.spec?.argv ?? c.command;
  if (argv.length === 0) return '';
  return [argv[0], ...argv.slice(1).map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}
