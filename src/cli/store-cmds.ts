// The image and container commands, named and shaped as docker's. Their work lives in
// image-actions.ts and container-actions.ts, loaded only when such a command runs.
import { Command } from 'commander';

const images = () => import('./image-actions.js');
const containers = () => import('./container-actions.js');
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** IMAGE [COMMAND...] and what a new container runs with: the options create and run share. */
function containerOptions(c: Command): Command {
  return c
    .argument('<image>')
    .argument('[command...]')
    .option('--name <name>', 'a name for the container')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect)
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user to run as')
    .option('-i, --interactive', 'keep stdin open: the command reads ours (with -t, this terminal drives it, in raw mode); without -i it reads nothing')
    .option('-t, --tty', 'give the command a pseudo-terminal of its own');
}

export function storeCommands(): Command[] {
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
    .description('remove dangling images (with -a, every image no container uses)')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .action(async (o) => (await images()).prune(o));
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
  const inspect = new Command('inspect')
    .description('low-level information on images or containers, as JSON')
    .argument('<names...>')
    .action(async (refs: string[]) => (await containers()).inspect(refs));
  const create = containerOptions(new Command('create').description('create a container from an image'))
    .passThroughOptions()
    .action(async (img: string, cmd: string[], o) => (await containers()).createCmd(img, cmd, o));
  const run = containerOptions(new Command('run').description('run a command in a new container: mounted with strata, chrooted, in new mount, PID, UTS and IPC namespaces'))
    .option('--rm', 'remove the container when it exits')
    .passThroughOptions()
    .action(async (img: string, cmd: string[], o) => (await containers()).run(img, cmd, o));
  const start = new Command('start')
    .description('start containers (in the background, output to their log; -a stays attached)')
    .argument('<containers...>')
    .option('-a, --attach', 'run in the foreground and exit with its exit code')
    .action(async (refs: string[], o) => (await containers()).start(refs, o));
  const stop = new Command('stop')
    .description("stop running containers: SIGTERM to their PID 1, SIGKILL after the grace time")
    .argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .action(async (refs: string[], o) => (await containers()).stop(refs, o));
  const logs = new Command('logs')
    .description("what a container started in the background wrote (its log)")
    .argument('<container>')
    .option('-f, --follow', 'keep printing what it writes until it stops')
    .option('-n, --tail <lines>', 'only the last lines ("all" for everything)')
    .action(async (ref: string, o) => (await containers()).logs(ref, o));
  const pauseCmd = new Command('pause')
    .description('freeze every process of running containers (cgroup freezer)')
    .argument('<containers...>')
    .action(async (refs: string[]) => (await containers()).pause(refs, true));
  const unpause = new Command('unpause')
    .description('thaw paused containers')
    .argument('<containers...>')
    .action(async (refs: string[]) => (await containers()).pause(refs, false));
  const restart = new Command('restart')
    .description('stop (if running) and start containers again, in the background')
    .argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .action(async (refs: string[], o) => (await containers()).restart(refs, o));
  const exec = new Command('exec')
    .description('run a command in a running container (its namespaces, root and working dir)')
    .argument('<container>')
    .argument('<command...>')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect)
    .option('-i, --interactive', 'keep stdin open: the command reads ours (with -t, this terminal drives it, in raw mode); without -i it reads nothing')
    .option('-t, --tty', 'give the command a pseudo-terminal of its own')
    .passThroughOptions()
    .action(async (ref: string, cmd: string[], o) => (await containers()).exec(ref, cmd, o));
  const ps = new Command('ps')
    .description('list containers')
    .option('-a, --all', 'show all containers (default: running ones)')
    .option('-s, --size', 'show the size of each container layer')
    .option('-q, --quiet', 'only container IDs')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (o) => (await containers()).ps(o));
  const rm = new Command('rm')
    .description('remove containers')
    .argument('<containers...>')
    .option('-f, --force', 'remove a running container too')
    .action(async (refs: string[], o) => (await containers()).rm(refs, o));
  const diff = new Command('diff')
    .description("changes to a container's filesystem: A added, C changed, D deleted")
    .argument('<container>')
    .action(async (ref: string) => (await containers()).diff(ref));
  const commit = new Command('commit')
    .description("make a new image from a container's changes (an OCI layer with .wh. whiteouts)")
    .argument('<container>')
    .argument('[repository[:tag]]')
    .option('-a, --author <author>', 'author')
    .option('-m, --message <msg>', 'commit message')
    .option('-c, --change <change>', 'apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER)', collect)
    .option('-p, --pause [bool]', 'pause a running container while its layer is read (default true; --pause=false to not)')
    .action(async (ref: string, repo: string | undefined, o) => (await containers()).commit(ref, repo, o));
  const exportCmd = new Command('export')
    .description("a container's filesystem as a tar on stdout")
    .argument('<container>')
    .action(async (ref: string) => (await containers()).exportCmd(ref));
  const buildCmd = new Command('build')
    .description('build an image from a Dockerfile and a context dir, with a layer cache')
    .argument('<context>', 'the dir whose files COPY and ADD can use')
    .option('-t, --tag <name:tag>', 'tag the image (repeatable)', collect)
    .option('-f, --file <Dockerfile>', 'the Dockerfile (default: CONTEXT/Dockerfile)')
    .option('--build-arg <KEY=VALUE>', 'a value for an ARG (repeatable)', collect)
    .option('--no-cache', 'run every step, using no cached result')
    .action(async (ctx: string, o) => (await import('./build-actions.js')).build(ctx, o));
  const save = new Command('save')
    .description('images as one tar: an OCI image layout with docker\'s manifest.json (docker load, skopeo and umoci read it)')
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
    .description("remove the build cache: cached steps and the intermediate images only they keep")
    .action(async () => (await import('./build-actions.js')).builderPrune());
  const system = new Command('system').description('manage strata');
  system
    .command('df')
    .description('disk usage of images, containers and the build cache, from real layer sharing')
    .option('-v, --verbose', 'per image and per container')
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (o) => (await import('./df-actions.js')).df(o));
  system
    .command('check')
    .description('verify every blob against its digest and every reference; repair what can be repaired')
    .option('--no-repair', 'only report')
    .action(async (o) => (await import('./check-actions.js')).check(o));
  return [importCmd, buildCmd, builder, save, load, imagesCmd, tag, rmi, image, history, inspect, create, run, start, stop, restart, pauseCmd, unpause, logs, exec, ps, rm, diff, commit, exportCmd, system];
}
