// Checks before a mount, each failing with one clear sentence, so a bad mount leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { findMount } from './mounts.js';
import { StrataError } from '../sys/errors.js';
import { markedVolatile, volatileMark } from '../union/volatile.js';

export interface MountSpec {
  lowers: string[];
  upper?: string;
  work?: string;
  mountpoint: string;
}

/** A mount that cannot be made as asked; nothing was left behind. */
export class MountError extends StrataError {
  constructor(message: string) {
    super('invalid', message);
  }
}

function dir(what: string, p: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new MountError(`${what} ${p} does not exist`);
  }
  if (!st.isDirectory()) throw new MountError(`${what} ${p} is not a directory`);
  return st;
}

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith('/') ? parent : parent + '/');

export function preflight(spec: MountSpec): MountSpec {
  const abs = (p: string) => path.resolve(p);
  const s: MountSpec = {
    lowers: spec.lowers.map(abs),
    upper: spec.upper && abs(spec.upper),
    work: spec.work && abs(spec.work),
    mountpoint: abs(spec.mountpoint),
  };
  if (s.lowers.length === 0) throw new MountError('at least one lower dir is needed (--lower DIR[:DIR...])');
  if (!!s.upper !== !!s.work) throw new MountError('--upper and --work go together (the work dir makes copy-up atomic)');
  if (!fs.existsSync('/dev/fuse')) throw new MountError('/dev/fuse is missing: load the fuse module (modprobe fuse)');
  for (const l of s.lowers) dir('lower dir', l);
  dir('mountpoint', s.mountpoint);
  if (findMount(s.mountpoint)) throw new MountError(`mountpoint ${s.mountpoint} is busy: something is already mounted there`);
  const all = [...s.lowers, ...(s.upper ? [s.upper, s.work!] : [])];
  for (const d of all) {
    if (inside(s.mountpoint, d) || inside(d, s.mountpoint)) throw new MountError(`mountpoint ${s.mountpoint} and layer dir ${d} overlap`);
  }
  if (s.upper && s.work) {
    const ust = dir('upper dir', s.upper);
    const wst = dir('work dir', s.work);
    if (ust.dev !== wst.dev)
      throw new MountError(`upper dir ${s.upper} and work dir ${s.work} are on different filesystems (copy-up renames from one to the other)`);
    if (inside(s.upper, s.work) || inside(s.work, s.upper)) throw new MountError(`upper dir ${s.upper} and work dir ${s.work} must not be inside one another`);
    for (const l of s.lowers) {
      if (inside(s.upper, l) || inside(l, s.upper)) throw new MountError(`upper dir ${s.upper} and lower dir ${l} overlap`);
    }
    if (markedVolatile(s.work))
      throw new MountError(
        `upper dir ${s.upper} was mounted with --volatile and not unmounted cleanly, so its contents are undefined: use a fresh upper and work dir (or remove ${volatileMark(s.work)} if you know nothing crashed)`,
      );
    try {
      fs.accessSync(s.upper, fs.constants.W_OK);
      fs.accessSync(s.work, fs.constants.W_OK);
    } catch {
      throw new MountError(`upper dir ${s.upper} or work dir ${s.work} is not writable`);
    }
  }
  return s;
}
