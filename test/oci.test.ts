// OCI layer tars without FUSE: an upper dir written as a changeset and applied back gives the same
// overlay-format dir; tars that try to escape the root, or are cut short, are refused cleanly.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { applyLayer, cleanName, LayerError } from '../src/oci/tar-apply.js';
import { writeTree } from '../src/oci/tar-write.js';
import { writeLayerFromTree } from '../src/oci/layer-from-tree.js';
import { buildFixture } from './helpers/fixture.js';
import { tmpdir } from './helpers/mount.js';
import { snapshot } from './helpers/tree.js';

/** A tar made by tar-stream from a list of entries (name, type, data, linkname). */
function makeTar(entries: { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; data?: string; linkname?: string }[]): Readable {
  const pack = tar.pack();
  for (const e of entries)
    pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 }, e.data ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

async function rejects(
  t: { ok: (v: unknown, m: string) => void; match: (a: string, b: RegExp, m: string) => void; fail: (m: string) => void },
  p: Promise<unknown>,
  re: RegExp,
  what: string,
) {
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
  const done = new Promise<void>((r) => out.on('finish', () => r()));
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
  await rejects(
    t,
    applyLayer(
      makeTar([
        { name: 'ln', type: 'symlink', linkname: base },
        { name: 'ln/evil', data: 'x' },
      ]),
      mk(),
    ),
    /not a directory/,
    'writing through a symlink',
  );
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

t.test('commit writes the tar and the layer dir in one pass, and they agree', async (t) => {
  const base = tmpdir(t, 'strata-oci-pass-');
  const fx = buildFixture(base + '/fx');
  const blob = base + '/layer.tar';
  const dir = base + '/layer';
  fs.mkdirSync(dir);
  const w = writeLayerFromTree(fx.upper, { overlay: true }, blob, dir);
  const bytes = fs.readFileSync(blob);
  t.equal(w.size, bytes.length, "the size is the tar's");
  t.equal(w.digest, 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex'), "the digest is the tar's sha256");
  const names = execFileSync('tar', ['-tf', blob], { encoding: 'utf8' }).split('\n');
  t.ok(names.includes('.wh.hidden_by_upper') && names.includes('uopq/.wh..wh..opq'), 'GNU tar reads it: whiteouts and opaque markers as entries');
  const keep = { keepXattr: (n: string) => n.startsWith('user.') || n === 'trusted.overlay.opaque', looseDirs: true };
  t.same(snapshot(dir, keep), snapshot(fx.upper, keep), 'the layer dir is the upper dir, in the overlay format');
  const back = base + '/back';
  fs.mkdirSync(back);
  await applyLayer(fs.createReadStream(blob), back);
  t.same(snapshot(back, keep), snapshot(dir, keep), 'and exactly what the tar applies to');
  const again = writeLayerFromTree(fx.upper, { overlay: true }, base + '/again.tar', fs.mkdtempSync(base + '/l-'));
  t.equal(again.digest, w.digest, 'the same tree gives the same digest');
});

t.test('tar headers: long names, long link targets, big ids and xattrs, as GNU tar reads them', async (t) => {
  const base = tmpdir(t, 'strata-oci-hdr-');
  const src = base + '/src';
  const deep = `${src}/${'d'.repeat(60)}/${'e'.repeat(60)}`;
  fs.mkdirSync(deep, { recursive: true });
  const mid = `${deep}/${'m'.repeat(40)}`; // 163 bytes: ustar's prefix + name
  const long = `${deep}/${'l'.repeat(200)}`; // 323 bytes: pax path
  fs.writeFileSync(mid, 'mid');
  fs.writeFileSync(long, 'long');
  fs.symlinkSync('t'.repeat(180), `${src}/link`); // pax linkpath
  fs.writeFileSync(`${src}/owned`, 'x');
  fs.lchownSync(`${src}/owned`, 3_000_000, 4_000_000); // beyond ustar's 7 octal digits
  fs.writeFileSync(`${src}/utf8-é`, 'é');
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', `${src}/owned`]);
  const blob = base + '/t.tar';
  const dir = base + '/layer';
  fs.mkdirSync(dir);
  writeLayerFromTree(src, {}, blob, dir);
  const listing = execFileSync('tar', ['--numeric-owner', '-tvf', blob], { encoding: 'utf8' });
  const rel = (p: string) => p.slice(src.length + 1);
  t.match(listing, rel(mid), 'a 163-byte name (ustar prefix)');
  t.match(listing, rel(long), 'a 323-byte name (pax path)');
  t.match(listing, `link -> ${'t'.repeat(180)}`, 'a 180-byte link target (pax linkpath)');
  t.match(listing, /3000000\/4000000 .* owned/, 'owner ids beyond ustar (pax uid, gid)');
  t.match(listing, 'utf8-é', 'a UTF-8 name');
  const out = base + '/gnu';
  fs.mkdirSync(out);
  execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '--numeric-owner', '-xf', blob, '-C', out]);
  t.same(snapshot(out), snapshot(src), 'GNU tar extracts the same tree (contents, modes, owners, times, xattrs)');
  t.same(snapshot(dir), snapshot(src), 'and so did the one pass');
});
