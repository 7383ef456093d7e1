// The image, build and store commands, named and shaped as docker's. Their work is in the
// *-actions.ts files, loaded only when such a command runs.
import { Command, InvalidArgumentError } from 'commander';

const images = () => import('./image-actions.js');
const collect = (v: string, prev: string[] = []) => [...prev, v];

export function imageCommands(): Record<string, Command> {
  const importCmd = new Command('import')
    .description('make a one-layer image from a root filesystem (a tar, plain or gzip, or a dir)')
    .argument('<source>')
    .option('-t, --tag <name:tag>', 'tag the image')
    .option('-m, --message <msg>', 'commit message for the history')
    .option('-c, --change <change>', 'apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER)', collect)
    .action(async (src: string, o) => (await images()).importImage(src, o));
  const imagesCmd = new Command('images')
    .description('list images (without -a, not the intermediate images of builds)')
    .option('-a, --all', 'show intermediate images too')
    .option('-q, --quiet', 'only image IDs')
    .option('-f, --filter <KEY=VALUE>', 'only some: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE] (repeatable)', collect)
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (o) => (await images()).images(o));
  const tag = new Command('tag')
    .description('give an image another name')
    .argument('<source>')
    .argument('<target>')
    .action(async (a: string, b: string) => (await images()).tag(a, b));
  const rmi = new Command('rmi')
    .description('remove images (refused while a container uses one, unless --force, which only untags it)')
    .argument('<images...>')
    .option('-f, --force', 'untag an image even if a container uses it')
    .action(async (refs: string[], o) => (await images()).rmi(refs, o));
  const image = new Command('image').description('manage images');
  image
    .command('prune')
    .description('remove dangling images (with -a, every image no container uses); asks first')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('-f, --force', 'do not ask')
    .action(async (o) => (await import('./prune-actions.js')).imagePrune(o));
  image
    .command('waste')
    .description('what each layer adds that a later layer deletes or overwrites (wasted space, efficiency)')
    .argument('<image>')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (ref: string, o) => (await import('./waste-actions.js')).waste(ref, o));
  const history = new Command('history')
    .description('show the history of an image')
    .argument('<image>')
    .option('--no-trunc', 'do not truncate output')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (ref: string, o) => (await images()).history(ref, { noTrunc: o.trunc === false, format: o.format }));
  const buildCmd = new Command('build')
    .description('build an image from a Dockerfile and a context dir, with a layer cache')
    .argument('<context>', 'the dir whose files COPY and ADD can use')
    .option('-t, --tag <name:tag>', 'tag the image (repeatable)', collect)
    .option('-f, --file <Dockerfile>', 'the Dockerfile (default: CONTEXT/Dockerfile)')
    .option('--build-arg <KEY=VALUE>', 'a value for an ARG (repeatable)', collect)
    .option('--no-cache', 'run every step, using no cached result')
    .option('--target <stage>', 'build up to this stage (FROM … AS stage), and only the stages it needs')
    .option('--label <KEY=VALUE>', 'a label of the image (repeatable)', collect)
    .option('-q, --quiet', 'print only the image ID')
    .option('--iidfile <file>', 'write the image ID to this file')
    .option('--rm [bool]', 'remove the intermediate containers of RUN steps (default true; --rm=false keeps them for diff)', (v) => {
      if (v !== 'true' && v !== 'false') throw new InvalidArgumentError('true or false (--rm=false)');
      return v !== 'false';
    })
    .option('--squash', "merge the layers the build adds into one on top of the base image's")
    .action(async (ctx: string, o) => (await import('./build-actions.js')).build(ctx, o));
  const save = new Command('save')
    .description("images as one tar: an OCI image layout with docker's manifest.json (docker load, skopeo and umoci read it)")
    .argument('<images...>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (refs: string[], o) => (await import('./archive-actions.js')).save(refs, o));
  const load = new Command('load')
    .description('images from a tar made by strata save, docker save, or an OCI image layout')
    .option('-i, --input <file>', 'read from a file instead of stdin')
    .action(async (o) => (await import('./archive-actions.js')).load(o));
  const builder = new Command('builder').description('manage the build cache');
  builder
    .command('prune')
    .description('remove the build cache: cached steps and the intermediate images only they keep')
    .action(async () => (await import('./build-actions.js')).builderPrune());
  const system = new Command('system').description('manage strata');
  system
    .command('df')
    .description('disk usage of images, containers, local volumes and the build cache, from real layer sharing')
    .option('-v, --verbose', 'per image and per container')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (o) => (await import('./df-actions.js')).df(o));
  // `info` and `system info`: one command, made twice (a command has one parent)
  const infoCmd = (c: Command) =>
    c
      .description('what strata runs on: containers, images, the storage driver, the kernel')
      .option('--format <fmt>', 'json for machine-readable output')
      .action(async (o) => (await import('./info-actions.js')).info(o));
  infoCmd(system.command('info'));
  system
    .command('prune')
    .description('remove stopped containers, dangling images (-a: every image no container uses) and the build cache; asks first')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('--volumes', 'remove anonymous volumes no container uses too')
    .option('-f, --force', 'do not ask')
    .action(async (o) => (await import('./prune-actions.js')).systemPrune(o));
  system
    .command('check')
    .description('verify every blob against its digest and every reference; repair what can be repaired')
    .option('--no-repair', 'only report')
    .action(async (o) => (await import('./check-actions.js')).check(o));
  const info = infoCmd(new Command('info'));
  return { importCmd, imagesCmd, tag, rmi, image, history, buildCmd, save, load, builder, system, info };
}
