// The ecosystem's habits, enforced: eslint (typescript-eslint) and prettier (printWidth 160), both
// configured in the repo (eslint.config.js, .prettierrc.json) and run here on src, test and scripts;
// and the tests type-checked with the code (tap's loader strips their types without checking them).
import t from 'tap';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from './helpers/mount.js';

const bin = (pkg: string, file: string) => path.join(ROOT, 'node_modules', pkg, file);

/**
 * Run a tool and collect its exit status and output. The three checks are independent, single-threaded
 * and together take most of a minute: they start at once, and each subtest waits for its own.
 */
const run = (args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const c = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
const eslint = run([bin('eslint', 'bin/eslint.js'), 'src', 'test', 'scripts']);
const prettier = run([bin('prettier', 'bin/prettier.cjs'), '--check', 'src', 'test', 'scripts']);
const tsc = run([bin('typescript', 'bin/tsc'), '-p', 'tsconfig.test.json']);

t.test('eslint finds no problem', async (t) => {
  const r = await eslint;
  t.equal(r.status, 0, `eslint exits 0:\n${r.stdout}${r.stderr}`);
});

t.test('prettier finds every file formatted', async (t) => {
  const r = await prettier;
  t.equal(r.status, 0, `prettier --check exits 0:\n${r.stdout}${r.stderr}`);
});

t.test('the tests type-check with the code they call', async (t) => {
  const r = await tsc;
  t.equal(r.status, 0, `tsc -p tsconfig.test.json exits 0:\n${r.stdout}${r.stderr}`);
});
