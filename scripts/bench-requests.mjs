// The per-request cost of the kernel transport in process: decoding a request, the handler (with
// the union and the path index behind it) and encoding its reply, without the /dev/fuse syscalls.
// Prints µs per request for LOOKUP, GETATTR and a READDIRPLUS of 100 entries.
//   node scripts/bench-requests.mjs   (after npm run build)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(ROOT, 'dist', p);
const { Union } = await import(dist('union/union.js'));
const { KernelOps } = await import(dist('fuse/kernel/ops.js'));
const { readHeader, writeOutHeader } = await import(dist('fuse/kernel/wire.js'));
const { OP } = await import(dist('fuse/kernel/protocol.js'));

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-reqbench-'));
for (let l = 0; l < 3; l++) {
  fs.mkdirSync(`${base}/l${l}/d`, { recursive: true });
  for (let i = 0; i < 100; i++) fs.writeFileSync(`${base}/l${l}/d/f${l}-${i}`, 'x');
}
const union = new Union({ lowers: [0, 1, 2].map((l) => `${base}/l${l}`) });
const buf = { out: Buffer.alloc(1 << 20), fd: -1, negotiated: null };
const ops = new KernelOps(union, { entry: 1e6, attr: 1e6, negative: 1e6, keepCache: true }, buf, () => {});

function request(opcode, nodeid, body) {
  const b = Buffer.alloc(40 + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(2n, 8);
  b.writeBigUInt64LE(BigInt(nodeid), 16);
  body.copy(b, 40);
  return b;
}
const run = (req, handler) => {
  const h = readHeader(req);
  const len = handler(h, req.subarray(40));
  writeOutHeader(buf.out, 16 + len, 0, h.unique);
};
function time(label, n, fn) {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  console.log(`${label}: ${us.toFixed(2)} µs per request`);
}

run(request(OP.LOOKUP, 1, Buffer.from('d\0')), (h, b) => ops.lookup(h, b));
const dirId = ops.nodes.child(1, 'd').id;
const names = Array.from({ length: 300 }, (_, i) => request(OP.LOOKUP, dirId, Buffer.from(`f${i % 3}-${Math.floor(i / 3)}\0`)));
time('LOOKUP of a lower file (3 layers, probing)', 100000, (i) => run(names[i % names.length], (h, b) => ops.lookup(h, b)));
const getattr = request(OP.GETATTR, dirId, Buffer.alloc(16));
time('GETATTR of a merged dir', 100000, () => run(getattr, (h, b) => ops.getattr(h, b)));
const neg = request(OP.LOOKUP, dirId, Buffer.from('missing\0'));
time('LOOKUP of a missing name (negative entry)', 100000, () => run(neg, (h, b) => ops.lookup(h, b)));
const open = request(OP.OPENDIR, dirId, Buffer.alloc(8));
time('OPENDIR + READDIRPLUS (300 entries, 64 KiB) + RELEASEDIR', 500, () => {
  let fh = 0;
  run(open, (h, b) => {
    const n = ops.opendir(h, b);
    fh = Number(buf.out.readBigUInt64LE(16));
    return n;
  });
  const rd = Buffer.alloc(24);
  rd.writeBigUInt64LE(BigInt(fh), 0);
  rd.writeUInt32LE(65536, 16);
  run(request(OP.READDIRPLUS, dirId, rd), (h, b) => ops.readdir(h, b, true));
  run(request(OP.RELEASEDIR, dirId, rd), (h, b) => ops.releasedir(h, b));
  for (const n of [...(ops.nodes.get(dirId).children?.values() ?? [])]) ops.nodes.forget(n, 1);
});
fs.rmSync(base, { recursive: true, force: true });
