// A unix socket's path as bind and connect take it. The kernel allows 107 bytes, and a socket in a
// dir under a long STRATA_ROOT (a container's attach socket, a daemon's control socket) has more:
// it is reached through its dir's fd instead, /proc/self/fd/N/NAME.
import fs from 'node:fs';
import path from 'node:path';

/** Call `use` with a short path to `file`, valid while it runs (bind and connect take the path at once). */
export function viaDirFd<T>(file: string, use: (short: string) => T): T {
  const fd = fs.openSync(path.dirname(file), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    return use(`/proc/self/fd/${fd}/${path.basename(file)}`);
  } finally {
    fs.closeSync(fd);
  }
}
