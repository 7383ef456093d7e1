// The tests' TypeScript loader (named in .taprc's node-arg): esbuild strips the types of each test
// file and of the src/ modules it imports, as ts-node did in transpile-only mode but ~3 s sooner
// per test file (ts-node loads the whole TypeScript compiler into every test process). Types are
// still checked, all at once, by test/style.test.ts (tsc -p tsconfig.test.json).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
