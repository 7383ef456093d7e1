#!/usr/bin/env node
// strata: the command line. Also answers mount.fuse's calling convention, so that
// `mount -t fuse.strata strata MNT -o lowerdir=...,upperdir=...,workdir=...` works.
import { Command } from 'commander';
import { mountCommand, umountCommand } from './mount.js';
import { indexCommand } from './index-cmd.js';
import { storeCommands } from './store-cmds.js';
import { statsCommand } from './stats-cmd.js';

const store = storeCommands();
const commands = ['mount', 'umount', 'index', 'stats', 'help', ...store.map((c) => c.name())];

export function rewriteMountFuse(argv: string[]): string[] {
  // mount.fuse3 runs: strata SOURCE MOUNTPOINT -o OPTIONS
  const args = argv.slice(2);
  if (args.length >= 2 && !commands.includes(args[0]) && !args[0].startsWith('-') && !args[1].startsWith('-')) {
    return [...argv.slice(0, 2), 'mount', args[1], ...args.slice(2)];
  }
  return argv;
}

const program = new Command('strata')
  .description('a container image filesystem: union mounts with overlayfs semantics, in user space')
  .version('0.1.0')
  .enablePositionalOptions();
program.addCommand(mountCommand());
program.addCommand(umountCommand());
program.addCommand(indexCommand());
program.addCommand(statsCommand());
for (const c of store) program.addCommand(c);
await program.parseAsync(rewriteMountFuse(process.argv));
