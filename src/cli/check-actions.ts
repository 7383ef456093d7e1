// `strata system check`: verify every blob against its digest and every reference between
// tags, images, layers and containers; repair what can be repaired without guessing (drop tags of
// missing images, temp leftovers, layer dirs and blobs nothing refers to) and report the rest.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { withStore } from './image-actions.js';
import { fatal } from './fatal.js';
import { hexOf } from '../oci/digest.js';

function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

export function check(o: { repair?: boolean }): Promise<void> {
  let unrepaired = 0;
  return withStore((s) => {
    const problems: string[] = [];
    const repaired: string[] = [];
    const bad = (msg: string) => {
      problems.push(msg);
      unrepaired++;
    };
    const fix = (msg: string, act: () => void) => {
      if (o.repair === false) return bad(msg);
      act();
      repaired.push(msg);
    };
    // Blobs: each must hash to its name.
    const blobDir = path.join(s.root, 'blobs/sha256');
    const corrupt = new Set<string>();
    for (const hex of fs.readdirSync(blobDir)) {
      if (!fs.existsSync(path.join(blobDir, hex))) continue; // deleted by a command running beside this one
      if (sha256File(path.join(blobDir, hex)) !== hex) {
        corrupt.add(hex);
        bad(`blob sha256:${hex} does not match its digest (damaged on disk)`);
      }
    }
    const blobOk = (d: string) => fs.existsSync(s.blobPath(d)) && !corrupt.has(hexOf(d));
    // The references are followed under the store's lock, so that a commit or an rmi running
    // beside this check is seen whole or not at all (hashing the blobs above needs no lock).
    s.locked(() => {
      // Images and their layers.
      const images = s.allImages();
      const usedLayers = new Set<string>();
      const usedBlobs = new Set<string>();
      for (const img of images) {
        const name = s.tagsOf(img.id)[0] ?? img.id.slice(0, 19);
        usedBlobs.add(hexOf(img.id)).add(hexOf(img.manifest));
        if (!blobOk(img.id)) bad(`image ${name}: its config blob is missing or damaged`);
        if (!blobOk(img.manifest)) bad(`image ${name}: its manifest blob is missing or damaged`);
        for (const d of img.layers) {
          usedLayers.add(d);
          const l = s.layer(d);
          if (!l) {
            bad(`image ${name}: layer ${d.slice(0, 19)} has no record`);
            continue;
          }
          usedBlobs.add(hexOf(l.blob));
          if (!blobOk(l.blob)) bad(`image ${name}: the tar of layer ${d.slice(0, 19)} is missing or damaged`);
          if (!fs.existsSync(s.layerDir(d))) bad(`image ${name}: the dir of layer ${d.slice(0, 19)} is missing`);
        }
      }
      // Tags and containers point at images.
      for (const { ref, id } of s.allTags()) {
        if (!s.imageById(id)) fix(`tag ${ref} points at a missing image: removed`, () => s.untag(ref));
      }
      for (const { key, live } of s.cacheEntries()) {
        if (!live) fix(`build cache entry ${key.slice(0, 12)} points at a missing image: removed`, () => s.forgetCache([key]));
      }
      for (const c of s.allContainers()) {
        if (!s.imageById(c.image)) bad(`container ${c.name}: its image ${c.image.slice(0, 19)} is missing`);
        if (!fs.existsSync(path.join(s.containerPaths(c.id).dir, 'upper'))) bad(`container ${c.name}: its upper dir is missing`);
      }
      // What nothing refers to.
      for (const hex of fs.readdirSync(path.join(s.root, 'layers'))) {
        const d = 'sha256:' + hex;
        if (usedLayers.has(d)) continue;
        fix(`layer dir ${hex.slice(0, 12)} belongs to no image: removed`, () => s.dropUnusedLayers([d]));
      }
      for (const hex of fs.readdirSync(blobDir)) {
        if (usedBlobs.has(hex) || corrupt.has(hex)) continue;
        fix(`blob ${hex.slice(0, 12)} belongs to no image: removed`, () => fs.rmSync(path.join(blobDir, hex), { force: true }));
      }
      for (const n of s.staleTemps()) fix(`temp leftover ${n}: removed`, () => fs.rmSync(path.join(s.root, 'tmp', n), { recursive: true, force: true }));
    });
    for (const r of repaired) console.log(`repaired: ${r}`);
    for (const p of problems) console.log(`problem: ${p}`);
    console.log(unrepaired ? `${unrepaired} problem(s) left` : 'the store is consistent');
  }).then(() => {
    if (unrepaired) fatal(`the store has ${unrepaired} problem(s) that need a person: re-import or remove the images named above`);
  });
}
