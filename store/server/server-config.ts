// A master's configuration, named after etcd's flags (the CLI maps flags to this 1:1).

export interface ServerConfig {
  name: string;
  dataDir: string;
  /** URLs ("http://host:port") the etcd v3 API listens on. */
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  /** "name=http://host:port,..." */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  /** --heartbeat-interval (ms) */
  heartbeatMs: number;
  /** --election-timeout (ms) */
  electionMs: number;
  /** --snapshot-count: applied entries between Raft log compactions. */
  snapshotCount: number;
  /** --max-request-bytes */
  maxRequestBytes: number;
  /** --max-txn-ops */
  maxTxnOps: number;
  /** Interval of progress notifications for watches that asked for them (etcd: 10 min). */
  watchProgressNotifyMs: number;
}

export const DEFAULTS = {
  heartbeatMs: 100,
  electionMs: 1000,
  snapshotCount: 100_000,
  maxRequestBytes: 1.5 * 1024 * 1024,
  maxTxnOps: 128,
  watchProgressNotifyMs: 10 * 60 * 1000,
  initialClusterToken: 'etcd-cluster',
} as const;

/** etcd's request timeout: 5 s plus two election timeouts. */
export function requestTimeoutMs(c: Pick<ServerConfig, 'electionMs'>): number {
  return 5000 + 2 * c.electionMs;
}
