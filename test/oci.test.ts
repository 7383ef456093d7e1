// OCI layer tars without FUSE: an upper dir written as a changeset and applied back gives the same
// overlay-format dir; tars that try to escape the root, or are cut short, are refused cleanly.
import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { applyLayer, cleanName, LayerError } from '../src/oci/tar-apply.js';
import { writeTree } from '../src/oci/tar-write.js';
import { buildFixture } from './helpers/fixture.js';
import { tmpdir } from './helpers/mount.js';
import { snapshot } from './helpers/tree.js';

/** A tar made by tar-stream from a list of entries (name, type, data, linkname). */
function makeTar(entries: { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; data?: string; linkname?: string }[]): Readable {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 }, e.data ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

async function rejects(t: { ok: (v: unknown, m: string) => void; match: (a: string, b: RegExp, m: string) => void; fail: (m: string) => void }, p: Promise<unknown>, re: RegExp, what: string) {
  try {
    await p;
    t.fail(`${what}: accepted`);
  } catch (err) {
    t.ok(err instanceof LayerError, `${what}: a LayerError`);
    t.match((err as Error).message, re, `${what}: ${(err as Error).message}`);
  }
}

t.test('an upper dir round-trips through an OCI changeset', async (t) => {
  const base = tmpdir(t, 'strata-oci-');
  const fx = buildFixture(base + '/fx');
  const tarFile = base + '/layer.tar';
  const pack = tar.pack();
  const out = fs.createWriteStream(tarFile);
  const done = new Promise((r) => out.on('finish', r));
  (pack as unknown as Readable).pipe(out);
  await writeTree(fx.upper, pack, { overlay: true });
  await done;
  const names = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).split('\n');
  t.ok(names.includes('.wh.hidden_by_upper'), 'a whiteout becomes a .wh. entry');
  t.ok(names.includes('uopq/.wh..wh..opq'), 'an opaque dir gets .wh..wh..opq');
  t.ok(names.indexOf('.wh.hidden_by_upper') < names.indexOf('mergedir/'), 'whiteouts come before their siblings');
  const back = base + '/back';
  fs.mkdirSync(back);
  await applyLayer(fs.createReadStream(tarFile), back);
  const keep = { keepXattr: (n: string) => n.startsWith('user.') || n === 'trusted.overlay.opaque', looseDirs: true };
  t.same(snapshot(back, keep), snapshot(fx.upper, keep), 'applied back, it is the same overlay-format dir (whiteouts, opaque marks, modes, owners, xattrs)');
});

t.test('tars that escape the root are refused, and write nothing outside', async (t) => {
  const base = tmpdir(t, 'strata-oci-bad-');
  const mk = () => fs.mkdtempSync(base + '/l-');
  t.throws(() => cleanName('a/../../x'), LayerError);
  t.equal(cleanName('./a//b/'), 'a/b', 'names are cleaned');
  await rejects(t, applyLayer(makeTar([{ name: '../outside', data: 'x' }]), mk()), /escapes the root/, '../ in a name');
  await rejects(t, applyLayer(makeTar([{ name: 'a/../../outside', data: 'x' }]), mk()), /escapes the root/, '.. deeper in a name');
  await rejects(t, applyLayer(makeTar([{ name: 'ln', type: 'symlink', linkname: base }, { name: 'ln/evil', data: 'x' }]), mk()), /not a directory/, 'writing through a symlink');
  await rejects(t, applyLayer(makeTar([{ name: 'hl', type: 'link', linkname: '../../etc/passwd' }]), mk()), /escapes the root/, 'a hard link outside');
  await rejects(t, applyLayer(makeTar([{ name: 'hl', type: 'link', linkname: 'nothere' }]), mk()), /not a file of this layer/, 'a hard link to nothing');
  await rejects(t, applyLayer(makeTar([{ name: 'd/.wh.' }]), mk()), /whiteout without a name/, 'a .wh. entry without a name');
  t.notOk(fs.existsSync(base + '/outside') || fs.existsSync(base + '/evil'), 'nothing was written outside the layer dir');
  const abs = mk();
  await applyLayer(makeTar([{ name: '/etc/abs', data: 'inside' }]), abs);
  t.equal(fs.readFileSync(abs + '/etc/abs', 'utf8'), 'inside', 'an absolute name lands inside the layer dir');
  // A truncated tar: the first 700 bytes of a tar holding a 2 KiB file.
  const good = base + '/good.tar';
  const full = base + '/src';
  fs.mkdirSync(full);
  fs.writeFileSync(full + '/big', Buffer.alloc(2048, 1));
  execFileSync('tar', ['-cf', good, '-C', full, '.']);
  const cut = fs.readFileSync(good).subarray(0, 700);
  await rejects(t, applyLayer(Readable.from([cut]), mk()), /corrupt|unexpected end/i, 'a truncated tar');
  await rejects(t, applyLayer(Readable.from([Buffer.alloc(1024, 0x41)]), mk()), /corrupt/, 'a file that is not a tar');
});
