// The STATUS column of ps and system df -v, as docker words it: Up 3 minutes (Paused), Exited (0) 2 minutes ago.
import type { Store, ContainerRecord } from '../store/store.js';
import { Containers } from '../container/service.js';
import { ago, duration } from './format.js';

export function statusOf(s: Store, c: ContainerRecord): string {
  const st = new Containers(s).state(c);
  if (st.running) {
    const up = c.started ? `Up ${duration(c.started)}` : 'Up';
    return st.daemonDead ? `${up} (filesystem daemon died)` : st.paused ? `${up} (Paused)` : up;
  }
  if (c.state === 'created') return 'Created';
  return `Exited (${c.exitCode ?? 0})${c.finished ? ` ${ago(c.finished)}` : ''}`;
}
