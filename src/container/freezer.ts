// Pausing a container: its processes run in a cgroup of their own (the v1 freezer hierarchy, or
// cgroup v2, whose core has cgroup.freeze), so pause, unpause and commit stop them all at once
// without their noticing (a SIGSTOP would show in their parents' wait status and upset shells).
import fs from 'node:fs';
import { refuse } from '../sys/errors.js';

interface Hierarchy {
  dir: string;
  v: 1 | 2;
}

function hierarchy(): Hierarchy | null {
  if (fs.existsSync('/sys/fs/cgroup/freezer/cgroup.procs')) return { dir: '/sys/fs/cgroup/freezer/strata', v: 1 };
  // cgroup.controllers exists only in a v2 hierarchy (whole, or the "unified" one of a hybrid host).
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) if (fs.existsSync(`${root}/cgroup.controllers`)) return { dir: `${root}/strata`, v: 2 };
  return null;
}

const H = hierarchy();

/** The cgroup dir for a container, made if needed; null where the host has no freezer. */
export function cgroupFor(id: string): string | null {
  if (!H) return null;
  const dir = `${H.dir}/${id}`;
  try {
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return null;
  }
}

/** Whether the container's processes run in a cgroup of their own, so that they can be paused. */
export const canFreeze = (id: string) => !!H && fs.existsSync(`${H.dir}/${id}`);

export function isFrozen(id: string): boolean {
  if (!H || !canFreeze(id)) return false;
  const dir = `${H.dir}/${id}`;
  if (H.v === 1) return fs.readFileSync(`${dir}/freezer.state`, 'utf8').trim() === 'FROZEN';
  return /^frozen 1$/m.test(fs.readFileSync(`${dir}/cgroup.events`, 'utf8'));
}

/** Freeze (or thaw) every process of the container and wait until the kernel says it is done. */
export function setFrozen(id: string, frozen: boolean): void {
  if (!H || !canFreeze(id)) refuse('unsupported', frozen ? 'this host has no cgroup freezer: the container cannot be paused' : 'the container is not paused');
  const dir = `${H.dir}/${id}`;
  if (H.v === 1) fs.writeFileSync(`${dir}/freezer.state`, frozen ? 'FROZEN' : 'THAWED');
  else fs.writeFileSync(`${dir}/cgroup.freeze`, frozen ? '1' : '0');
  const end = Date.now() + 10_000;
  while (isFrozen(id) !== frozen) {
    if (Date.now() > end) refuse('failed', `the container's processes did not ${frozen ? 'freeze' : 'thaw'} within 10 s`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/** Remove a stopped container's cgroup (a moment after its last process is gone, it is empty). */
export function removeCgroup(id: string): void {
  if (!H || !canFreeze(id)) return;
  for (let i = 0; i < 50; i++) {
    try {
      fs.rmdirSync(`${H.dir}/${id}`);
      return;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
