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
