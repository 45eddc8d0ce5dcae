// How big each suite is. `full` is the default run; `quick` (--quick) is sized so that both
// targets at 3 members finish in well under six minutes on a 2-core machine (see README.md);
// `tiny` exists for the test of the harness itself and measures nothing meaningful.
// The concurrency numbers of the issue (1 client for put-seq, 100 for the others) hold for full
// and quick.

export interface WatchSizes {
  watchers: number;
  /** Connections (one Watch stream each) the watchers are spread over. */
  connections: number;
  /** Puts in total, over watchRounds rounds; each is one event per matching watcher. */
  events: number;
  /** Concurrent writers (closed loop, each one write in flight). */
  writers: number;
  /**
   * Events per write: 1 is a plain put; more is one txn putting that many distinct keys (one
   * revision), so that for watch-many the write path is not what limits delivered events/s.
   */
  batch: number;
  /**
   * Puts of a first round that is not measured (same watchers and writers, its own keys): the
   * closed-loop suites' warm-up for the watch suites, so that neither target is measured on
   * code paths that have not run yet (keelson's JIT tiers up on the first seconds of load).
   */
  warmupEvents: number;
}

/** apiserver-watch: HTTP watchers on the pods of one namespace while one writer writes pods. */
export interface ApiWatchSizes {
  watchers: number;
  /** Pod writes per second (open loop: on schedule whatever the answers), for durationMs. */
  writesPerSecond: number;
  durationMs: number;
  /** Distinct pods: the first `pods` writes create them, the rest update them round-robin. */
  pods: number;
}

export interface Profile {
  name: 'full' | 'quick' | 'tiny';
  /** Closed-loop suites: load without measuring, then measure for durationMs (in all). */
  warmupMs: number;
  durationMs: number;
  /**
   * Closed-loop suites: durationMs is measured in this many rounds of equal length, run on the
   * targets in turn (keelson's first, etcd's first, keelson's second, ...), each round after
   * roundWarmupMs of unmeasured load on fresh connections (the first after warmupMs). A shared
   * host's slow spells last seconds: one 8 s window per target let a spell fall on one of them
   * (put-seq 0.70 with 31% host steal on keelson's window, 1% on etcd's; bench/README.md, entry 16).
   */
  rounds: number;
  roundWarmupMs: number;
  /** watch-fanout and watch-many: their puts (`events`) are written in this many rounds, the same way. */
  watchRounds: number;
  /** Clients of put-conc, range-lin, range-ser, txn-cas, lease-keepalive. */
  concurrency: number;
  /** Clients (or writers) per gRPC connection. */
  clientsPerConnection: number;
  /** txn-cas key set. */
  casKeys: number;
  valueBytes: number;
  fanout: WatchSizes;
  many: WatchSizes;
  apiWatch: ApiWatchSizes;
  /** A watch suite that has not delivered every event by then (apiserver-watch: that long after its writes) reports what it got, with an error. */
  watchTimeoutMs: number;
}

export const PROFILES: Readonly<Record<Profile['name'], Profile>> = {
  full: {
    name: 'full',
    warmupMs: 2000,
    durationMs: 15_000,
    rounds: 5,
    roundWarmupMs: 500,
    watchRounds: 3,
    concurrency: 100,
    clientsPerConnection: 10,
    casKeys: 16,
    valueBytes: 256,
    fanout: { watchers: 1000, connections: 20, events: 18_000, writers: 50, batch: 1, warmupEvents: 10_000 },
    many: { watchers: 10_000, connections: 20, events: 200_000, writers: 50, batch: 50, warmupEvents: 50_000 },
    apiWatch: { watchers: 500, writesPerSecond: 200, durationMs: 15_000, pods: 100 },
    watchTimeoutMs: 120_000,
  },
  quick: {
    name: 'quick',
    warmupMs: 1000,
    durationMs: 8000,
    rounds: 4,
    roundWarmupMs: 250,
    watchRounds: 3,
    concurrency: 100,
    clientsPerConnection: 10,
    casKeys: 16,
    valueBytes: 256,
    fanout: { watchers: 200, connections: 8, events: 45_000, writers: 50, batch: 1, warmupEvents: 20_000 },
    many: { watchers: 2000, connections: 10, events: 90_000, writers: 30, batch: 50, warmupEvents: 20_000 },
    apiWatch: { watchers: 200, writesPerSecond: 100, durationMs: 8000, pods: 50 },
    watchTimeoutMs: 30_000,
  },
  tiny: {
    name: 'tiny',
    warmupMs: 100,
    durationMs: 700,
    rounds: 2,
    roundWarmupMs: 50,
    watchRounds: 2,
    concurrency: 6,
    clientsPerConnection: 3,
    casKeys: 4,
    valueBytes: 256,
    fanout: { watchers: 6, connections: 2, events: 30, writers: 2, batch: 1, warmupEvents: 10 },
    many: { watchers: 20, connections: 2, events: 40, writers: 2, batch: 4, warmupEvents: 8 },
    apiWatch: { watchers: 4, writesPerSecond: 50, durationMs: 500, pods: 5 },
    watchTimeoutMs: 20_000,
  },
};
