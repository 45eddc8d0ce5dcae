// Messages between the coordinator (bench/worker-pool.ts) and the load-generator processes
// (bench/load-worker.ts). Plain JSON: times are process.hrtime in nanoseconds as numbers, which is
// CLOCK_MONOTONIC and therefore one clock for every process on the machine.

import type { HistogramSnapshot } from './histogram.js';
import type { SuiteName } from './results.js';

/** One gRPC connection of a worker and who uses it. */
export interface ConnectionPlan {
  endpoint: string;
  /** Global ids of closed-loop clients (watch suites: writers) on this connection. */
  clients: number[];
  /** Global ids of watchers on this connection (watch suites only); one Watch stream holds them. */
  watchers: number[];
}

/** apiserver-watch: this worker's part (HTTP, not gRPC: the task's connections are empty). */
export interface ApiWatchTask {
  /** Base URL of the Kubernetes API server. */
  url: string;
  namespace: string;
  /** Watch from here: the resourceVersion of the namespace's empty pod list. */
  resourceVersion: string;
  /** HTTP watchers in this worker (one connection each). */
  watchers: number;
  /** Writes in all; each watcher expects one event per write. */
  totalWrites: number;
  /** The writer, in one worker only. */
  writer?: { writesPerSecond: number; pods: number; maxInFlight: number };
}

export interface SuiteTask {
  suite: SuiteName;
  /** Unique per suite run, so keys never collide with an earlier suite's. */
  keyPrefix: string;
  valueBytes: number;
  connections: ConnectionPlan[];
  /** txn-cas: the keys CAS goes round (keyPrefix + index). */
  casKeys: number;
  /** Watch suites: events written in total, by how many writers, and (watch-many) distinct watched keys. */
  totalEvents: number;
  totalWriters: number;
  totalWatchers: number;
  /** Events per write (1: a put; more: a txn of that many puts of distinct keys). */
  eventsPerWrite: number;
  apiWatch?: ApiWatchTask;
}

/** Closed-loop suites: load from startAt; ops completing in [measureStart, measureEnd] count. */
export interface LoadTimes {
  startAt: number;
  measureStart: number;
  measureEnd: number;
  /** Ops still in flight at measureEnd are waited for until then, then abandoned. */
  giveUpAt: number;
}

export type ToWorker =
  | { type: 'prepare'; task: SuiteTask }
  | { type: 'run'; times: LoadTimes }
  | { type: 'close' }
  | { type: 'exit' };

export interface WorkerOutcome {
  /** Ops (or events) measured. */
  count: number;
  histogram: HistogramSnapshot;
  errors: number;
  errorSamples: string[];
  /** CPU used (µs, user + system) and event-loop utilisation over the measured window. */
  cpuUs: number;
  windowNs: number;
  elu: number;
  /** Watch suites: first put sent and last event received (ns), events expected here. */
  firstPutNs?: number;
  lastEventNs?: number;
  lastPutNs?: number;
  expected?: number;
  puts?: number;
  /** Suite-specific counters, summed over workers. */
  extra: Record<string, number>;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; count: number }
  | { type: 'done'; outcome: WorkerOutcome }
  | { type: 'closed' }
  | { type: 'failed'; message: string };
