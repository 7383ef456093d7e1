// Volumes, as docker's local driver keeps them: a dir STRATA_ROOT/volumes/NAME/_data outside every
// container's layers, named (volume create, -v NAME:/path) or anonymous (-v /path, an image's
// VOLUME), mounted into containers by the runtime. `volume ls|inspect|rm|prune` and the mounts a
// new container gets are here; the CLI only prints.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { refuse } from '../sys/errors.js';
import { bool, labelMatch, parseFilters } from '../image/filters.js';
import { dirSize } from '../store/usage.js';
import { resolveInRoot } from '../sys/in-root.js';
import type { ContainerMount, ContainerRecord, Store, VolumeRecord } from '../store/store.js';
import type { MountRequest } from './mount-flags.js';

export const VOLUME_FILTERS = ['dangling', 'name', 'label'];

/** A mount as the runtime makes it: host path (or none, for a tmpfs) onto a path in the container. */
export interface HostMount {
  kind: 'bind' | 'tmpfs';
  source?: string;
  target: string;
  readOnly?: boolean;
  size?: number;
  mode?: number;
}

export class Volumes {
  constructor(readonly s: Store) {}

  create(name?: string, labels: Record<string, string> = {}): VolumeRecord {
    return this.s.addVolume({ name, labels });
  }

  get(name: string): VolumeRecord {
    return this.s.volume(name);
  }

  /** The containers (running or not) whose mounts name the volume. */
  users(name: string): ContainerRecord[] {
    return this.s.allContainers().filter((c) => c.mounts?.some((m) => m.type === 'volume' && m.source === name));
  }

