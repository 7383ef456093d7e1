// Shell-like words as Dockerfiles write them (ENV, LABEL, ARG, COPY arguments, `-c` changes):
// whitespace separates, quotes group, a backslash escapes; KEY=VALUE pairs; $VAR substitution.
import { refuse } from './errors.js';

/** Shell-like words: whitespace separates, '…' and "…" quote, a backslash escapes. */
export function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (c === "'" || c === '"') {
      const end = s.indexOf(c, i + 1);
      if (end < 0) refuse('invalid', `unterminated ${c} quote in: ${s}`);
      let q = s.slice(i + 1, end);
      if (c === '"') q = q.replace(/\\(["\\$])/g, '$1');
      cur += q;
      inWord = true;
      i = end;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** KEY=VALUE pairs (ENV, LABEL, ARG), or the legacy `KEY VALUE…` form with one pair. */
export function pairs(args: string, legacy = true): [string, string][] {
  const w = words(args);
  if (w.length === 0) refuse('invalid', 'missing KEY=VALUE');
  if (legacy && !w[0].includes('=')) {
    const rest = args
      .trim()
      .slice(args.trim().search(/\s/) + 1)
      .trim();
    return [[w[0], w.length > 1 ? words(rest).join(' ') : '']];
  }
  return w.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) refuse('invalid', `"${kv}" is not KEY=VALUE`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

/** $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} from `vars`; `\$` is a literal dollar. */
export function expand(s: string, vars: Map<string, string>): string {
  return s.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, name, op, word, bare) => {
    if (all === '\\$') return '\\$';
    const v = vars.get(name ?? bare);
    if (op === '-') return v ? v : word;
    if (op === '+') return v ? word : '';
    return v ?? '';
  });
}
