// `strata index build|show|verify|reset`: the LMDB path index, for people who want to look at it.
import { Command } from 'commander';

const actions = () => import('./index-actions.js');

export function indexCommand(): Command {
  const cmd = new Command('index').description('the LMDB path index of lower layer dirs');
  cmd
    .command('build')
    .description('index each DIR as a layer (reused if unchanged) and, for several, their chain (top first, as --lower)')
    .argument('<dirs...>')
    .option('--force', 'rebuild even if the index is up to date')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (dirs: string[], o: { force?: boolean; format?: string }) => (await actions()).build(dirs, o));
  cmd
    .command('show')
    .description("a dir's index: its key and fingerprint, then the entries under PATH")
    .argument('<dir>')
    .argument('[path]', 'a path inside the layer', '/')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (dir: string, p: string, o: { format?: string }) => (await actions()).show(dir, p, o));
  cmd
    .command('verify')
    .description('compare each DIR with its index, entry by entry; exit 1 on any difference')
    .argument('<dirs...>')
    .action(async (dirs: string[]) => (await actions()).verify(dirs));
  cmd
    .command('reset')
    .description('delete every index (rebuilt at the next mount); running mounts keep theirs')
    .action(async () => (await actions()).reset());
  return cmd;
}
