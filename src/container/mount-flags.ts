// The mount flags of create and run, parsed as docker parses them: -v/--volume, --mount and
// --tmpfs give a container's volumes, binds and tmpfs mounts; -p/--publish and --network its
// network. Pure: what exists on disk is settled at create (container/volumes.ts).
import path from 'node:path';
import { refuse } from '../sys/errors.js';
import { VOLUME_NAME, type ContainerMount } from '../store/store.js';

/** A mount as the flags give it: a volume without a source is an anonymous one; `-v` makes a missing host dir (`makeSource`), `--mount` refuses it, as docker. */
export type MountRequest = ContainerMount & { makeSource?: boolean };

/** A container path: absolute, normalised, and not the root itself. */
function target(p: string, flag: string): string {
  if (!p) refuse('invalid', `${flag} needs a path inside the container`);
  if (!p.startsWith('/')) refuse('invalid', `${flag}: the container path ${p} is not absolute`);
  const t = path.posix.normalize(p).replace(/(.)\/$/, '$1');
  if (t === '/') refuse('invalid', `${flag}: the container's root cannot be a mount point`);
  return t;
}

/** -v SOURCE:TARGET[:OPTS] or -v TARGET: a named volume, a host path (absolute or ./relative), or an anonymous volume. */
export function parseVolumeFlag(spec: string, cwd = process.cwd()): MountRequest {
  const flag = `-v ${spec}`;
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) refuse('invalid', `${flag}: expected [SOURCE:]TARGET[:OPTIONS]`);
  if (parts.length === 1) return { type: 'volume', target: target(parts[0], flag) };
  const [source, dst, opts = ''] = parts;
  const m: MountRequest = { type: 'volume', target: target(dst, flag) };
  if (source.startsWith('/') || source.startsWith('.')) {
    m.type = 'bind';
    m.source = path.resolve(cwd, source);
    m.makeSource = true;
  } else if (VOLUME_NAME.test(source)) m.source = source;
  else refuse('invalid', `${flag}: "${source}" is neither a volume name (letters, digits, _ . -) nor a host path (/… or ./…)`);
  for (const o of opts ? opts.split(',') : []) {
    if (o === 'ro' || o === 'readonly') m.readOnly = true;
    else if (o === 'rw') m.readOnly = false;
    else if (o === 'nocopy' && m.type === 'volume') m.noCopy = true;
    else if (o === 'z' || o === 'Z')
      continue; // SELinux relabelling: no SELinux here
    else refuse('invalid', `${flag}: unknown option "${o}" (ro, rw${m.type === 'volume' ? ', nocopy' : ''})`);
  }
  if (m.readOnly === false) delete m.readOnly;
  return m;
}

const BOOL: Record<string, boolean> = { '': true, true: true, '1': true, false: false, '0': false };

/** A size as docker's tmpfs-size takes it: bytes, or a number with k, m or g. */
export function parseSize(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(v);
  if (!m) refuse('invalid', `${flag}: "${v}" is not a size (bytes, or a number with k, m or g)`);
  const n = Math.floor(Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()));
  if (n <= 0) refuse('invalid', `${flag}: a size must be more than 0`);
  return n;
}

function parseMode(v: string, flag: string): number {
  if (!/^[0-7]{1,4}$/.test(v)) refuse('invalid', `${flag}: "${v}" is not an octal mode`);
  return parseInt(v, 8);
}

