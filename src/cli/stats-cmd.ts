// `strata stats MOUNTPOINT|CONTAINER [--format json] [--watch]`: the live counters of the daemon
// serving a mount (requests, copy-ups by reason and method, whiteouts, the cache settings in
// force), read from its control socket.
import fs from 'node:fs';
import { Command } from 'commander';
import { askDaemon, realMountpoint } from '../fuse/control.js';
import { findMount } from '../fuse/mounts.js';
import { refuse, StrataError } from '../sys/errors.js';
import { fatal } from './fatal.js';
import { formatStats } from './stats-format.js';

interface StatsFlags {
  format?: string;
  watch?: boolean;
}

export function statsCommand(): Command {
  return new Command('stats')
    .description("show a strata mount's live counters: requests, copy-ups by reason and method, whiteouts, cache settings")
    .argument('<target>', 'a strata mountpoint, or a container whose merged view is mounted')
    .option('--format <format>', 'json: the counters as the daemon gives them')
    .option('-w, --watch', 'redraw every second until interrupted')
    .action((target: string, o: StatsFlags) => stats(target, o));
}

async function stats(target: string, o: StatsFlags): Promise<void> {
  if (o.format !== undefined && o.format !== 'json') fatal(`--format takes json, not "${o.format}"`);
  const mnt = !target.includes('/') && !fs.existsSync(target) ? await containerMount(target) : realMountpoint(target);
  if (findMount(mnt)?.fstype !== 'fuse.strata') fatal(`${target} is not a strata mount`);
  const show = (s: Record<string, unknown>) => (o.format === 'json' ? JSON.stringify(s, null, o.watch ? undefined : 2) : formatStats(s)) + '\n';
  for (;;) {
    let s: Record<string, unknown>;
    try {
      s = await askDaemon(mnt);
    } catch (err) {
      if (err instanceof StrataError) fatal(err.message);
      throw err;
    }
    if (typeof s.error === 'string') fatal(`the daemon serving ${mnt} refused: ${s.error}`);
    if (!o.watch) return void process.stdout.write(show(s));
    // a terminal is redrawn in place, as docker stats does; anything else gets one snapshot after another
    process.stdout.write((process.stdout.isTTY ? '\x1b[H\x1b[2J' : '') + show(s));
    await new Promise((r) => setTimeout(r, 1000));
    if (!findMount(mnt)) fatal(`${target} was unmounted`);
  }
}

/** A container's merged mountpoint; one sentence when it is not mounted (the container is not running). */
async function containerMount(ref: string): Promise<string> {
  const { withContainers } = await import('./container-actions.js');
  return withContainers((k) => {
    const c = k.get(ref);
    const merged = k.s.containerPaths(c.id).merged;
    if (!findMount(merged)) refuse('not-found', `container ${c.name} is not running: its filesystem is not mounted`);
    return merged;
  });
}
