// `strata volume create|ls|inspect|rm|prune`, named and shaped as docker's. The work is in
// volume-actions.ts, loaded only when such a command runs.
import { Command } from 'commander';

const actions = () => import('./volume-actions.js');
const collect = (v: string, prev: string[] = []) => [...prev, v];

export function volumeGroup(): Command {
  const group = new Command('volume').description('manage volumes (dirs under STRATA_ROOT/volumes that outlive containers)');
  group
    .command('create')
    .description('create a volume (a name is made up if none is given)')
    .argument('[name]')
    .option('--name <name>', 'its name')
    .option('-l, --label <KEY=VALUE>', 'set a label', collect)
    .action(async (name: string | undefined, o) => (await actions()).create(name, o));
  group
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only names')
    .option('-f, --filter <KEY=VALUE>', 'only some: dangling=true|false, name=PART, label=KEY[=VALUE] (repeatable)', collect)
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (o) => (await actions()).list(o));
  group
    .command('inspect')
    .description('volumes as JSON')
    .argument('<names...>')
    .action(async (names: string[]) => (await actions()).inspect(names));
  group
    .command('rm')
    .alias('remove')
    .description('remove volumes no container uses')
    .argument('<names...>')
    .option('-f, --force', 'remove one in use too')
    .action(async (names: string[], o) => (await actions()).remove(names, o));
  group
    .command('prune')
    .description('remove anonymous volumes no container uses (-a: every unused one); asks first')
    .option('-a, --all', 'named volumes too')
    .option('-f, --force', 'do not ask')
    .option('--filter <KEY=VALUE>', 'only some: label=KEY[=VALUE]', collect)
    .action(async (o) => (await import('./prune-actions.js')).volumePrune(o));
  return group;
}
