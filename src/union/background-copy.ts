// Data copies of big files for copy-up, made ahead in a worker thread (see copy-worker.ts): the
// request that needs the copy waits for it, every other request goes on being served.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { E, FsError } from '../sys/errors.js';
import type { CopyJob } from './copy-worker.js';
import type { CopyUpSync } from './copy-up-sync.js';
import type { CopyUpMethod } from './stats.js';
import type { copyData } from './copy-data.js';

const O = fs.constants;

/** A lower file's data, copied to a work-dir file that copy-up renames into place. */
export interface PreparedData {
  tmp: string;
  srcReal: string;
  size: number;
  mtimeNsec: number;
  mtimeSec: number;
  /** How the data was copied, and how long it took (ms). */
  method: CopyUpMethod;
  ms: number;
}

type DataMethod = ReturnType<typeof copyData>;

export class BackgroundCopier {
  private worker: Worker | null = null;
  private seq = 0;
  private waiting = new Map<number, (errno: number | null, method?: DataMethod) => void>();

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./copy-worker.js', import.meta.url));
    w.unref(); // an idle worker must not keep the daemon alive
    w.on('message', (m: { id: number; errno: number | null; method?: DataMethod }) => {
      const done = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      done?.(m.errno, m.method);
      if (this.waiting.size === 0) w.unref();
    });
    w.on('error', (err) => {
      for (const done of this.waiting.values()) done(E.EIO);
      this.waiting.clear();
      this.worker = null;
      process.stderr.write(`strata: the copy-up worker failed: ${err.message}\n`);
    });
    this.worker = w;
    return w;
  }

  /** Copy `size` bytes of `srcReal` into a new file `tmp`; resolves, with how, once they are on disk. */
  copy(srcReal: string, tmp: string, size: number, sync: CopyUpSync): Promise<DataMethod> {
    const srcFd = fs.openSync(srcReal, O.O_RDONLY | O.O_NOATIME);
    let dstFd: number;
    try {
      dstFd = fs.openSync(tmp, O.O_WRONLY | O.O_CREAT | O.O_EXCL, 0o600);
    } catch (err) {
      fs.closeSync(srcFd);
      throw err;
    }
    const w = this.start();
    w.ref();
    const id = ++this.seq;
    return new Promise<DataMethod>((resolve, reject) => {
      this.waiting.set(id, (errno, method) => {
        fs.closeSync(srcFd);
        fs.closeSync(dstFd);
        if (errno === null) return resolve(method ?? 'copy_file_range');
        fs.rmSync(tmp, { force: true });
        reject(new FsError(errno));
      });
      w.postMessage({ id, srcFd, dstFd, size, sync } satisfies CopyJob);
    });
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
  }
}
