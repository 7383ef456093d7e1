// Where strata's process entry points are. Built, they are in dist/cli/ and dist/fuse/; bundled
// (dist/bin/, what the installed `strata` runs), they sit beside the bundle's own chunks.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundled = path.basename(here) === 'bin';

/** The CLI's main module, to start another strata command (a detached container's supervisor). */
export const cliMain = bundled ? path.join(here, 'main.js') : path.join(here, '../cli/main.js');

/** The FUSE daemon's main module (STRATA_DAEMON_MAIN names it where this code runs from src/, as in tests). */
export const daemonMain = () => process.env.STRATA_DAEMON_MAIN ?? (bundled ? path.join(here, 'daemon-main.js') : path.join(here, '../fuse/daemon-main.js'));
