// `strata info`: what docker info says, for strata's store: container and image counts, the
// storage driver (strata: its transport and index, and the filesystem the store lives on), the
// kernel and the host. Read only; nothing is mounted or started.
import fs from 'node:fs';
import os from 'node:os';
import type { Store } from '../store/store.js';
import { Containers } from './service.js';

export interface SystemInfo {
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  ServerVersion: string;
  Driver: string;
  /** The driver's own facts, as docker's DriverStatus pairs. */
  DriverStatus: [string, string][];
  CgroupVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  StrataRootDir: string;
}

/** docker's names for the filesystem under its root dir, by statfs magic. */
const FILESYSTEMS: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x2fc12fc1: 'zfs',
  0x794c7630: 'overlayfs',
  0x65735546: 'fuse',
};

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export function systemInfo(s: Store, version: string): SystemInfo {
  const k = new Containers(s);
  const all = s.allContainers();
  const states = all.map((c) => k.state(c));
  const running = states.filter((st) => st.running).length;
  const paused = states.filter((st) => st.running && st.paused).length;
  const type = fs.statfsSync(s.root).type;
  return {
    Containers: all.length,
    ContainersRunning: running - paused,
    ContainersPaused: paused,
    ContainersStopped: all.length - running,
    Images: s.allImages().length,
    ServerVersion: version,
    Driver: 'strata',
    DriverStatus: [
      ['Backing Filesystem', FILESYSTEMS[type] ?? `0x${type.toString(16)}`],
      ['Transport', 'kernel (our FUSE protocol code on /dev/fuse; --transport fuse-native: libfuse 2)'],
      ['Speed features', 'readdirplus, passthrough, keep_cache, cache_readdir, 1 MiB writes (writeback cache off)'],
      ['Cache timeouts', 'entry, negative entry and attributes 1e6 s'],
      ['Lower index', `lmdb path index (${s.root}/index)`],
      ['Format', 'kernel overlayfs (whiteouts, opaque dirs, redirects in trusted.overlay.*)'],
      ['Layers', String(fs.existsSync(`${s.root}/layers`) ? fs.readdirSync(`${s.root}/layers`).length : 0)],
    ],
    CgroupVersion: fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1',
    KernelVersion: os.release(),
    OperatingSystem: osName(),
    OSType: 'linux',
    Architecture: os.machine(),
    NCPU: os.availableParallelism(),
    MemTotal: os.totalmem(),
    Name: os.hostname(),
    StrataRootDir: s.root,
  };
}
