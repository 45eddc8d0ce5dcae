// The workloads a run can name (--workload), and how --clients is spread over them.

import type { Workload as WorkloadName } from '../analysis.js';
import { AppendWorkload } from './append.js';
import { LeaseWorkload } from './lease.js';
import { RegisterWorkload } from './register.js';
import { WatchWorkload } from './watch.js';
import type { Workload } from './workload.js';

/** Watcher lanes of the watch workload (on top of --clients): two on the prefix, one on a key. */
export const WATCHERS = 3;

/** `total` split into `parts` near-equal shares, each at least 1. */
export function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.max(1, Math.floor(total / parts) + (i < total % parts ? 1 : 0)));
}

export function makeWorkloads(name: WorkloadName, clients: number): Workload[] {
  switch (name) {
    case 'register':
      return [new RegisterWorkload(clients)];
    case 'append':
      return [new AppendWorkload(clients)];
    case 'watch':
      return [new WatchWorkload(clients, WATCHERS)];
    case 'lease':
      return [new LeaseWorkload(clients)];
    case 'all': {
      const [r, a, w, l] = shares(clients, 4) as [number, number, number, number];
      // Offsets spread the smaller workloads' lanes over different members.
      return [new RegisterWorkload(r, 0), new AppendWorkload(a, 1), new WatchWorkload(w, WATCHERS, 2), new LeaseWorkload(l, 0)];
    }
  }
}
