// import: a root filesystem (a tar, plain or gzip, or a dir) as a one-layer image.
import fs from 'node:fs';
import { refuse } from '../sys/errors.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import { parseRef, type ImageRecord, type LayerRecord, type Store } from '../store/store.js';
import { newConfig } from '../oci/image.js';
import { openTar } from '../oci/tar-apply.js';
import { applyChanges } from '../oci/changes.js';

export interface ImportOptions {
  tag?: string;
  message?: string;
  /** Dockerfile instructions for the config (CMD, ENTRYPOINT, ENV, WORKDIR, USER). */
  change?: string[];
}

/** Progress: a tar by the bytes of the file read ('import', total its size); a dir by entries written. */
export async function importImage(s: Store, src: string, o: ImportOptions = {}, sink: ProgressSink = noProgress): Promise<ImageRecord> {
  const tag = o.tag ? parseRef(o.tag) : undefined;
  const st = fs.statSync(src, { throwIfNoEntry: false }) ?? refuse('not-found', `${src} does not exist`);
  // The config (and -c) is made before the long work.
  const config = newConfig();
  config.config = applyChanges(config.config, o.change ?? []);
  config.history = [{ created: config.created, created_by: `strata import ${src}`, ...(o.message ? { comment: o.message } : {}) }];
  const record = (layer: LayerRecord) => {
    config.rootfs.diff_ids = [layer.diffId];
    return s.addImage(config, tag);
  };
  if (st.isDirectory()) {
    let count = 0;
    let last = 0;
    const img = s.addLayerFromTree(src, {}, record, (entries) => {
      count = entries;
      if (count - last >= 100) sink({ task: 'import', item: src, done: (last = count), unit: 'entries' });
    });
    sink({ task: 'import', item: src, done: count, total: count, unit: 'entries', finished: true });
    return img;
  }
  let done = 0;
  const img = await s.addLayer(
    openTar(src, (n) => sink({ task: 'import', item: src, done: (done += n), total: st.size, unit: 'bytes' })),
    record,
  );
  sink({ task: 'import', item: src, done, total: st.size, unit: 'bytes', finished: true });
  return img;
}
