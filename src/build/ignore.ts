// .dockerignore, with docker's rules (github.com/moby/patternmatcher and its ignorefile): one
// pattern a line, `#` lines are comments, blank lines skipped, each pattern trimmed and cleaned as
// Go's filepath.Clean does with a leading `/` dropped; Go's filepath.Match syntax per path element
// (`*`, `?`, `[…]`, `\` escapes), `**` for any number of dirs, a leading `!` for an exception; the
// last pattern that matches a path (or one of its parent dirs) decides. A walk of the context
// leaves out an ignored dir whole, unless an exception names something below it (as docker's
// context tar does).
import path from 'node:path';
import { DockerfileError } from './dockerfile.js';

/** What a walk does with one entry: sent, left out with all below it, or left out but walked into (an exception may bring back what is below). */
export type Verdict = 'in' | 'out' | 'through';

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

/** One compiled pattern, as patternmatcher's Pattern. */
class Pattern {
  readonly type: MatchType;
  private readonly re: RegExp | null;

  constructor(
    readonly cleaned: string,
    readonly exclusion: boolean,
  ) {
    const c = compile(cleaned);
    this.type = c.type;
    this.re = c.type === 'regexp' ? new RegExp(c.re + '$', 'u') : null;
  }

  match(p: string): boolean {
    switch (this.type) {
      case 'exact':
        return p === this.cleaned;
      case 'prefix':
        return p.startsWith(this.cleaned.slice(0, -2)); // the pattern less its trailing **
      case 'suffix': {
        const suffix = this.cleaned.slice(2); // less its leading **
        return p.endsWith(suffix) || (suffix[0] === '/' && p === suffix.slice(1)); // **/foo matches foo
      }
      case 'regexp':
        return this.re!.test(p);
    }
  }
}

export class IgnoreMatcher {
  private constructor(private readonly patterns: Pattern[]) {}

  /** The patterns of a .dockerignore file's text (`name` for errors): a bad pattern is one sentence with its line. */
  static parse(text: string, name = '.dockerignore'): IgnoreMatcher {
    const out: Pattern[] = [];
    text
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .forEach((raw, i) => {
        const p = readLine(raw);
        if (p === null) return;
        try {
          out.push(newPattern(p));
        } catch (err) {
          throw new DockerfileError(`${name}, line ${i + 1}: ${(err as Error).message}`);
        }
      });
    return new IgnoreMatcher(out);
  }

  /** The matcher of patterns as given (no comments, no file), for tests and callers with a list. */
  static of(patterns: string[]): IgnoreMatcher {
    return new IgnoreMatcher(
      patterns
        .map((p) => p.trim())
        .filter(Boolean)
        .map(newPattern),
    );
  }

  /** Whether any pattern is an exception (`!…`). */
  get exclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** Whether the context path `rel` (slash-separated, relative: "a/b") is ignored: patternmatcher's MatchesOrParentMatches. */
  matches(rel: string): boolean {
    const file = goClean(rel);
    if (file === '.') return false; // the context itself is never ignored
    const parent = path.posix.dirname(file);
    const parents = parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue; // an inclusion once matched, or an exception before any match, changes nothing
      let m = p.match(file);
      for (let i = 0; !m && parent !== '.' && i < parents.length; i++) m = p.match(parents.slice(0, i + 1).join('/'));
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /** What a walk of the context does with `rel`, a dir or not: docker's context tar rules. */
  verdict(rel: string, dir: boolean): Verdict {
    if (!this.matches(rel)) return 'in';
    if (!dir || !this.exclusions) return 'out';
    const below = goClean(rel) + '/';
    return this.patterns.some((p) => p.exclusion && (p.cleaned + '/').startsWith(below)) ? 'through' : 'out';
  }
}

/** One line of the file as ignorefile.ReadAll reads it: null for comments and blank lines. */
function readLine(raw: string): string | null {
  if (raw.startsWith('#')) return null; // a comment only at the very start of the line
  let p = raw.trim();
  if (p === '') return null;
  const invert = p[0] === '!';
  if (invert) p = p.slice(1).trim();
  if (p.length > 0) {
    p = goClean(p);
    if (p.length > 1 && p[0] === '/') p = p.slice(1);
  }
  return invert ? '!' + p : p;
}

/** patternmatcher.New for one pattern: trimmed, cleaned, `!` split off, checked as filepath.Match checks it. */
function newPattern(given: string): Pattern {
  let p = goClean(given.trim());
  let exclusion = false;
  if (p[0] === '!') {
    if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
    exclusion = true;
    p = p.slice(1);
  }
  checkSyntax(p);
  return new Pattern(p, exclusion);
}

/** Go's path.Clean: no repeated or trailing slashes, no `.` elements, `..` folded where it can be; "." for nothing. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const out = path.posix.normalize(p);
  return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out;
}

/** Throws where Go's filepath.Match would answer ErrBadPattern: an unclosed or empty class, a bad range, a trailing `\`. */
function checkSyntax(p: string): void {
  const bad = () => {
    throw new Error(`syntax error in pattern: ${p}`);
  };
  const cs = [...p];
  let i = 0;
  const esc = () => {
    // one class character, maybe escaped; `-` and `]` must be escaped here
    if (i >= cs.length || cs[i] === '-' || cs[i] === ']') bad();
    if (cs[i] === '\\' && ++i >= cs.length) bad();
    i++;
  };
  while (i < cs.length) {
    const ch = cs[i++];
    if (ch === '\\') {
      if (i >= cs.length) bad();
      i++;
    } else if (ch === '[') {
      if (cs[i] === '^') i++;
      for (let n = 0; ; n++) {
        if (i < cs.length && cs[i] === ']' && n > 0) {
          i++;
          break;
        }
        esc();
        if (cs[i] === '-') {
          i++;
          esc();
        }
      }
    }
  }
}

const SYNTAX = new Set('^$\\.*+?()[]{}|/');
/** A character as itself in a `u` regexp, outside a class or (`inClass`) inside one. */
const lit = (ch: string, inClass = false) => (SYNTAX.has(ch) || (inClass && ch === '-') ? '\\' + ch : ch);

/**
 * patternmatcher's compile: the cheapest way to match (the pattern itself, a prefix before a
 * trailing `**`, a suffix after a leading `**`) or a regexp: `*` and `?` stop at `/`, `**` spans
 * dirs, `[…]` classes as filepath.Match reads them.
 */
function compile(p: string): { type: MatchType; re: string } {
  const cs = [...p];
  let re = '^';
  let type: MatchType = 'exact';
  let j = 0;
  for (let i = 0; j < cs.length; i++) {
    const ch = cs[j++];
    if (ch === '*') {
      if (cs[j] === '*') {
        j++;
        if (cs[j] === '/') j++; // **/ is **
        if (j >= cs.length) {
          // a trailing ** takes everything below
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (ch === '\\') {
      re += lit(cs[j++]);
      type = 'regexp';
    } else if (ch === '[') {
      re += '[';
      if (cs[j] === '^') {
        re += '^';
        j++;
      }
      for (let n = 0; j < cs.length && !(cs[j] === ']' && n > 0); n++) {
        if (cs[j] === '-' && n > 0) re += '-';
        else re += lit(cs[j] === '\\' ? cs[++j] : cs[j], true);
        j++;
      }
      re += ']';
      j++;
      type = 'regexp';
    } else {
      re += lit(ch);
    }
  }
  return { type, re };
}
