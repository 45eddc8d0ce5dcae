// Who does what in a suite: how many clients (or watchers and writers), over how many
// connections, to which members, in which load-generator process. The same plan is used for
// every target.
//
// - put-seq's single client talks to the leader (a follower would add a forwarding hop that
//   depends only on which member happened to win the election).
// - Everything else spreads connections round-robin over the members, as etcd's `benchmark`
//   tool does, and connections round-robin over the worker processes.
// - apiserver-watch talks HTTP to one Kubernetes API server: its watchers are spread evenly over
//   the workers, and the last worker also runs the (single, fixed-rate) pod writer.

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

/** Writes of apiserver-watch in flight at most (the writer's HTTP connections). */
export const API_WRITER_MAX_IN_FLIGHT = 64;

/** The Kubernetes API server apiserver-watch loads, and the namespace prepared on it. */
export interface ApiWatchTarget {
  url: string;
  namespace: string;
  /** The resourceVersion of the namespace's empty pod list. */
  resourceVersion: string;
}

export function apiWatchWrites(profile: Profile): number {
  return Math.ceil((profile.apiWatch.durationMs / 1000) * profile.apiWatch.writesPerSecond);
}

function planApiWatch(base: Omit<SuiteTask, 'connections'>, profile: Profile, workers: number, api: ApiWatchTarget): SuitePlan {
  const a = profile.apiWatch;
  const totalWrites = apiWatchWrites(profile);
  invariant(a.watchers >= 1 && a.pods >= 1 && totalWrites >= a.pods, () => `apiserver-watch: bad sizes ${JSON.stringify(a)}`);
  const perWorker = spread(a.watchers, workers).map((ids) => ids.length);
  const tasks: SuiteTask[] = perWorker.map((watchers, i) => ({
    ...base,
    totalEvents: totalWrites * a.watchers,
    totalWriters: 1,
    totalWatchers: a.watchers,
    connections: [],
    apiWatch: {
      ...api,
      watchers,
      totalWrites,
      ...(i === workers - 1 ? { writer: { writesPerSecond: a.writesPerSecond, pods: a.pods, maxInFlight: API_WRITER_MAX_IN_FLIGHT } } : {}),
    },
  }));
  // connections: the watchers' own (one HTTP connection each); the writer's pool is not counted.
  return { suite: 'apiserver-watch', clients: a.watchers, writers: 1, connections: a.watchers, tasks };
}

export function planSuite(
  suite: SuiteName,
  profile: Profile,
  endpoints: readonly string[],
  leaderEndpoint: string,
  workers: number,
  runTag: string,
  api?: ApiWatchTarget,
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
  if (suite === 'apiserver-watch') {
    invariant(api !== undefined, 'apiserver-watch needs an API server');
    return planApiWatch(base, profile, workers, api);
  }
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
