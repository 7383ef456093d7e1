// FUSE passthrough (kernel 6.9+): an open file's reads, writes and mmap go straight to its backing
// file in the kernel, with no request to us. The kernel's rules, kept here per node:
// - one backing file per inode: every passthrough open of a node reuses one backing id, closed at
//   its last release;
// - an inode open in passthrough accepts only passthrough (or uncached, DIRECT_IO) opens, and one
//   open cached accepts no passthrough open: a node keeps the mode of its first open until all close;
// - a copy-up while a node is open in passthrough on its lower file gives the new (upper) file a
//   different backing: such opens say PASSTHROUGH|DIRECT_IO with the old backing id, which sends
//   their reads and writes to us (served from the upper copy) until the old opens close; those
//   keep reading the lower copy (as overlayfs did before 4.19), and an mmap of the new opens
//   would map the lower copy too.
import { native } from '../../sys/native.js';
import { errnoName } from '../../sys/errors.js';
import { fstat } from '../../sys/stat.js';
import { FOPEN } from './protocol.js';

interface NodeIo {
  mode: 'passthrough' | 'cached';
  opens: number;
  backingId: number;
  /** dev:ino of the backing file of a passthrough node. */
  backing: string;
}

export interface OpenReply {
  flags: number;
  backingId: number;
}

export class PassthroughTable {
  private byNode = new Map<number, NodeIo>();
  private byFh = new Map<number, number>(); // fh -> node id, for release
  private warned = false;

  constructor(
    private fuseFd: number,
    /** Whether passthrough was negotiated at INIT (read at each open: INIT comes after construction). */
    private enabled: () => boolean,
    private keepCache: boolean,
    private log: (line: string) => void,
  ) {}

  /**
   * The open flags and backing id for a new open of `nodeId` whose backing fd is `fd`. A write
   * open of a setuid or setgid file never writes in passthrough: the kernel would write as the
   * daemon (root), so the bits would stay; its writes come to us, flagged to drop them.
   */
  opened(nodeId: number, fh: number, fd: number, writable: boolean): OpenReply {
    const cached = { flags: this.keepCache ? FOPEN.KEEP_CACHE : 0, backingId: 0 };
    if (!this.enabled()) return cached;
    const st = fstat(fd);
    const backing = `${st.dev}:${st.ino}`;
    const setidWrite = writable && (st.mode & 0o4000 || (st.mode & 0o2010) === 0o2010);
    const io = this.byNode.get(nodeId) ?? (setidWrite ? this.cachedNode(nodeId, backing) : this.first(nodeId, fd, backing));
    io.opens++;
    this.byFh.set(fh, nodeId);
    if (io.mode === 'cached') return cached;
    // The kernel takes only passthrough opens of this inode, with its one backing file: a copied-up
    // file is opened so, but with DIRECT_IO, which sends its reads and writes to us (and so to the upper copy).
    return { flags: FOPEN.PASSTHROUGH | (io.backing === backing && !setidWrite ? 0 : FOPEN.DIRECT_IO), backingId: io.backingId };
  }

  private cachedNode(nodeId: number, backing: string): NodeIo {
    const io: NodeIo = { mode: 'cached', opens: 0, backingId: 0, backing };
    this.byNode.set(nodeId, io);
    return io;
  }

  /** A node's first open sets its mode: passthrough with a new backing id, or cached where the kernel refuses one. */
  private first(nodeId: number, fd: number, backing: string): NodeIo {
    const id = native.backingOpen(this.fuseFd, fd);
    if (id < 0 && !this.warned) {
      this.log(`passthrough refused by the kernel (${errnoName(-id)}): serving file data ourselves`);
      this.warned = true;
    }
    if (id < 0) return this.cachedNode(nodeId, backing);
    const io: NodeIo = { mode: 'passthrough', opens: 0, backingId: id, backing };
    this.byNode.set(nodeId, io);
    return io;
  }

  /** An open file was released: at the node's last, its backing id goes and its mode is free again. */
  released(fh: number): void {
    const nodeId = this.byFh.get(fh);
    if (nodeId === undefined) return;
    this.byFh.delete(fh);
    const io = this.byNode.get(nodeId);
    if (!io || --io.opens > 0) return;
    if (io.backingId > 0) native.backingClose(this.fuseFd, io.backingId);
    this.byNode.delete(nodeId);
  }

  get size(): number {
    return this.byNode.size;
  }
}
