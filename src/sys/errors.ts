// Errors are values: an FsError carries a positive errno and is thrown without a stack trace
// (cheap on the hot path). Node's own fs errors carry a negative `errno`; `toErrno` reads both.
import os from 'node:os';

export const E = os.constants.errno;

export class FsError {
  constructor(
    readonly errno: number,
    readonly message = '',
  ) {}
  get code(): string {
    return errnoName(this.errno);
  }
}

export function fail(errno: number, message = ''): never {
  throw new FsError(errno, message);
}

/** Throws FsError when a native call returned a negative errno; returns the value otherwise. */
export function check<T>(result: T | number): T {
  if (typeof result === 'number' && result < 0) throw new FsError(-result);
  return result as T;
}

/** The positive errno of anything thrown by us or by Node's fs; EIO for anything else. */
export function toErrno(err: unknown): number {
  if (err instanceof FsError) return err.errno;
  const n = (err as { errno?: unknown })?.errno;
  if (typeof n === 'number' && n !== 0) return Math.abs(n);
  return E.EIO;
}

const names = new Map<number, string>(Object.entries(E).map(([k, v]) => [v, k]));
export function errnoName(errno: number): string {
  return names.get(errno) ?? `errno ${errno}`;
}

/**
 * What went wrong, as a value the CLI maps to an exit status (and, for some, its own sentence).
 * Every error a service throws at a user is a StrataError with one of these; nothing is ever
 * classified by its message text.
 */
export type ErrorCode =
  | 'not-found' // no such image, container, file or layer
  | 'invalid' // bad input: a name, a flag, a Dockerfile line, a mount spec
  | 'conflict' // the state forbids it: a name in use, already running, not paused
  | 'in-use' // something still uses it (a container uses the image, a mount is busy)
  | 'damaged' // content that does not match its digest, a broken archive or index
  | 'no-space' // the disk is full
  | 'unsupported' // a feature strata does not have
  | 'failed'; // a command strata ran failed, or a step could not be done

export class StrataError extends Error {
  override name = 'StrataError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Throw a StrataError: one sentence for a person, with its code. */
export function refuse(code: ErrorCode, message: string, cause?: unknown): never {
  throw new StrataError(code, message, cause === undefined ? undefined : { cause });
}

/** Whether an error (or one it wraps) is a full disk: Node's ENOSPC, our FsError, LMDB's, or ours. */
export function isNoSpace(err: unknown): boolean {
  type Link = { code?: unknown; errno?: unknown; cause?: unknown };
  for (let e = err as Link | undefined, depth = 0; e && depth < 8; e = (e as Link).cause as Link | undefined, depth++) {
    if (e.code === 'ENOSPC' || e.code === 'no-space' || e.code === E.ENOSPC || e.code === -E.ENOSPC) return true;
    if (e instanceof FsError && e.errno === E.ENOSPC) return true;
  }
  return false;
}
