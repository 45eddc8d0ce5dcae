// A master's Prometheus metrics (prom-client), named like etcd's where etcd has the same metric
// so existing dashboards and alerts work. One registry per server (tests run several in one
// process).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RpcMetrics, type RpcType } from './rpc-metrics.js';

export interface MetricsSource {
  hasLeader(): boolean;
  isLeader(): boolean;
  term(): number;
  commitIndex(): number;
  appliedIndex(): number;
  dbSizeBytes(): Promise<number>;
  keys(): number;
  watchers(): number;
  leases(): number;
  pendingProposals(): number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly leaderChanges: Counter;
  readonly proposalsFailed: Counter;
  readonly walFsync: Histogram;
  private readonly rpcs: RpcMetrics;

  constructor(src: MetricsSource, opts: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.processMetrics) collectDefaultMetrics({ register: r });
    const gauge = (name: string, help: string, value: () => number | Promise<number>): void => {
      new Gauge({
        name,
        help,
        registers: [r],
        async collect() {
          this.set(await value());
        },
      });
    };
    gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', () => (src.hasLeader() ? 1 : 0));
    gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', () => (src.isLeader() ? 1 : 0));
    gauge('keelson_raft_term', 'The current Raft term of this member.', () => src.term());
    gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed (the commit index).', () => src.commitIndex());
    gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied (the applied index).', () => src.appliedIndex());
    gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.', () => src.pendingProposals());
    gauge('keelson_raft_apply_lag', 'Entries committed but not yet applied on this member.', () => Math.max(0, src.commitIndex() - src.appliedIndex()));
    gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database in bytes.', () => src.dbSizeBytes());
    gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', () => src.keys());
    gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', () => src.watchers());
    gauge('keelson_leases', 'Number of leases.', () => src.leases());
    this.leaderChanges = new Counter({ name: 'etcd_server_leader_changes_seen_total', help: 'The number of leader changes seen.', registers: [r] });
    this.proposalsFailed = new Counter({ name: 'etcd_server_proposals_failed_total', help: 'The total number of failed proposals seen.', registers: [r] });
    this.walFsync = new Histogram({
      name: 'etcd_disk_wal_fsync_duration_seconds',
      help: 'The latency distributions of fsync called by the Raft log.',
      buckets: [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192],
      registers: [r],
    });
    this.rpcs = new RpcMetrics(r);
  }

  /** A recorder for one method's finished RPCs (it runs on every call: see rpc-metrics.ts). */
  rpcRecorder(type: RpcType, service: string, method: string): (code: string, seconds: number) => void {
    return this.rpcs.recorder(type, service, method);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