  list(filters?: string[]): VolumeRecord[] {
    const f = parseFilters(filters, VOLUME_FILTERS);
    const used = this.s.volumeLinks();
    return this.s
      .allVolumes()
      .filter((v) => !f.has('dangling') || f.get('dangling')!.some((d) => bool('dangling', d) === !used.has(v.name)))
      .filter((v) => !f.has('name') || f.get('name')!.some((n) => v.name.includes(n)))
      .filter((v) => (f.get('label') ?? []).every((l) => labelMatch(v.labels, l)))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** docker volume inspect's view. */
  inspect(name: string): object {
    const v = this.get(name);
    return {
      CreatedAt: v.created,
      Driver: 'local',
      Labels: v.labels,
      Mountpoint: this.s.volumePath(v.name),
      Name: v.name,
      Options: null,
      Scope: 'local',
      ...(v.anonymous ? { Anonymous: true } : {}),
    };
  }

  size(name: string): number {
    return dirSize(this.s.volumePath(name));
  }

  /** Remove volumes no container uses; one in use is refused unless `force` (docker's rm -f removes it from under them). */
  remove(name: string, o: { force?: boolean } = {}): void {
    const v = this.get(name);
    const users = this.users(v.name);
    if (users.length && !o.force)
      refuse('in-use', `volume ${v.name} is in use by container ${users.map((c) => c.name).join(', ')}: remove the container first (strata rm -v)`);
    this.s.removeVolume(v.name);
  }

  /** Volumes no container uses: anonymous ones, or all with `all` (docker 23's prune); their names and bytes. */
  prune(o: { all?: boolean; filters?: string[] } = {}): { deleted: string[]; freed: number } {
    const out = { deleted: [] as string[], freed: 0 };
    for (const v of this.list([...(o.filters ?? []), 'dangling=true'])) {
      if (!v.anonymous && !o.all) continue;
      out.freed += this.size(v.name);
      this.s.removeVolume(v.name);
      out.deleted.push(v.name);
    }
    return out;
  }

  /**
   * The mounts of a new container: the flags' (named volumes made if missing, anonymous ones made
   * for it), then an anonymous volume for each of the image's VOLUME paths the flags leave open.
   * Returns them and a function that removes the volumes it made, should the container not be made.
   */
  plan(requests: MountRequest[], imageVolumes: string[]): { mounts: ContainerMount[]; undo: () => void } {
    const made: string[] = [];
    const undo = () => made.forEach((n) => this.s.removeVolume(n));
    try {
      const mounts: ContainerMount[] = [];
      for (const r of requests) {
        if (r.type === 'bind') {
          const { makeSource, ...bind } = r;
          if (!fs.existsSync(r.source!)) {
            if (!makeSource) refuse('not-found', `--mount: the bind source ${r.source} does not exist (-v would make it)`);
            fs.mkdirSync(r.source!, { recursive: true }); // docker's -v makes a missing host dir
          }
          mounts.push(bind);
        } else if (r.type === 'volume') {
          const had = r.source ? this.s.volumeByName(r.source) : undefined;
          const v = had ?? this.s.addVolume({ name: r.source, anonymous: !r.source });
          if (!had) made.push(v.name);
          mounts.push({ ...r, source: v.name });
        } else mounts.push(r);
      }
      const taken = new Set(mounts.map((m) => m.target));
      for (const t of imageVolumes.map((p) => p.replace(/(.)\/+$/, '$1'))) {
        if (taken.has(t) || !t.startsWith('/')) continue;
        const v = this.s.addVolume({ anonymous: true });
        made.push(v.name);
        mounts.push({ type: 'volume', source: v.name, target: t });
        taken.add(t);
      }
      return { mounts, undo };
    } catch (err) {
      undo();
      throw err;
    }
  }

  /** The anonymous volumes of a container (rm -v, run --rm): removed unless another container uses one. */
  removeAnonymousOf(c: ContainerRecord): string[] {
    const gone: string[] = [];
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.source) continue;
      const v = this.s.volumeByName(m.source);
      if (!v?.anonymous || this.users(v.name).some((u) => u.id !== c.id)) continue;
      this.s.removeVolume(v.name);
      gone.push(v.name);
    }
    return gone;
  }

  /**
   * The host mounts of a container about to start over `merged`, shallowest first (a mount inside
   * another lands on it). An empty volume gets the image's content at its path first, as docker
   * copies it (not with nocopy). Mount points are made in the merged view.
   */
  prepare(c: ContainerRecord, merged: string): HostMount[] {
    const out: HostMount[] = [];
    const mounts = [...(c.mounts ?? [])].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
    for (const m of mounts) {
      const at = resolveInRoot(merged, m.target);
      const source = m.type === 'volume' ? this.s.volumePath(this.get(m.source!).name) : m.source;
      if (m.type === 'bind' && !fs.existsSync(source!)) refuse('not-found', `the bind source ${source} of container ${c.name} no longer exists`);
      const fileBind = m.type === 'bind' && !fs.statSync(source!).isDirectory();
      const there = fs.lstatSync(at, { throwIfNoEntry: false });
      if (m.type === 'volume' && !m.noCopy && there?.isDirectory() && fs.readdirSync(source!).length === 0) seed(at, source!);
      if (!there) {
        if (fileBind) {
          fs.mkdirSync(path.dirname(at), { recursive: true }); // `at` is resolved already: its parent is too
          fs.writeFileSync(at, '');
        } else fs.mkdirSync(at, { recursive: true, mode: 0o755 });
      } else if (fileBind === there.isDirectory()) {
        refuse('invalid', `${m.target} in container ${c.name} is a ${there.isDirectory() ? 'dir' : 'file'}, and ${source} is not: a mount needs the same kind`);
      }
      out.push({ kind: m.type === 'tmpfs' ? 'tmpfs' : 'bind', source, target: at, readOnly: m.readOnly, size: m.size, mode: m.mode });
    }
    return out;
  }
}

/** An image dir's content into a fresh volume, owners, modes and times kept; the volume's root takes the dir's mode and owner. */
function seed(from: string, to: string): void {
  const st = fs.statSync(from);
  if (fs.readdirSync(from).length) execFileSync('cp', ['-a', '--', `${from}/.`, to], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.chownSync(to, st.uid, st.gid);
  fs.chmodSync(to, st.mode & 0o7777);
}
