// A tree (an upper dir at commit, a dir at import) as a stored layer in one pass: each file is
// read once, into one reused buffer, and its bytes go to the hash, to the tar blob and to the
// layer dir's copy. Plain synchronous calls: no stream objects per entry, no garbage per chunk.
// The layer dir is built by the same LayerBuilder that applies tars, so it is exactly what the
// blob applies to.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { native, SYNC_FILE_RANGE_WRITE } from '../sys/native.js';
import { LayerBuilder, writeAll } from './layer-builder.js';
import { encodeHeader, padding, trailer } from './tar-header.js';
import { treeEntries, type TreeOptions } from './tree-entries.js';

export interface LayerWritten {
  digest: string;
  size: number; // bytes of the tar
  entries: number;
  /** sha256 of each regular file of the layer dir, by inode (for its file manifest). */
  hashes: Map<number, string>;
}

/** Hears how far a layer's writing has got: entries and tar bytes so far. */
export type LayerProgress = (entries: number, bytes: number) => void;

const CHUNK = 1 << 20;
/** Start the blob's writeback every this many bytes, so the disk works while we read and the final fsync is short. */
const WRITEBACK = 32 << 20;
const ZEROS = Buffer.alloc(CHUNK);

/** Write `root` as the tar `blobPath` (created, fsynced) and as the layer dir `dirPath` (empty). */
export function writeLayerFromTree(root: string, o: TreeOptions, blobPath: string, dirPath: string, progress?: LayerProgress): LayerWritten {
  const hash = crypto.createHash('sha256');
  const blob = fs.openSync(blobPath, 'wx', 0o644);
  const b = new LayerBuilder(dirPath);
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  let flushed = 0;
  const out = (data: Buffer) => {
    hash.update(data);
    writeAll(blob, data);
    size += data.length;
    if (size - flushed >= WRITEBACK) {
      native.syncFileRange(blob, flushed, size - flushed, SYNC_FILE_RANGE_WRITE);
      flushed = size;
    }
  };
  try {
    for (const { h, src } of treeEntries(root, o)) {
      out(encodeHeader(h));
      const fd = b.entry(h);
      progress?.(b.entries, size);
      if (src === undefined || fd < 0) continue;
      const want = h.size ?? 0;
      const sfd = fs.openSync(src, 'r');
      try {
        let done = 0;
        while (done < want) {
          const n = fs.readSync(sfd, buf, 0, Math.min(CHUNK, want - done), done);
          // A file cut shorter while it is committed keeps the size it had when listed, padded
          // with zeros, in the tar and in the layer dir alike (bytes added after that are left out).
          const chunk = n > 0 ? buf.subarray(0, n) : ZEROS.subarray(0, Math.min(CHUNK, want - done));
          out(chunk);
          b.write(chunk);
          done += chunk.length;
        }
      } finally {
        fs.closeSync(sfd);
      }
      out(ZEROS.subarray(0, padding(want)));
      b.endFile();
    }
    out(trailer());
    b.finish();
    fs.fsyncSync(blob);
  } catch (err) {
    b.abort();
    throw err;
  } finally {
    fs.closeSync(blob);
  }
  return { digest: 'sha256:' + hash.digest('hex'), size, entries: b.entries, hashes: b.hashes };
}
