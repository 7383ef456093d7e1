// The kernel transport's session fed malformed and unexpected requests directly (no kernel, no
// mount): each gets an errno reply and a log line, never a crash, and the session goes on.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../src/sys/native.js';
import { Session } from '../src/fuse/kernel/session.js';
import { KernelOps } from '../src/fuse/kernel/ops.js';
import { OP } from '../src/fuse/kernel/protocol.js';
import { Union } from '../src/union/union.js';
import { IndexDb } from '../src/index/db.js';
import { chainReader, prepareChain } from '../src/index/mount-index.js';

function request(opcode: number, nodeid: number, body: Buffer, unique = 10n, len?: number): Buffer {
  const b = Buffer.alloc(40 + body.length);
  b.writeUInt32LE(len ?? b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique, 8);
  b.writeBigUInt64LE(BigInt(nodeid), 16);
  body.copy(b, 40);
  return b;
}

t.test('bad requests get an errno each, and the session keeps answering', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-session-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(`${dir}/lower`);
  fs.writeFileSync(`${dir}/lower/file`, 'data');
  const [r, w] = native.pipe() as [number, number];
  t.teardown(() => {
    fs.closeSync(r);
    fs.closeSync(w);
  });
  const logs: string[] = [];
  const s = new Session(w, { maxWrite: 1 << 20, readdirplus: true, writebackCache: false, passthrough: false, log: (l) => logs.push(l) }, () => {});
  s.ops = new KernelOps(new Union({ lowers: [`${dir}/lower`] }), { entry: 1, attr: 1, negative: 1, keepCache: true }, s, (l) => logs.push(l));
  const reply = () => {
    const b = Buffer.alloc(4096);
    const n = fs.readSync(r, b, 0, 4096, null);
    return { len: b.readUInt32LE(0), error: b.readInt32LE(4), unique: b.readBigUInt64LE(8), n };
  };
  const E = os.constants.errno;
  s.handle(request(999, 1, Buffer.alloc(0), 11n));
  t.same(reply(), { len: 16, error: -E.ENOSYS, unique: 11n, n: 16 }, 'an unknown opcode: ENOSYS');
  s.handle(request(OP.IOCTL, 1, Buffer.alloc(32), 12n));
  t.equal(reply().error, -E.ENOTTY, 'an ioctl: ENOTTY');
  s.handle(request(OP.GETATTR, 12345, Buffer.alloc(16), 13n));
  t.equal(reply().error, -E.ENOENT, 'a node id the kernel was never given: ENOENT');
  s.handle(request(OP.READ, 1, Buffer.alloc(4), 14n));
  t.equal(reply().error, -E.EIO, 'a READ whose body is cut short: EIO');
  t.ok(
    logs.some((l) => /READ failed/.test(l)),
    'with a log line',
  );
  s.handle(request(OP.LOOKUP, 1, Buffer.from('file'), 15n));
  const ok = reply();
  t.same([ok.error, ok.unique, ok.len], [0, 15n, 16 + 128], 'a LOOKUP whose name lacks its NUL is still answered, with an entry');
  s.handle(Buffer.alloc(20));
  t.ok(true, 'a request shorter than its header is dropped without a crash');
  s.handle(request(OP.LOOKUP, 1, Buffer.from('file\0'), 16n, 9999));
  t.equal(reply().unique, 16n, 'a header that claims more bytes than came is answered from what came');
  s.handle(request(OP.FORGET, 999999, Buffer.alloc(8), 17n));
  s.handle(request(OP.GETATTR, 1, Buffer.alloc(16), 18n));
  t.equal(reply().unique, 18n, 'a FORGET of an unknown node gets no reply, and the next request is answered');
});

t.test('READDIRPLUS answers names changed since the listing was taken, with an index behind the lowers', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-session-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(`${dir}/lower/d`, { recursive: true });
  for (const x of ['upper', 'work/work']) fs.mkdirSync(`${dir}/${x}`, { recursive: true });
  const names = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}`);
  for (const n of names) fs.writeFileSync(`${dir}/lower/d/${n}`, n);
  const db = IndexDb.open(`${dir}/root`);
  t.teardown(() => db.close());
  const chain = prepareChain(db, [`${dir}/lower`]);
  const union = new Union({ lowers: [`${dir}/lower`], upper: `${dir}/upper`, work: `${dir}/work` }, chainReader(db, chain.chainId, 1));
  t.ok(union.resolver.indexed, 'the lowers are answered by the index');
  const [r, w] = native.pipe() as [number, number];
  t.teardown(() => {
    fs.closeSync(r);
    fs.closeSync(w);
  });
  const s = new Session(w, { maxWrite: 1 << 20, readdirplus: true, writebackCache: false, passthrough: false, log: () => {} }, () => {});
  const ops = new KernelOps(union, { entry: 1, attr: 1, negative: 1, keepCache: true }, s, () => {});
  s.ops = ops;
  const reply = () => {
    const b = Buffer.alloc(1 << 16);
    const n = fs.readSync(r, b, 0, b.length, null);
    return b.subarray(0, n);
  };
  s.handle(request(OP.LOOKUP, 1, Buffer.from('d\0'), 1n));
  const dirId = Number(reply().readBigUInt64LE(16));
  s.handle(request(OP.OPENDIR, dirId, Buffer.alloc(8), 2n));
  const fh = reply().readBigUInt64LE(16);
  /** One READDIRPLUS reply of at most `size` bytes from `offset`: each entry's name, node id and mode. */
  const chunk = (offset: bigint, size: number) => {
    const rd = Buffer.alloc(24);
    rd.writeBigUInt64LE(fh, 0);
    rd.writeBigUInt64LE(offset, 8);
    rd.writeUInt32LE(size, 16);
    s.handle(request(OP.READDIRPLUS, dirId, rd, 3n));
    const b = reply();
    const out: { name: string; node: bigint; mode: number; off: bigint }[] = [];
    for (let p = 16; p < b.length;) {
      const namelen = b.readUInt32LE(p + 128 + 16);
      out.push({
        node: b.readBigUInt64LE(p),
        mode: b.readUInt32LE(p + 40 + 60),
        off: b.readBigUInt64LE(p + 128 + 8),
        name: b.subarray(p + 128 + 24, p + 128 + 24 + namelen).toString(),
      });
      p += 128 + ((24 + namelen + 7) & ~7);
    }
    return out;
  };
  const first = chunk(0n, 2000);
  t.ok(first.length > 2 && first.length < 30, 'the first reply holds part of the listing');
  // Between two replies: one listed name copied up with a new mode, one removed, through the union.
  const rest = names.filter((n) => !first.some((e) => e.name === n));
  union.chmod(`/d/${rest[0]}`, 0o600);
  union.unlink(`/d/${rest[1]}`);
  const second = chunk(first[first.length - 1].off, 1 << 16);
  const byName = new Map(second.map((e) => [e.name, e]));
  t.equal(byName.get(rest[0])!.mode & 0o7777, 0o600, 'the copied-up name has its new mode');
  t.equal(byName.get(rest[1])!.node, 0n, 'the removed name has no node (a negative entry)');
  t.equal(byName.get(rest[2])!.mode & 0o7777, fs.statSync(`${dir}/lower/d/${rest[2]}`).mode & 0o7777, 'an unchanged name as the lower has it');
  t.ok(byName.get(rest[2])!.node > 0n);
});
