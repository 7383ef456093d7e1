// The merged view of a snapshot in this process: a Union (overlay semantics on paths) over the same
// lower, upper and work dirs a FUSE mount would serve, with the same copy-up and whiteouts. For the
// services' own work on a container's files (diff, commit, build's COPY): no mount, no daemon, no
// FUSE round trip per operation.
import { refuse } from '../sys/errors.js';
import { Union } from '../union/union.js';
import { StoreSnapshotter } from './store-snapshotter.js';

export class LocalSnapshotter extends StoreSnapshotter {
  /**
   * The merged view as a Union, writable for an active snapshot. While a FUSE daemon serves the
   * same upper dir, writing here too would race its copy-ups and caches: that is refused ('in-use');
   * a view, read-only, opens anyway.
   */
  open(key: string): Union {
    const m = this.mounts(key);
    if (!m.upper) return new Union({ lowers: m.lowers });
    if (this.mountedNow(key)) refuse('in-use', `${this.mountOptions(key).what} is mounted: its files are written through that mount, not beside it`);
    const u = new Union({ lowers: m.lowers, upper: m.upper, work: m.work });
    u.prepareWork();
    return u;
  }
}
