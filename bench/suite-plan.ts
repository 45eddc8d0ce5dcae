// Who does what in a suite: how many clients (or watchers and writers), over how many
// connections, to which members, in which load-generator process. The same plan is used for
// every target.
//
// - put-seq's single client talks to the leader (a follower would add a forwarding hop that
//   depends only on which member happened to win the election).
// - Everything else spreads connections round-robin over the members, as etcd's `benchmark`
//   tool does, and connections round-robin over the worker processes.

import { invariant } from '../common/assert.js';
import type { ConnectionPlan, SuiteTask } from './load-protocol.js';
import type { Profile } from './profiles.js';
import { isEventSuite, type SuiteName } from './results.js';
import { FANOUT_KEYS } from './watch-suites.js';

export interface SuitePlan {
  suite: SuiteName;
  /** Closed-loop clients, or watchers for the watch suites. */
  clients: number;
  writers: number;
  connections: number;
  /** One per worker (a worker may have nothing to do: empty connections). */
  tasks: SuiteTask[];
}

function spread(count: number, connections: number): number[][] {
  const out: number[][] = Array.from({ length: connections }, () => []);
  for (let i = 0; i < count; i++) out[i % connections]!.push(i);
  return out;
}

export function planSuite(
  suite: SuiteName,
  profile: Profile,
  endpoints: readonly string[],
  leaderEndpoint: string,
  workers: number,
  runTag: string,
): SuitePlan {
  const base = {
    suite,
    keyPrefix: `bench/${suite}/${runTag}/`,
    valueBytes: profile.valueBytes,
    casKeys: profile.casKeys,
    totalEvents: 0,
    totalWriters: 0,
    totalWatchers: 0,
    eventsPerWrite: 1,
  };
  let conns: ConnectionPlan[];
  let clients: number;
  let writers = 0;
  if (isEventSuite(suite)) {
    const w = suite === 'watch-fanout' ? profile.fanout : profile.many;
    clients = w.watchers;
    writers = w.writers;
    base.totalEvents = w.events;
    base.totalWriters = w.writers;
    base.totalWatchers = w.watchers;
    base.eventsPerWrite = w.batch;
    // One txn must not put the same key twice (etcd refuses it).
    invariant(w.batch >= 1 && w.batch <= (suite === 'watch-many' ? w.watchers : FANOUT_KEYS), () => `${suite}: batch ${w.batch} too large`);
    const watcherConns = spread(w.watchers, Math.min(w.connections, w.watchers)).map((ids) => ({ clients: [], watchers: ids }));
    const writerConns = spread(w.writers, Math.ceil(w.writers / profile.clientsPerConnection)).map((ids) => ({ clients: ids, watchers: [] }));
    conns = [...watcherConns, ...writerConns].map((c, i) => ({ endpoint: endpoints[i % endpoints.length]!, ...c }));
  } else {
    clients = suite === 'put-seq' ? 1 : profile.concurrency;
    conns = spread(clients, Math.ceil(clients / profile.clientsPerConnection)).map((ids, i) => ({
      endpoint: suite === 'put-seq' ? leaderEndpoint : endpoints[i % endpoints.length]!,
      clients: ids,
      watchers: [],
    }));
  }
  const tasks: SuiteTask[] = Array.from({ length: workers }, () => ({ ...base, connections: [] }));
  conns.forEach((c, i) => tasks[i % workers]!.connections.push(c));
  return { suite, clients, writers, connections: conns.length, tasks };
}
