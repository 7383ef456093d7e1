// Image references as the store keeps them: NAME:TAG with docker's rules for names and tags.
import { refuse } from '../sys/errors.js';

const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** NAME[:TAG] with docker's rules; the tag defaults to latest. */
export function parseRef(ref: string): string {
  const i = ref.lastIndexOf(':');
  const [name, tag] = i > ref.lastIndexOf('/') && i >= 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, 'latest'];
  if (!NAME_RE.test(name)) refuse('invalid', `"${ref}" is not a valid image name (lowercase letters, digits, and . _ - / separators)`);
  if (!TAG_RE.test(tag)) refuse('invalid', `"${ref}" has an invalid tag (letters, digits, _ . -, at most 128)`);
  return `${name}:${tag}`;
}

/** The canonical NAME:TAG of a reference, or the reference as given when it does not parse (an ID). */
export function safeRef(ref: string): string {
  try {
    return parseRef(ref);
  } catch {
    return ref;
  }
}
