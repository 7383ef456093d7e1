// docker attach: parse, call the container service, end with the container's exit code (or 0
// when the detach keys left it running: nothing is printed then).
import { exitWith, withContainers } from './container-actions.js';

export function attach(ref: string, o: { detachKeys?: string; stdin?: boolean }): Promise<void> {
  return exitWith(withContainers(async (k) => (await k.attach(ref, { detachKeys: o.detachKeys, noStdin: o.stdin === false })).code));
}
