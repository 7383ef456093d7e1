// The mount daemon's own entry point. `strata mount` checks the mount, then starts this with the
// checked spec: the daemon loads only what serving needs (no CLI parsing, no command modules),
// which is most of the time a mount takes. Its command line reads `daemon-main.js mount MNT …`,
// so ps shows which mount it serves.
import { serve, type DaemonOptions } from './daemon.js';
import type { MountSpec } from './preflight.js';

const [, mountpoint, specJson, optsJson] = process.argv.slice(2);
const spec: MountSpec = { ...JSON.parse(specJson), mountpoint };
const opts: DaemonOptions = JSON.parse(optsJson);
serve(spec, { ...opts, readyFd: 3 });
