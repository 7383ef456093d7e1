// `system df`: what images, containers and the build cache take, from real layer sharing: a
// layer used by several images counts once, as SHARED SIZE, for each of them.
import { dirSize } from '../store/usage.js';
import type { ContainerRecord, Store } from '../store/store.js';
import { intermediates } from './list.js';

export interface ImageUsage {
  id: string;
  tags: string[];
  created: string;
  size: number;
  shared: number;
  unique: number;
  containers: number;
}

export interface ContainerUsage {
  id: string;
  name: string;
  image: string;
  created: string;
  running: boolean;
  status: string;
  size: number;
  /** Volumes it mounts (docker's LOCAL VOLUMES column). */
  volumes: number;
}

export interface VolumeUsage {
  name: string;
  /** Containers that mount it. */
  links: number;
  size: number;
}

export interface UsageSummary {
  type: 'Images' | 'Containers' | 'Local Volumes' | 'Build Cache';
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

export interface DiskUsage {
  summary: UsageSummary[];
  images: ImageUsage[];
  containers: ContainerUsage[];
  volumes: VolumeUsage[];
  cacheSize: number;
}

/** How a container is doing, as `ps` says it: the container service knows, this module does not. */
export interface ContainerStatus {
  running(c: ContainerRecord): boolean;
  statusOf(s: Store, c: ContainerRecord): string;
}

export function diskUsage(s: Store, st: ContainerStatus): DiskUsage {
  const every = s.allImages();
  // A build's intermediate images are its cache, counted there, not among the images.
  const inter = intermediates(s, every);
  const images = every.filter((i) => !inter.has(i.id));
  const containers = s.allContainers();
  const users = new Map<string, number>(); // diffID -> images using it
  for (const i of images) for (const d of new Set(i.layers)) users.set(d, (users.get(d) ?? 0) + 1);
  const layerSize = (d: string) => s.layer(d)?.size ?? 0;
  const sum = (ds: Iterable<string>) => [...ds].reduce((n, d) => n + layerSize(d), 0);
  const used = new Set(containers.map((c) => c.image));
  const rows = images.map((img) => {
    const shared = sum(img.layers.filter((d) => (users.get(d) ?? 0) > 1));
    const size = s.imageSize(img);
    return {
      id: img.id,
      tags: s.tagsOf(img.id),
      created: img.created,
      size,
      shared,
      unique: size - shared,
      containers: containers.filter((c) => c.image === img.id).length,
    };
  });
  const usedLayers = new Set(images.filter((i) => used.has(i.id)).flatMap((i) => i.layers));
  const ctr = containers.map((c) => {
    const size = dirSize(s.containerPaths(c.id).upper);
    const volumes = (c.mounts ?? []).filter((m) => m.type === 'volume').length;
    return { id: c.id, name: c.name, image: c.image, created: c.created, running: st.running(c), status: st.statusOf(s, c), size, volumes };
  });
  const ctrSize = ctr.reduce((n, c) => n + c.size, 0);
  const links = s.volumeLinks();
  const vols: VolumeUsage[] = s.allVolumes().map((v) => ({ name: v.name, links: links.get(v.name) ?? 0, size: dirSize(s.volumePath(v.name)) }));
  const cacheSize = sum(
    new Set(
      every
        .filter((i) => inter.has(i.id))
        .flatMap((i) => i.layers)
        .filter((d) => !users.has(d)),
    ),
  );
  const summary: UsageSummary[] = [
    { type: 'Images', total: images.length, active: used.size, size: sum(users.keys()), reclaimable: sum([...users.keys()].filter((d) => !usedLayers.has(d))) },
    {
      type: 'Containers',
      total: containers.length,
      active: ctr.filter((c) => c.running).length,
      size: ctrSize,
      reclaimable: ctr.filter((c) => !c.running).reduce((n, c) => n + c.size, 0),
    },
    {
      type: 'Local Volumes',
      total: vols.length,
      active: vols.filter((v) => v.links > 0).length,
      size: vols.reduce((n, v) => n + v.size, 0),
      reclaimable: vols.filter((v) => v.links === 0).reduce((n, v) => n + v.size, 0),
    },
    { type: 'Build Cache', total: s.cacheEntries().filter((e) => e.live).length, active: 0, size: cacheSize, reclaimable: cacheSize },
  ];
  return { summary, images: rows, containers: ctr, volumes: vols, cacheSize };
}
