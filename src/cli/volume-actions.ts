// The volume commands: call the volume service (container/volumes.ts) and print as docker does.
import { Volumes } from '../container/volumes.js';
import { splitKeyValue } from '../sys/key-value.js';
import { withStore } from './with-store.js';
import { table } from './format.js';
import { fatal } from './fatal.js';

export function create(name: string | undefined, o: { name?: string; label?: string[] }): Promise<void> {
  if (name && o.name && name !== o.name) fatal(`two names given: ${name} and --name ${o.name}`);
  const labels = Object.fromEntries((o.label ?? []).map((l) => splitKeyValue(l)).map(([k, v]) => [k, v ?? '']));
  return withStore((s) => console.log(new Volumes(s).create(name ?? o.name, labels).name));
}

export function list(o: { quiet?: boolean; filter?: string[]; format?: string }): Promise<void> {
  return withStore((s) => {
    const vols = new Volumes(s).list(o.filter);
    if (o.format === 'json')
      return console.log(
        JSON.stringify(
          vols.map((v) => ({ Driver: 'local', Name: v.name, Labels: v.labels, Mountpoint: s.volumePath(v.name) })),
          null,
          2,
        ),
      );
    if (o.quiet) return void process.stdout.write(vols.map((v) => v.name + '\n').join(''));
    process.stdout.write(
      table(
        ['DRIVER', 'VOLUME NAME'],
        vols.map((v) => ['local', v.name]),
      ),
    );
  });
}

export function inspect(names: string[]): Promise<void> {
  return withStore((s) => {
    const v = new Volumes(s);
    console.log(
      JSON.stringify(
        names.map((n) => v.inspect(n)),
        null,
        2,
      ),
    );
  });
}

export function remove(names: string[], o: { force?: boolean }): Promise<void> {
  return withStore((s) => {
    const v = new Volumes(s);
    for (const n of names) {
      v.remove(n, o);
      console.log(n);
    }
  });
}
