// The container commands, named and shaped as docker's. Their work is in container-actions.ts,
// loaded only when such a command runs.
import { Command, Option } from 'commander';

const containers = () => import('./container-actions.js');
const collect = (v: string, prev: string[] = []) => [...prev, v];
const DETACH_KEYS =
  "the keys that leave a container with -it running (docker's format: ctrl-<a-z, @, [, \\, ], ^, _> or a character, comma separated; default ctrl-p,ctrl-q)";

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
    .option('-t, --tty', 'give the command a pseudo-terminal of its own')
    .option('-v, --volume <[SOURCE:]TARGET[:ro]>', 'mount a volume (NAME:/path, or /path for an anonymous one) or a host dir (/host:/path)', collect)
    .option('--mount <type=volume|bind|tmpfs,...>', 'mount a volume, host path or tmpfs: source=…,target=…[,readonly]', collect)
    .option('--tmpfs <TARGET[:size=…,mode=…]>', 'mount a tmpfs', collect)
    .option('-p, --publish <[HOST:]PORT>', "publish a port: the host's network is the container's, so the same port on both sides", collect)
    .option('--network <host|none>', "the host's network (default), or none: a network of its own with loopback only");
}

export function containerCommands(): Record<string, Command> {
  const inspect = new Command('inspect')
    .description('low-level information on images or containers, as JSON')
    .argument('<names...>')
    .action(async (refs: string[]) => (await containers()).inspect(refs));
  const create = containerOptions(new Command('create').description('create a container from an image'))
    .passThroughOptions()
    .action(async (img: string, cmd: string[], o) => (await containers()).createCmd(img, cmd, o));
  const run = containerOptions(
    new Command('run').description('run a command in a new container: mounted with strata, chrooted, in new mount, PID, UTS and IPC namespaces'),
  )
    .option('--rm', 'remove the container when it exits')
    .option('--trace <file>', 'write a JSON line per copy-up and whiteout of its filesystem to this file (as strata mount --trace)')
    .option('-d, --detach', 'run it in the background and print its ID (output to its log: strata logs)')
    .option('--detach-keys <keys>', DETACH_KEYS)
    .passThroughOptions()
    .action(async (img: string, cmd: string[], o) => (await containers()).run(img, cmd, o));
  const start = new Command('start')
    .description('start containers (in the background, output to their log; -a stays attached)')
    .argument('<containers...>')
    .option('-a, --attach', 'run in the foreground and exit with its exit code')
    .option('--detach-keys <keys>', DETACH_KEYS)
    .option('--trace <file>', 'write a JSON line per copy-up and whiteout of its filesystem to this file (as strata mount --trace)')
    .addOption(new Option('--rm', 'remove it when it exits (the supervisor of run -d --rm)').hideHelp())
    .addOption(new Option('--supervise', "be a detached container's supervisor, with its attach socket").hideHelp())
    .addOption(new Option('--wait-attach', 'as its supervisor, start it once a first client attaches (run -it)').hideHelp())
    .action(async (refs: string[], o) => (await containers()).start(refs, o));
  const stop = new Command('stop')
    .description('stop running containers: SIGTERM to their PID 1, SIGKILL after the grace time')
    .argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .action(async (refs: string[], o) => (await containers()).stop(refs, o));
  const logs = new Command('logs')
    .description('what a container started in the background wrote (its log)')
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
    .option('-f, --filter <KEY=VALUE>', 'only some: status=created|running|paused|exited, name=REGEX, ancestor=IMAGE (repeatable)', collect)
    .option('--format <fmt>', 'json for machine-readable output')
    .action(async (o) => (await containers()).ps(o));
  const rm = new Command('rm')
    .description('remove containers')
    .argument('<containers...>')
    .option('-f, --force', 'remove a running container too')
    .option('-v, --volumes', 'remove its anonymous volumes too')
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
  const attach = new Command('attach')
    .description("connect this terminal to a running container's terminal (or its output, and its stdin if it has -i); ctrl-p ctrl-q leaves it running")
    .argument('<container>')
    .option('--detach-keys <keys>', DETACH_KEYS)
    .option('--no-stdin', 'do not send our input')
    .action(async (ref: string, o) => (await import('./attach-actions.js')).attach(ref, o));
  return { inspect, create, run, start, attach, stop, logs, pauseCmd, unpause, restart, exec, ps, rm, diff, commit, exportCmd };
}
