// The merged view of a snapshot as a FUSE mount at its `merged` dir, served by our daemon (its own
// process): for what needs a path, such as a container's processes, export, or a person's chroot.
import { StoreSnapshotter } from './store-snapshotter.js';
import { isDead, mountAt, unmountAt, withMountedAt } from './merged-mount.js';

export class FuseSnapshotter extends StoreSnapshotter {
  /** Mount the merged view (unless mounted and alive); returns where. A view's mount is read-only. */
  mount(key: string): string {
    return mountAt(this.mounts(key), this.dirs(key).merged, this.mountOptions(key));
  }

  /** Unmount it if mounted: lazily, or with `force` at once (aborting the FUSE connection). */
  unmount(key: string, force = false): void {
    unmountAt(this.dirs(key).merged, force);
  }

  /** Run `fn` with the merged view at hand, mounted on first use of `mounted()` and unmounted after fn if it was not before. */
  withMounted<T>(key: string, fn: (mounted: () => string) => T): T {
    return withMountedAt(() => this.mounts(key), this.dirs(key).merged, this.mountOptions(key), fn);
  }

  /** Whether its view is mounted but its daemon gone (the mount answers nothing). */
  daemonDead(key: string): boolean {
    return isDead(this.dirs(key).merged);
  }
}
