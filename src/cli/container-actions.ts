// The container commands: parse what commander gives, call the container service, print docker's
// output. The exit status of run, start -a and exec is the container command's.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { commandLine } from '../container/command-line.js';
import type { Store } from '../store/store.js';
import { Containers, running, notFound, type RunFlags } from '../container/service.js';
import { parseDetachKeys } from '../container/detach-keys.js';
import { ago, humanSize, shortId, table } from './format.js';
import { withStore, inspectImage } from './image-actions.js';
import { progressBars } from './progress-bar.js';
import { fatal } from './fatal.js';
import { statusOf } from './container-status.js';

export { running };
export { statusOf };

const warn = (line: string) => process.stderr.write(`strata: ${line}\n`);
const containers = (s: Store, trace?: string) => new Containers(s, { warn, trace });
/** `trace`: a file for the copy-up trace of the mounts the command makes (run/start --trace). */
export const withContainers = <T>(fn: (k: Containers) => Promise<T> | T, trace?: string) => withStore((s) => fn(containers(s, trace)));
/** Run `fn` for its exit code, then exit with it: run, start -a and exec end as their command did. */
export const exitWith = (p: Promise<number>) => p.then((code) => process.exit(code));

export function createCmd(image: string, cmd: string[], o: RunFlags): Promise<void> {
  return withContainers((k) => console.log(k.create(image, cmd, o).id));
}

export function run(image: string, cmd: string[], o: RunFlags & { rm?: boolean; detach?: boolean; detachKeys?: string; trace?: string }): Promise<void> {
  const checked = <T>(fn: (k: Containers) => Promise<T> | T) => withContainers((k) => (parseDetachKeys(o.detachKeys), fn(k)), o.trace); // a bad spec makes no container
  // -d: in the background under a supervisor, as start does, printing the full ID; -it: so too, with this terminal attached (docker's way)
  if (o.detach) return checked(async (k) => void console.log((await k.start(k.create(image, cmd, o).id, { rm: o.rm })).id));
  if (o.tty && o.interactive) return exitWith(checked((k) => k.startAttached(k.create(image, cmd, o).id, { rm: o.rm, detachKeys: o.detachKeys })));
  return exitWith(checked((k) => k.run(k.create(image, cmd, o), o.rm)));
}

export function start(
  refs: string[],
  o: { attach?: boolean; rm?: boolean; detachKeys?: string; supervise?: boolean; waitAttach?: boolean; trace?: string },
): Promise<void> {
  return exitWith(
    withContainers(async (k) => {
      let code = 0;
      for (const ref of refs) {
        if (o.supervise) code = await k.supervise(ref, { rm: o.rm, waitAttach: o.waitAttach });
        else if (o.attach) code = await k.startAttached(ref, { rm: o.rm, detachKeys: o.detachKeys });
        else console.log((await k.start(ref)).name);
      }
      return code;
    }, o.trace),
  );
}

export function restart(refs: string[], o: { time?: string }): Promise<void> {
  return withContainers(async (k) => {
    for (const ref of refs) {
      await k.restart(ref, Number(o.time ?? 10));
      console.log(ref);
    }
  });
}

export function stop(refs: string[], o: { time?: string }): Promise<void> {
  return withContainers(async (k) => {
    for (const ref of refs) {
      await k.stop(ref, Number(o.time ?? 10));
      console.log(ref);
    }
  });
}

export function exec(ref: string, cmd: string[], o: { env?: string[]; tty?: boolean; interactive?: boolean }): Promise<void> {
  return exitWith(withContainers((k) => k.exec(ref, cmd, o)));
}

