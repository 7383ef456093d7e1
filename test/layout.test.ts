// The module map of DESIGN.md, checked: no import cycles (dpdm), imports only downwards between
// the folders of src/, and a CLI that only parses, calls and prints (short files, no LMDB).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './helpers/mount.js';

const SRC = path.join(ROOT, 'src');

/** What each folder of src/ may import, besides itself (top-level files such as demo.ts may import anything). */
const MAY_IMPORT: Record<string, string[]> = {
  sys: [],
  index: ['sys'],
  oci: ['sys'],
  union: ['sys', 'index'],
  store: ['sys', 'oci'],
  image: ['sys', 'oci', 'store'],
  registry: ['sys', 'oci', 'store', 'image'],
  fuse: ['sys', 'union', 'index'],
  container: ['sys', 'oci', 'store', 'image', 'union', 'index', 'fuse'],
  build: ['sys', 'oci', 'store', 'image', 'container', 'union'],
  cli: ['sys', 'oci', 'store', 'image', 'registry', 'container', 'build', 'union', 'index', 'fuse'],
  types: [],
};

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

const imports = (file: string) =>
  [...fs.readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => path.resolve(path.dirname(file), m[1]));
const folderOf = (abs: string) => path.relative(SRC, abs).split(path.sep)[0];

t.test('no import cycles', (t) => {
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/dpdm/lib/bin/dpdm.js'), '--no-warning', '--no-tree', '--exit-code', 'circular:1', 'src/**/*.ts'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  t.equal(r.status, 0, `dpdm finds no circular import:\n${r.stdout}${r.stderr}`);
  t.match(r.stdout, /no circular dependency/, 'and says so');
  t.end();
});

t.test('folders import only what lies below them', (t) => {
  const wrong: string[] = [];
  for (const f of files(SRC)) {
    const from = folderOf(f);
    const allowed = MAY_IMPORT[from];
    if (!allowed) continue; // a top-level file (demo.ts)
    for (const target of imports(f)) {
      const to = folderOf(target);
      if (to !== from && !allowed.includes(to)) wrong.push(`${path.relative(SRC, f)} imports ${path.relative(SRC, target)}`);
    }
  }
  t.same(wrong, [], 'every import goes down the map');
  t.end();
});

t.test('the CLI only parses, calls services and prints', (t) => {
  const cli = files(path.join(SRC, 'cli'));
  const long = cli.map((f) => ({ f: path.relative(SRC, f), n: fs.readFileSync(f, 'utf8').split('\n').length })).filter((x) => x.n > 200);
  t.same(long, [], 'no cli file is over 200 lines');
  const lmdb = cli.filter((f) => /from '(lmdb|\.\.\/sys\/lmdb\.js)'|\.(getRange|putSync|removeSync|transactionSync)\(/.test(fs.readFileSync(f, 'utf8')));
  t.same(
    lmdb.map((f) => path.relative(SRC, f)),
    [],
    'no cli file touches LMDB',
  );
  const exits = cli.filter((f) => !/fatal\.ts$/.test(f) && /process\.exit\(/.test(fs.readFileSync(f, 'utf8')));
  t.ok(
    exits.length <= 2,
    `process.exit only in fatal.ts and where a command passes on its child's exit status (${exits.map((f) => path.basename(f)).join(', ')})`,
  );
  t.end();
});