/** --mount type=volume|bind|tmpfs,source=…,target=…[,readonly][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…] */
export function parseMountFlag(spec: string, cwd = process.cwd()): MountRequest {
  const flag = `--mount ${spec}`;
  const kv = new Map<string, string>();
  for (const field of spec.split(',')) {
    if (!field) refuse('invalid', `${flag}: an empty field`);
    const i = field.indexOf('=');
    const k = (i < 0 ? field : field.slice(0, i)).toLowerCase();
    const key = { src: 'source', destination: 'target', dst: 'target', ro: 'readonly' }[k] ?? k;
    if (kv.has(key)) refuse('invalid', `${flag}: ${key} is given twice`);
    kv.set(key, i < 0 ? '' : field.slice(i + 1));
  }
  const type = kv.get('type') ?? 'volume';
  if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs') refuse('invalid', `${flag}: type must be volume, bind or tmpfs, not "${type}"`);
  const allowed = new Set([
    'type',
    'source',
    'target',
    'readonly',
    ...{ volume: ['volume-nocopy'], bind: ['bind-propagation'], tmpfs: ['tmpfs-size', 'tmpfs-mode'] }[type],
  ]);
  for (const k of kv.keys()) if (!allowed.has(k)) refuse('invalid', `${flag}: "${k}" is not an option of a ${type} mount`);
  const m: MountRequest = { type, target: target(kv.get('target') ?? '', flag) };
  const source = kv.get('source');
  if (type === 'tmpfs' && source !== undefined) refuse('invalid', `${flag}: a tmpfs mount takes no source`);
  if (type === 'bind') {
    if (!source) refuse('invalid', `${flag}: a bind mount needs source=HOST_PATH`);
    m.source = path.resolve(cwd, source);
  }
  if (type === 'volume' && source) {
    if (!VOLUME_NAME.test(source)) refuse('invalid', `${flag}: "${source}" is not a valid volume name (letters, digits, _ . -)`);
    m.source = source;
  }
  if (kv.has('readonly')) {
    const ro = BOOL[kv.get('readonly')!.toLowerCase()];
    if (ro === undefined) refuse('invalid', `${flag}: readonly takes true or false`);
    if (ro) m.readOnly = true;
  }
  if (kv.has('volume-nocopy') && BOOL[kv.get('volume-nocopy')!.toLowerCase()] !== false) m.noCopy = true;
  if (kv.has('tmpfs-size')) m.size = parseSize(kv.get('tmpfs-size')!, flag);
  if (kv.has('tmpfs-mode')) m.mode = parseMode(kv.get('tmpfs-mode')!, flag);
  const prop = kv.get('bind-propagation');
  if (prop !== undefined && !['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(prop))
    refuse('invalid', `${flag}: bind-propagation must be private, rprivate, shared, rshared, slave or rslave`);
  return m;
}

/** --tmpfs TARGET[:size=…,mode=…] */
export function parseTmpfsFlag(spec: string): MountRequest {
  const flag = `--tmpfs ${spec}`;
  const i = spec.indexOf(':');
  const m: MountRequest = { type: 'tmpfs', target: target(i < 0 ? spec : spec.slice(0, i), flag) };
  for (const o of i < 0 ? [] : spec.slice(i + 1).split(',')) {
    const [k, v = ''] = o.split('=');
    if (k === 'size') m.size = parseSize(v, flag);
    else if (k === 'mode') m.mode = parseMode(v, flag);
    else if (k === 'ro') m.readOnly = true;
    else if (!['rw', 'nosuid', 'suid', 'nodev', 'dev', 'exec', 'noexec'].includes(k)) refuse('invalid', `${flag}: unknown option "${k}" (size, mode, ro)`);
  }
  return m;
}

/** Every mount flag of a create or run, checked together: two mounts on one path are refused, as docker does. */
export function parseMountFlags(o: { volume?: string[]; mount?: string[]; tmpfs?: string[] }, cwd = process.cwd()): MountRequest[] {
  const all = [
    ...(o.volume ?? []).map((v) => parseVolumeFlag(v, cwd)),
    ...(o.mount ?? []).map((v) => parseMountFlag(v, cwd)),
    ...(o.tmpfs ?? []).map(parseTmpfsFlag),
  ];
  const seen = new Set<string>();
  for (const m of all) {
    if (seen.has(m.target)) refuse('invalid', `two mounts on ${m.target}: a path can have one`);
    seen.add(m.target);
  }
  return all;
}

/**
 * -p [IP:]HOST:CONTAINER[/PROTO] or -p CONTAINER[/PROTO]. Containers share the host's network, so
 * a port is the same port on both sides: a mapping to another port cannot hold and is refused.
 */
export function parsePublish(spec: string, network: 'host' | 'none'): string {
  const flag = `-p ${spec}`;
  if (network === 'none') refuse('invalid', `${flag}: a container with --network none has no network to publish a port on`);
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|\d+\.\d+\.\d+\.\d+):)?(?:(\d+(?:-\d+)?)?:)?(\d+(?:-\d+)?)(?:\/(tcp|udp|sctp))?$/.exec(spec);
  if (!m) refuse('invalid', `${flag}: expected [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp]`);
  const [, , host, ctr, proto = 'tcp'] = m;
  const range = (r: string) => r.split('-').map(Number);
  for (const n of range(ctr).concat(host ? range(host) : [])) if (n < 1 || n > 65535) refuse('invalid', `${flag}: ${n} is not a port (1-65535)`);
  if (host !== undefined && host !== ctr)
    refuse('invalid', `${flag}: containers share the host's network here, so container port ${ctr} is host port ${ctr}; publish it as -p ${ctr}:${ctr}`);
  return `${ctr}/${proto}`;
}
