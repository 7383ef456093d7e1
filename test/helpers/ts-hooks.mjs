// Module hooks for test/helpers/ts-register.mjs: `./x.js` imports that name a `./x.ts` source (as
// NodeNext TypeScript writes them) resolve to it, and .ts files load with their types stripped.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const TS = /\.m?ts$/;

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.{1,2}\/.*\.[cm]?js$/.test(specifier) || !TS.test(context.parentURL ?? '')) throw e;
    return next(specifier.replace(/js$/, 'ts'), context);
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !TS.test(url)) return next(url, context);
  const file = fileURLToPath(url);
  const { code } = transformSync(readFileSync(file, 'utf8'), { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcefile: file });
  return { format: 'module', source: code, shortCircuit: true };
}
