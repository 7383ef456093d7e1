// A worker thread that copies file data for copy-ups ahead of time, so a big copy never holds up
// the thread that answers requests. It gets fds (shared by every thread of the process) and
// answers with null or the errno that stopped it.
import { parentPort } from 'node:worker_threads';
import { copyData } from './copy-data.js';
import { toErrno } from '../sys/errors.js';
import { syncCopiedData, type CopyUpSync } from './copy-up-sync.js';

export interface CopyJob {
  id: number;
  srcFd: number;
  dstFd: number;
  size: number;
  sync: CopyUpSync;
}

parentPort?.on('message', (job: CopyJob) => {
  let errno: number | null = null;
  let method: ReturnType<typeof copyData> | undefined;
  try {
    method = copyData(job.srcFd, job.dstFd, job.size);
    syncCopiedData(job.dstFd, job.size, job.sync); // published by a rename, which must never expose data not on disk
  } catch (err) {
    errno = toErrno(err);
  }
  parentPort!.postMessage({ id: job.id, errno, method });
});
