// How every store command runs: open the store, call a service, and turn what it throws into one
// sentence on stderr and an exit status. Services never exit the process and never print errors;
// this is the one place that does, and it decides by the error's code, never by its text.
import { Store } from '../store/store.js';
import { StrataError, isNoSpace, type ErrorCode } from '../sys/errors.js';
import { fatal } from './fatal.js';

/** The exit status of a failed command, by what went wrong (docker exits 1 for all of these too). */
const STATUS: Record<ErrorCode, number> = {
  'not-found': 1,
  invalid: 1,
  conflict: 1,
  'in-use': 1,
  damaged: 1,
  'no-space': 1,
  unsupported: 1,
  failed: 1,
};

/** One sentence for a failed command; a full disk says which disk and what to do. */
export function describeError(err: unknown, root?: string): { message: string; status: number } {
  if (isNoSpace(err)) {
    const where = root ? ` (${root})` : '';
    return {
      message: `no space left on the device that holds the store${where}: nothing was stored; free some space (strata image prune, strata system df) and try again`,
      status: STATUS['no-space'],
    };
  }
  if (err instanceof StrataError) return { message: err.message, status: STATUS[err.code] };
  const e = err as NodeJS.ErrnoException;
  return { message: e?.message ?? String(err), status: 1 };
}

/** Run `fn` with an open store; a failure ends the process with its sentence. Resolves with fn's value. */
export async function withStore<T>(fn: (s: Store) => Promise<T> | T): Promise<T> {
  let s: Store;
  try {
    s = Store.open();
  } catch (err) {
    return failWith(err);
  }
  try {
    return await fn(s);
  } catch (err) {
    return failWith(err, s.root);
  } finally {
    s.close();
  }
}

function failWith(err: unknown, root?: string): never {
  const { message, status } = describeError(err, root);
  fatal(message, status);
}
