// The node table of an inode-based transport: the kernel knows each file by a node id; this maps
// ids to nodes and nodes to the names that reach them. Every entry reply counts one lookup and a
// FORGET gives it back; a node with no lookups left is dropped, so the table stays as small as
// the kernel's own inode cache. All names of one upper file (hard links) are one node, keyed by
// the backing file, so the kernel has one inode and one page cache for them and long cache
// timeouts are safe. Lower hard links stay separate nodes: overlayfs (without index=on) splits
// them at copy-up. A rename moves a link; nothing is resolved again. Ids are never reused, so
// every generation is 0.

export const ROOT_NODE = 1;

export interface Link {
  parent: number;
  name: string;
}

export class FsNode {
  nlookup = 0;
  /** The name that gives its path (parent 0: none left, unlinked but maybe still open). */
  parent = 0;
  name = '';
  /** Other names of a hard-linked file (rare, so not an array on every node). */
  more: Link[] | null = null;
  /** For a directory: names looked up in it, to their nodes. */
  children: Map<string, number> | null = null;
  /** The backing file of an upper non-directory ("dev:ino"), which hard links share. */
  key: string | null = null;
  /** Its inode number in the merged view (st_ino), for reaching an unlinked file's open handles. */
  ino = 0;
  /** Its file type (the S_IFMT bits of its mode), which never changes. */
  fmt = 0;
  /** Its size at its last entry reply: for a lower file (no key) its size for good, as lowers never change. */
  size = 0;
  /**
   * A file this mount created and nobody has set an xattr on since, so it has no
   * security.capability: the kernel asks for that before every write and chown, and the answer
   * needs no syscall.
   */
  noCaps = false;
  constructor(readonly id: number) {}
}

export class NodeTable {
  private nodes = new Map<number, FsNode>();
  private byKey = new Map<string, FsNode>();
  private next = ROOT_NODE + 1;
  readonly root: FsNode;

  constructor() {
    this.root = new FsNode(ROOT_NODE);
    this.root.children = new Map();
    this.root.nlookup = 1; // the kernel never forgets the root
    this.nodes.set(ROOT_NODE, this.root);
  }

  get size(): number {
    return this.nodes.size;
  }

  get(id: number): FsNode | undefined {
    return this.nodes.get(id);
  }

  /** The merged path of a node ('/' for the root), or null once every name of it is gone. */
  pathOf(id: number): string | null {
    if (id === ROOT_NODE) return '/';
    let n = this.nodes.get(id);
    const parts: string[] = [];
    for (let depth = 0; n && n.id !== ROOT_NODE; depth++) {
      if (n.parent === 0 || depth > 4096) return null;
      parts.push(n.name);
      n = this.nodes.get(n.parent);
    }
    if (!n) return null;
    let p = '';
    for (let i = parts.length - 1; i >= 0; i--) p += '/' + parts[i];
    return p;
  }

  /** The node a parent's name is known as, if the kernel has it. */
  child(parent: number, name: string): FsNode | undefined {
    const id = this.nodes.get(parent)?.children?.get(name);
    return id === undefined ? undefined : this.nodes.get(id);
  }

  /**
   * The node for `name` in `parent` (made if new), counted as looked up once more. `key` is the
   * backing file of an upper non-dir: a name whose file already has a node joins it (a hard link).
   */
  lookedUp(parent: number, name: string, o: { key: string | null; dir: boolean; ino: number; fmt?: number; size?: number }): FsNode {
    let n = this.child(parent, name);
    if (!n && o.key) {
      n = this.byKey.get(o.key);
      if (n) this.addLink(n, parent, name);
    }
    if (!n) {
      n = new FsNode(this.next++);
      if (o.dir) n.children = new Map();
      this.nodes.set(n.id, n);
      this.addLink(n, parent, name);
    }
    if (o.key && n.key !== o.key) {
      this.setKey(n, o.key);
      n.noCaps = false; // another file than the one this node was made for
    }
    n.ino = o.ino;
    if (o.fmt !== undefined) n.fmt = o.fmt;
    if (o.size !== undefined) n.size = o.size;
    n.nlookup++;
    return n;
  }

  /** The kernel dropped `count` lookups of a node: at zero it is forgotten. */
  forget(id: number, count: number): void {
    const n = this.nodes.get(id);
    if (!n || id === ROOT_NODE) return;
    n.nlookup -= count;
    if (n.nlookup > 0) return;
    for (const l of [...(n.more ?? []), ...(n.parent ? [{ parent: n.parent, name: n.name }] : [])]) this.dropLink(n, l.parent, l.name);
    if (n.key) this.byKey.delete(n.key);
    this.nodes.delete(id);
  }

  /** A name was removed (unlink, rmdir). */
  unlinked(parent: number, name: string): void {
    const n = this.child(parent, name);
    if (n) this.dropLink(n, parent, name);
  }

  /** A rename: the node at the old name now has the new one; whatever the new name held loses it. */
  renamed(parent: number, name: string, newParent: number, newName: string): void {
    const n = this.child(parent, name);
    this.unlinked(newParent, newName);
    if (!n) return;
    this.dropLink(n, parent, name);
    this.addLink(n, newParent, newName);
  }

  /** RENAME_EXCHANGE: the two names swap their nodes. */
  exchanged(parent: number, name: string, newParent: number, newName: string): void {
    const a = this.child(parent, name);
    const b = this.child(newParent, newName);
    if (a) this.dropLink(a, parent, name);
    if (b) this.dropLink(b, newParent, newName);
    if (a) this.addLink(a, newParent, newName);
    if (b) this.addLink(b, parent, name);
  }

  /** A node's backing file became this upper file (after copy-up, or a hard link made to it). */
  setKey(n: FsNode, key: string): void {
    if (n.key) this.byKey.delete(n.key);
    n.key = key;
    this.byKey.set(key, n);
  }

  private addLink(n: FsNode, parent: number, name: string): void {
    if (n.parent === 0) {
      n.parent = parent;
      n.name = name;
    } else (n.more ??= []).push({ parent, name });
    this.nodes.get(parent)?.children?.set(name, n.id);
  }

  private dropLink(n: FsNode, parent: number, name: string): void {
    if (n.parent === parent && n.name === name) {
      // Another name, if any, now gives the path.
      const next = n.more?.shift();
      n.parent = next?.parent ?? 0;
      n.name = next?.name ?? '';
      if (n.more?.length === 0) n.more = null;
    } else if (n.more) {
      const i = n.more.findIndex((l) => l.parent === parent && l.name === name);
      if (i >= 0) n.more.splice(i, 1);
      if (n.more.length === 0) n.more = null;
    }
    const p = this.nodes.get(parent);
    if (p?.children?.get(name) === n.id) p.children.delete(name);
  }
}
