// `strata bench IMAGE -- COMMAND...`: a user's workload over every union filesystem available.
import { Command } from 'commander';

export function benchCommand(): Command {
  return new Command('bench')
    .description(
      'run COMMAND in fresh containers of IMAGE over kernel overlayfs, fuse-overlayfs (if installed) and strata (each transport), interleaved; a table with ratios to the kernel',
    )
    .argument('<image>')
    .argument('[command...]')
    .option('-n, --runs <n>', 'rounds, each running every implementation once', '3')
    .option('--cold', 'drop the page cache before each run')
    .option('--impl <list>', 'only these: overlayfs, fuse-overlayfs, strata, strata-fuse-native (comma separated)')
    .option('--format <fmt>', 'json for machine-readable output (every run, and the medians)')
    .option('--chart <file.svg>', 'also draw the median wall times as an SVG bar chart')
    .passThroughOptions()
    .action(async (image: string, cmd: string[], o) => (await import('./bench-actions.js')).bench(image, cmd[0] === '--' ? cmd.slice(1) : cmd, o));
}
