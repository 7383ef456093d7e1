// Every image and container command, in the order `strata help` lists them (docker's groups), and
// docker's management forms (`container ls`, `image rm`, …): each is the same command as its short
// form, made a second time, since a command has one parent.
import { Command } from 'commander';
import { imageCommands } from './image-cmds.js';
import { containerCommands } from './container-cmds.js';
import { registryCommands } from './registry-cmds.js';
import { volumeGroup } from './volume-cmds.js';
import { benchCommand } from './bench-cmd.js';

export function storeCommands(): Command[] {
  const { importCmd, imagesCmd, tag, rmi, image, history, buildCmd, save, load, builder, system, info } = imageCommands();
  const { inspect, create, run, start, attach, stop, logs, pauseCmd, unpause, restart, exec, ps, rm, diff, commit, exportCmd } = containerCommands();
  const [pull, push, login, logout, search] = registryCommands();
  managementForms(image);
  const images = [importCmd, buildCmd, builder, pull, push, save, load, imagesCmd, tag, rmi, image, history, login, logout, search];
  return [
    ...images,
    inspect,
    create,
    run,
    start,
    attach,
    stop,
    restart,
    pauseCmd,
    unpause,
    logs,
    exec,
    ps,
    rm,
    diff,
    commit,
    exportCmd,
    containerGroup(),
    volumeGroup(),
    benchCommand(),
    system,
    info,
  ];
}

/** `image ls|rm|history|build|tag|inspect|save|load|import|pull|push`, beside its own prune and waste. */
function managementForms(image: Command): void {
  const i = imageCommands();
  const [pull, push] = registryCommands();
  image.addCommand(i.imagesCmd.name('ls').alias('list'));
  image.addCommand(i.rmi.name('rm').alias('remove'));
  for (const c of [i.history, i.buildCmd, i.tag, containerCommands().inspect, i.save, i.load, i.importCmd, pull, push]) image.addCommand(c);
}

/** `container ls|ps|run|create|start|attach|stop|restart|rm|exec|commit|export|diff|logs|pause|unpause|inspect|prune`. */
function containerGroup(): Command {
  const c = containerCommands();
  const group = new Command('container').description('manage containers').enablePositionalOptions();
  group.addCommand(c.ps.name('ls').aliases(['ps', 'list']));
  for (const cmd of [
    c.run,
    c.create,
    c.start,
    c.attach,
    c.stop,
    c.restart,
    c.rm,
    c.exec,
    c.commit,
    c.exportCmd,
    c.diff,
    c.logs,
    c.pauseCmd,
    c.unpause,
    c.inspect,
  ])
    group.addCommand(cmd);
  group
    .command('prune')
    .description('remove every container that is not running; asks first')
    .option('-f, --force', 'do not ask')
    .action(async (o) => (await import('./prune-actions.js')).containerPrune(o));
  return group;
}
