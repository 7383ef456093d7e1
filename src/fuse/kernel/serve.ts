// Serving a union over our own FUSE transport: open /dev/fuse, mount(2) it with `fd=`, and hand
// requests to KernelOps. As root only (mount(2) needs CAP_SYS_ADMIN; there is no fusermount path).
import { native, MS_NODEV, MS_NOSUID, MS_RDONLY } from '../../sys/native.js';
import { errnoName } from '../../sys/errors.js';
import type { Union } from '../../union/union.js';
import { KernelOps, type KernelOptions } from './ops.js';
import { Session } from './session.js';

export interface KernelServeOptions extends KernelOptions {
  readdirplus: boolean;
  readdirplusAuto?: boolean;
  writebackCache: boolean;
  passthrough: boolean;
  readOnly: boolean;
  busyPollUs?: number;
  maxWrite: number;
  debug?: boolean;
  log: (line: string) => void;
}

export interface KernelMount {
  session: Session;
  ops: KernelOps;
}

/** Mount `mountpoint` and serve `union` there until it is unmounted; `onEnd` is told why it stopped. */
export function serveKernel(union: Union, mountpoint: string, o: KernelServeOptions, onEnd: (why: string) => void): KernelMount {
  const fd = native.fuseOpen();
  if (fd < 0) throw new Error(`cannot open /dev/fuse: ${errnoName(-fd)}`);
  const session = new Session(
    fd,
    {
      maxWrite: o.maxWrite,
      readdirplus: o.readdirplus,
      readdirplusAuto: o.readdirplusAuto,
      writebackCache: o.writebackCache,
      passthrough: o.passthrough,
      busyPollUs: o.busyPollUs,
      debug: o.debug,
      log: o.log,
    },
    onEnd,
  );
  const ops = new KernelOps(union, o, session, o.log);
  session.ops = ops;
  session.prepareCopyUp = (path) => union.prepareCopyUp(path);
  session.stats = union.stats;
  // A copy-up can change what the kernel cached of a dir (a merged dir's nlink is 1): drop it.
  union.onCopyUp = (path, isDir, upper) => {
    const id = ops.copiedUp(path, isDir, upper);
    if (id !== undefined && isDir) session.invalidateInode(id);
  };
  const data = ['fd=' + fd, 'rootmode=40000', 'user_id=0', 'group_id=0', 'allow_other', 'default_permissions'].join(',');
  const r = native.mount('strata', mountpoint, 'fuse.strata', MS_NOSUID | MS_NODEV | (o.readOnly ? MS_RDONLY : 0), data);
  if (r < 0) throw new Error(`mount(2) of ${mountpoint} failed: ${errnoName(-r)}`);
  session.start();
  return { session, ops };
}
