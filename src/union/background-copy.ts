// Data copies of big files for copy-up, made ahead in a worker thread (see copy-worker.ts): the
// request that needs the copy waits for it, every other request goes on being served.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { E, FsError } from '../sys/errors.js';
import type { CopyJob } from './copy-worker.js';
import type { CopyUpSync } from './copy-up-sync.js';

const O = fs.constants;

/** A lower file's data, copied to a work-dir file that copy-up renames into place. */
export interface PreparedData {
  tmp: string;
  srcReal: string;
  size: number;
  mtimeNsec: number;
  mtimeSec: number;
}

export class BackgroundCopier {
  private worker: Worker | null = null;
  private seq = 0;
  private waiting = new Map<number, (errno: number | null) => void>();

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./copy-worker.js', import.meta.url));
    w.unref(); // an idle worker must not keep the daemon alive
    w.on('message', (m: { id: number; errno: number | null }) => {
      const done = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      done?.(m.errno);
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

  /** Copy `size` bytes of `srcReal` into a new file `tmp`; resolves once they are on disk. */
  copy(srcReal: string, tmp: string, size: number, sync: CopyUpSync): Promise<void> {
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
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, (errno) => {
        fs.closeSync(srcFd);
        fs.closeSync(dstFd);
        if (errno === null) return resolve();
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