export function ps(o: { all?: boolean; size?: boolean; format?: string; quiet?: boolean; filter?: string[] }): Promise<void> {
  return withStore((s) => {
    const k = containers(s);
    const rows = k.list({ ...o, filters: o.filter }).map(({ c, image, size, virtual }) => {
      const tags = image ? s.tagsOf(image.id) : [];
      const row = {
        id: c.id,
        image: tags[0] ?? shortId(c.image),
        command: commandLine(c),
        created: c.created,
        status: statusOf(s, c),
        ports: (c.ports ?? []).join(', '),
        name: c.name,
        networks: c.network ?? 'host',
        mounts: (c.mounts ?? [])
          .map((m) => (m.type === 'volume' ? m.source!.slice(0, m.source!.length === 64 ? 12 : undefined) : m.type === 'bind' ? m.source : 'tmpfs'))
          .join(','),
      };
      return { ...row, size: size ?? 0, virtual: virtual ?? 0 };
    });
    if (o.format === 'json') return console.log(JSON.stringify(rows, null, 2));
    if (o.quiet) return void process.stdout.write(rows.map((r) => shortId(r.id) + '\n').join(''));
    // PORTS: on the host's network a published port is that port itself, so it shows as 8080/tcp
    const head = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES', ...(o.size ? ['SIZE'] : [])];
    // docker's: 20 characters at most (19 and an ellipsis), quoted
    const cmd = (c: string) => JSON.stringify([...c].length > 20 ? [...c].slice(0, 19).join('') + '…' : c);
    const sizes = (r: (typeof rows)[number]) => (o.size ? [`${humanSize(r.size)} (virtual ${humanSize(r.virtual)})`] : []);
    process.stdout.write(
      table(
        head,
        rows.map((r) => [shortId(r.id), r.image, cmd(r.command), ago(r.created), r.status, r.ports, r.name, ...sizes(r)]),
      ),
    );
  });
}

export function rm(refs: string[], o: { force?: boolean; volumes?: boolean }): Promise<void> {
  return withContainers((k) => {
    for (const ref of refs) {
      k.remove(ref, o);
      console.log(ref);
    }
  });
}

export function diff(ref: string): Promise<void> {
  return withContainers((k) => {
    for (const [kind, p] of k.diff(ref)) console.log(`${kind} ${p}`);
  });
}

interface CommitFlags {
  author?: string;
  message?: string;
  change?: string[];
  pause?: boolean | string;
}

export function commit(ref: string, repo: string | undefined, o: CommitFlags): Promise<void> {
  const bars = progressBars();
  return withContainers((k) => {
    const pause = o.pause !== false && o.pause !== 'false';
    const img = k.commit(ref, { repo, author: o.author, message: o.message, change: o.change, pause, progress: bars.sink });
    bars.stop();
    console.log(img.id);
  });
}

export function mountContainer(ref: string): Promise<void> {
  return withContainers((k) => console.log(k.mount(ref)));
}

export function umountContainer(ref: string): Promise<void> {
  return withContainers((k) => k.umount(ref));
}

export function inspect(refs: string[]): Promise<void> {
  return withContainers(async (k) => {
    const out = [];
    for (const ref of refs) {
      try {
        out.push(inspectImage(k.s, k.s.image(ref)));
      } catch (err) {
        if (!notFound(err)) throw err;
        out.push(await k.inspect(ref));
      }
    }
    console.log(JSON.stringify(out, null, 2));
  });
}

/** The container's merged filesystem as a tar on stdout (as docker export). */
export function exportCmd(ref: string): Promise<void> {
  if (process.stdout.isTTY) fatal('refusing to write a tar to a terminal; redirect it (strata export CONTAINER > fs.tar)');
  const bars = progressBars();
  return withContainers(async (k) => {
    await pipeline(k.export(ref, bars.sink) as Readable, process.stdout, { end: false });
    bars.stop();
  });
}

/** docker logs: the log's bytes as they are, -f until the container stops. */
export function logs(ref: string, o: { follow?: boolean; tail?: string }): Promise<void> {
  return withContainers(async (k) => {
    for await (const chunk of k.logs(ref, o)) {
      if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
    }
  });
}

/** docker pause / unpause: freeze or thaw every process of running containers. */
export function pause(refs: string[], frozen: boolean): Promise<void> {
  return withContainers((k) => {
    for (const ref of refs) {
      if (frozen) k.pause(ref);
      else k.unpause(ref);
      console.log(ref);
    }
  });
}
