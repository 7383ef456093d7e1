// Dockerfile syntax, as docker's classic parser reads it: comments, `\` line continuations,
// instructions with a JSON (exec) form or a shell form, shell-like words with quotes and escapes
// for ENV/LABEL/ARG pairs, and $VAR / ${VAR} / ${VAR:-default} / ${VAR:+alt} substitution.

export class DockerfileError extends Error {
  override name = 'DockerfileError';
}

export interface Instruction {
  line: number; // where it starts, 1-based
  name: string; // upper case
  args: string; // the rest, continuations joined
  json: string[] | null; // the exec form, when args is a JSON array of strings
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    // A trailing backslash joins the next line; comment lines inside a continuation are dropped.
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, '');
      i++;
      if (/^\s*#/.test(lines[i])) {
        line += ' \\';
        continue;
      }
      line += lines[i];
    }
    const m = /^\s*(\S+)\s*(.*)$/s.exec(line);
    if (!m) continue;
    const args = m[2].trim();
    out.push({ line: start, name: m[1].toUpperCase(), args, json: jsonForm(args) });
  }
  return out;
}

function jsonForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  try {
    const v = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : null;
  } catch {
    return null;
  }
}

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
      if (end < 0) throw new DockerfileError(`unterminated ${c} quote in: ${s}`);
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
  if (w.length === 0) throw new DockerfileError('missing KEY=VALUE');
  if (legacy && !w[0].includes('=')) {
    const rest = args.trim().slice(args.trim().search(/\s/) + 1).trim();
    return [[w[0], w.length > 1 ? words(rest).join(' ') : '']];
  }
  return w.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new DockerfileError(`"${kv}" is not KEY=VALUE`);
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
