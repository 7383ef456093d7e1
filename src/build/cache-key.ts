// The layer cache's key for a step: the image it starts from and what makes its result (the
// instruction after substitution, the digest of its files, the build args a RUN sees).
import crypto from 'node:crypto';
import type { ImageRecord } from '../store/store.js';

export function cacheKey(parent: ImageRecord | null, signature: string): string {
  return crypto
    .createHash('sha256')
    .update(`${parent?.id ?? 'scratch'}\n${signature}`)
    .digest('hex');
}
