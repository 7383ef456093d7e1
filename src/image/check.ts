// `system check`: every blob against its digest, every layer dir against the file manifest written
// with it, and every reference between tags, images, layers and containers. What can be repaired
// without guessing is (tags of missing images, temp leftovers, layer dirs and blobs nothing refers
// to); the rest is reported for a person.
import { removeTree } from '../sys/remove-tree.js';
import fs from 'node:fs';
import path from 'node:path';
import { hexOf } from '../oci/digest.js';
import { sha256OfFile, verifyLayerFiles, type LayerDamage } from '../oci/layer-files.js';
import { noProgress, type ProgressSink } from '../sys/progress.js';
import type { Store } from '../store/store.js';

export interface CheckReport {
  repaired: string[];
  problems: string[];
  /** Layers stored before file manifests existed: their dirs could not be checked (that is not damage). */
  unverified: string[];
}

const short = (d: string) => d.slice(0, 19);
const listDir = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p) : []);

function describeDamage(d: LayerDamage): string {
  const parts = [
    ...d.changed.slice(0, 5).map((c) => `${c.path} changed (${c.what.join(', ')})`),
    ...d.missing.slice(0, 5).map((p) => `${p} missing`),
    ...d.extra.slice(0, 5).map((p) => `${p} added`),
  ];
  const n = d.changed.length + d.missing.length + d.extra.length;
  return parts.join(', ') + (n > parts.length ? `, and ${n - parts.length} more` : '');
}

/** Check the store; with `repair: false` nothing is changed, and what could have been repaired is a problem too. */
export function checkStore(s: Store, o: { repair?: boolean } = {}, sink: ProgressSink = noProgress): CheckReport {
  const r: CheckReport = { repaired: [], problems: [], unverified: [] };
  const bad = (msg: string) => r.problems.push(msg);
  const fix = (msg: string, act: () => void) => {
    if (o.repair === false) return bad(msg);
    act();
    r.repaired.push(msg);
  };
  // Blobs and layer dirs are hashed without the lock (it takes a while); the references after, under it.
  const blobDir = path.join(s.root, 'blobs/sha256');
  const corrupt = new Set<string>();
  const blobs = listDir(blobDir);
  blobs.forEach((hex, i) => {
    sink({ task: 'check', item: 'blobs', done: i, total: blobs.length, unit: 'entries' });
    const f = path.join(blobDir, hex);
    if (!fs.existsSync(f)) return; // deleted by a command running beside this one
    if (sha256OfFile(f) !== hex) {
      corrupt.add(hex);
      bad(`blob sha256:${hex} does not match its digest (damaged on disk)`);
    }
  });
  const damaged = new Map<string, string>(); // diffID -> what differs
  const layers = s.allLayers();
  layers.forEach((l, i) => {
    sink({ task: 'check', item: 'layers', done: i, total: layers.length, unit: 'layers' });
    const files = s.layerFilesPath(l.diffId);
    const dir = s.layerDir(l.diffId);
    if (!fs.existsSync(dir)) return; // reported below, with its image
    if (!fs.existsSync(files)) return void r.unverified.push(l.diffId);
    try {
      const d = verifyLayerFiles(dir, files);
      if (d) damaged.set(l.diffId, describeDamage(d));
    } catch (err) {
      if (fs.existsSync(dir)) throw err; // else removed by a command running beside this one
    }
  });
  sink({ task: 'check', done: layers.length, total: layers.length, unit: 'layers', finished: true });
  const blobOk = (d: string) => fs.existsSync(s.blobPath(d)) && !corrupt.has(hexOf(d));
  s.locked(() => {
    const usedLayers = new Set<string>();
    const usedBlobs = new Set<string>();
    for (const img of s.allImages()) {
      const name = s.tagsOf(img.id)[0] ?? short(img.id);
      usedBlobs.add(hexOf(img.id)).add(hexOf(img.manifest));
      if (!blobOk(img.id)) bad(`image ${name}: its config blob is missing or damaged`);
      if (!blobOk(img.manifest)) bad(`image ${name}: its manifest blob is missing or damaged`);
      for (const d of img.layers) {
        usedLayers.add(d);
        const l = s.layer(d);
        if (!l) {
          bad(`image ${name}: layer ${short(d)} has no record`);
          continue;
        }
        usedBlobs.add(hexOf(l.blob));
        if (!blobOk(l.blob)) bad(`image ${name}: the tar of layer ${short(d)} is missing or damaged`);
        if (!fs.existsSync(s.layerDir(d))) bad(`image ${name}: the dir of layer ${short(d)} is missing`);
        else if (damaged.has(d)) bad(`image ${name}: the dir of layer ${short(d)} differs from what was stored: ${damaged.get(d)}`);
      }
    }
    // Tags, the build cache and containers point at images.
    for (const { ref, id } of s.allTags()) if (!s.imageById(id)) fix(`tag ${ref} points at a missing image: removed`, () => s.untag(ref));
    for (const { key, live } of s.cacheEntries())
      if (!live) fix(`build cache entry ${key.slice(0, 12)} points at a missing image: removed`, () => s.forgetCache([key]));
    for (const c of s.allContainers()) {
      if (!s.imageById(c.image)) bad(`container ${c.name}: its image ${short(c.image)} is missing`);
      if (!fs.existsSync(s.containerPaths(c.id).upper)) bad(`container ${c.name}: its upper dir is missing`);
    }
    // What nothing refers to.
    for (const hex of listDir(path.join(s.root, 'layers'))) {
      if (!usedLayers.has('sha256:' + hex)) fix(`layer dir ${hex.slice(0, 12)} belongs to no image: removed`, () => s.dropUnusedLayers(['sha256:' + hex]));
    }
    for (const hex of listDir(path.join(s.root, 'layer-files'))) {
      if (!s.layer('sha256:' + hex))
        fix(`file manifest ${hex.slice(0, 12)} belongs to no layer: removed`, () => fs.rmSync(s.layerFilesPath('sha256:' + hex), { force: true }));
    }
    for (const hex of listDir(blobDir)) {
      if (usedBlobs.has(hex) || corrupt.has(hex)) continue;
      fix(`blob ${hex.slice(0, 12)} belongs to no image: removed`, () => fs.rmSync(path.join(blobDir, hex), { force: true }));
    }
    for (const n of s.staleTemps()) fix(`temp leftover ${n}: removed`, () => removeTree(path.join(s.root, 'tmp', n)));
  });
  return r;
}
