// Open files of the merged view: each FUSE file handle is a backing fd kept open in the daemon
// (never reopened per read or write). A handle opened read-only on a lower file follows the
// file when it is copied up, so it sees writes made through other handles, as in overlayfs.
import fs from 'node:fs';

export interface Handle {
  fd: number;
  ino: number;
  /** The backing file is in the upper dir (or the stack is read-only and nothing can move). */
  final: boolean;
}

export class HandleTable {
  private slots: (Handle | undefined)[] = [undefined]; // fh 0 means "no handle" to fuse-native
  private free: number[] = [];
  private byIno = new Map<number, Set<number>>();

  add(h: Handle): number {
    const fh = this.free.pop() ?? this.slots.length;
    this.slots[fh] = h;
    if (!h.final) {
      let set = this.byIno.get(h.ino);
      if (!set) this.byIno.set(h.ino, (set = new Set()));
      set.add(fh);
    }
    return fh;
  }

  /** Any open fd of the merged inode `ino` (slow path: only for unlinked-but-open files). */
  fdOf(ino: number): number | undefined {
    for (let fh = 1; fh < this.slots.length; fh++) {
      const h = this.slots[fh];
      if (h && h.ino === ino) return h.fd;
    }
    return undefined;
  }

  get(fh: number): Handle | undefined {
    return this.slots[fh];
  }

  remove(fh: number): Handle | undefined {
    const h = this.slots[fh];
    if (!h) return undefined;
    this.slots[fh] = undefined;
    this.free.push(fh);
    this.byIno.get(h.ino)?.delete(fh);
    return h;
  }

  /** A lower file was copied up: reopen its read-only handles on the upper copy. */
  retarget(ino: number, upperReal: string): void {
    const set = this.byIno.get(ino);
    if (!set) return;
    for (const fh of set) {
      const h = this.slots[fh]!;
      const fd = fs.openSync(upperReal, fs.constants.O_RDONLY);
      fs.closeSync(h.fd);
      h.fd = fd;
      h.final = true;
    }
    this.byIno.delete(ino);
  }

  get size(): number {
    return this.slots.length - 1 - this.free.length;
  }

  closeAll(): void {
    for (let fh = 1; fh < this.slots.length; fh++) {
      const h = this.slots[fh];
      if (h) fs.closeSync(h.fd);
    }
    this.slots = [undefined];
    this.free = [];
    this.byIno.clear();
  }
}
