// Signals by name or number, as Dockerfiles and docker's flags write them (SIGUSR1, USR1, 10).
import os from 'node:os';

/** The signal's number, or 0 when it is none. */
export function signalNumber(sig: string): number {
  if (/^\d+$/.test(sig)) return Number(sig) > 0 && Number(sig) < 65 ? Number(sig) : 0;
  const name = sig.toUpperCase().replace(/^SIG/, '');
  return (os.constants.signals as Record<string, number>)[`SIG${name}`] ?? 0;
}
