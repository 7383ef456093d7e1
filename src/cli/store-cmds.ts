// Every image and container command, in the order `strata help` lists them (docker's groups).
import type { Command } from 'commander';
import { imageCommands } from './image-cmds.js';
import { containerCommands } from './container-cmds.js';
import { registryCommands } from './registry-cmds.js';

export function storeCommands(): Command[] {
  const { importCmd, imagesCmd, tag, rmi, image, history, buildCmd, save, load, builder, system } = imageCommands();
  const { inspect, create, run, start, stop, logs, pauseCmd, unpause, restart, exec, ps, rm, diff, commit, exportCmd } = containerCommands();
  const [pull, push, login, logout, search] = registryCommands();
  const images = [importCmd, buildCmd, builder, pull, push, save, load, imagesCmd, tag, rmi, image, history, login, logout, search];
  return [...images, inspect, create, run, start, stop, restart, pauseCmd, unpause, logs, exec, ps, rm, diff, commit, exportCmd, system];
}
