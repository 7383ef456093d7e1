// COPY/ADD --chown=USER[:GROUP]: names looked up in the image's own /etc/passwd and /etc/group as
// they are at that step (never the host's), numbers taken as they are. A user without a group
// gets the user's primary group from /etc/passwd, or for a number the same number (BuildKit's
// rule, as docker documents it).
import { DockerfileError } from './dockerfile.js';

/** What reads a file of the image being built (its symlinks followed inside it): null if it has none. */
export interface ImageFiles {
  readFile(p: string): Buffer | null;
}

const NUMBER = /^\d+$/;

/** The uid and gid of a --chown value (`what`: COPY or ADD, for the sentence). */
export function ownerOf(files: ImageFiles, spec: string, what: string): { uid: number; gid: number } {
  const [user, group] = spec.split(':');
  const fail = (why: string) => {
    throw new DockerfileError(`${what} --chown=${spec}: ${why}`);
  };
  let uid: number;
  let gid: number | undefined;
  if (NUMBER.test(user)) {
    uid = Number(user);
  } else {
    const entry = rows(files, '/etc/passwd').find((r) => r[0] === user);
    if (!entry || !NUMBER.test(entry[2] ?? '')) return fail(`no user ${user} in the image's /etc/passwd`);
    uid = Number(entry[2]);
    if (NUMBER.test(entry[3] ?? '')) gid = Number(entry[3]);
  }
  if (group === undefined) return { uid, gid: gid ?? uid };
  if (NUMBER.test(group)) return { uid, gid: Number(group) };
  const g = rows(files, '/etc/group').find((r) => r[0] === group);
  if (!g || !NUMBER.test(g[2] ?? '')) return fail(`no group ${group} in the image's /etc/group`);
  return { uid, gid: Number(g[2]) };
}

/** The colon-separated rows of a passwd-style file of the image (none if it has no such file). */
function rows(files: ImageFiles, p: string): string[][] {
  const text = files.readFile(p)?.toString('utf8') ?? '';
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}
