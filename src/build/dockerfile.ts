// Dockerfile syntax, as docker's classic parser reads it: comments, `\` line continuations,
// instructions with a JSON (exec) form or a shell form, shell-like words with quotes and escapes
// for ENV/LABEL/ARG pairs (sys/shell-words), and $VAR / ${VAR} / ${VAR:-default} substitution.

import { StrataError } from '../sys/errors.js';

export class DockerfileError extends StrataError {
  override name = 'DockerfileError';
  constructor(message: string) {
    super('invalid', message);
  }
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

/** The exec form: `args` as a JSON array of strings, or null. */
export function jsonForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  try {
    const v = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : null;
  } catch {
    return null;
  }
}

export { words, pairs, expand } from '../sys/shell-words.js';
