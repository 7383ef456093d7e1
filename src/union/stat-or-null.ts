// A path's attributes in a merged view, or null where the view has nothing there: the question
// the init layer, squash, the snapshotter's diff and the union bench ask of an image's layers.
import { FsError } from '../sys/errors.js';
import type { Attr, Union } from './union.js';

export function statOrNull(u: Union, p: string): Attr | null {
  try {
    return u.getattr(p);
  } catch (err) {
    if (err instanceof FsError) return null;
    throw err;
  }
}
