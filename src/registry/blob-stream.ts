// A blob from a registry as one stream, checked while it flows: its bytes hash to its digest and
// number its size, or the stream fails with a 'damaged' error (a corrupt or hostile answer is never
// stored). A connection lost midway is resumed with a Range request from the last byte received,
// a few times, before the stream fails.
import crypto from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { StrataError } from '../sys/errors.js';
import { sleep } from './http.js';
import type { Registry } from './client.js';

export interface BlobRef {
  repo: string;
  digest: string;
  size: number;
}

const RESUMES = 5;

/** The blob's bytes; `onBytes` hears of each chunk (progress), `onResume` of each resumption. */
export function blobStream(reg: Registry, b: BlobRef, onBytes?: (n: number) => void, onResume?: (at: number) => void): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const hash = crypto.createHash('sha256');
  let got = 0;
  const fail = (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err)));
  (async () => {
    for (let resumes = 0; ; resumes++) {
      let res: Readable;
      try {
        res = await reg.blob(b.repo, b.digest, got);
      } catch (err) {
        if (resumes < RESUMES && got > 0 && isNetwork(err)) {
          await sleep(200 * 2 ** resumes);
          continue;
        }
        return fail(err);
      }
      const ended = await new Promise<boolean>((resolve) => {
        res.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got > b.size) {
            res.destroy();
            fail(new StrataError('damaged', `blob ${b.digest.slice(0, 19)}… from ${reg.o.host} is longer than the ${b.size} bytes its manifest says`));
            return resolve(true);
          }
          hash.update(chunk);
          onBytes?.(chunk.length);
          if (!out.write(chunk)) {
            res.pause();
            out.once('drain', () => res.resume());
          }
        });
        res.on('end', () => resolve(true));
        res.on('error', () => resolve(false));
        res.on('aborted', () => resolve(false));
        out.on('close', () => {
          res.destroy();
          resolve(true);
        });
      });
      if (out.destroyed) return;
      if (!ended || got < b.size) {
        if (resumes >= RESUMES)
          return fail(new StrataError('failed', `the download of blob ${b.digest.slice(0, 19)}… from ${reg.o.host} broke off ${RESUMES + 1} times`));
        onResume?.(got);
        await sleep(200 * 2 ** resumes);
        continue;
      }
      const digest = 'sha256:' + hash.digest('hex');
      if (digest !== b.digest)
        return fail(
          new StrataError('damaged', `blob ${b.digest.slice(0, 19)}… from ${reg.o.host} does not match its digest (its bytes hash to ${digest.slice(0, 19)}…)`),
        );
      out.end();
      return;
    }
  })().catch(fail);
  return out;
}

function isNetwork(err: unknown): boolean {
  const m = (err as Error)?.message ?? '';
  return /connection|reach|socket|ECONN/.test(m);
}
