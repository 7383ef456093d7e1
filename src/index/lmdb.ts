// lmdb-js, loaded through require: its CommonJS build loads faster than its ES module graph
// (about 20 ms less here), and every mount daemon pays that at start-up.
import { createRequire } from 'node:module';

export type { Database, RootDatabase } from 'lmdb';
export const { open } = createRequire(import.meta.url)('lmdb') as typeof import('lmdb');
