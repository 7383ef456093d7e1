// The ecosystem's habits, enforced: eslint (typescript-eslint) and prettier (printWidth 160), both
// configured in the repo (eslint.config.js, .prettierrc.json) and run here on src, test and scripts;
// and the tests type-checked with the code (tap's loader strips their types without checking them).
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './helpers/mount.js';

const bin = (pkg: string, file: string) => path.join(ROOT, 'node_modules', pkg, file);

t.test('eslint finds no problem', (t) => {
  const r = spawnSync(process.execPath, [bin('eslint', 'bin/eslint.js'), 'src', 'test', 'scripts'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, `eslint exits 0:\n${r.stdout}${r.stderr}`);
  t.end();
});

t.test('prettier finds every file formatted', (t) => {
  const r = spawnSync(process.execPath, [bin('prettier', 'bin/prettier.cjs'), '--check', 'src', 'test', 'scripts'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, `prettier --check exits 0:\n${r.stdout}${r.stderr}`);
  t.end();
});

t.test('the tests type-check with the code they call', (t) => {
  const r = spawnSync(process.execPath, [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.test.json'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, `tsc -p tsconfig.test.json exits 0:\n${r.stdout}${r.stderr}`);
  t.end();
});
