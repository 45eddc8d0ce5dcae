// grpc_server_handled_total and grpc_server_handling_seconds (go-grpc-prometheus' names, which
// etcd serves), counted in plain numbers and turned into Prometheus samples only when scraped.
// prom-client's Counter and Histogram hash their label values on every inc/observe, bound
// labels included: with one record per RPC that was ~2% of a member's CPU under a write load
// (bench/README.md, entry 19). Registered in a prom-client Registry as metrics of its own kind
// (name, help, type and get(), the interface Registry.metrics() reads).

import type { MetricValue, MetricValueWithName, Registry } from 'prom-client';

export type RpcType = 'unary' | 'server_stream' | 'bidi_stream';
type MethodLabels = { grpc_type: RpcType; grpc_service: string; grpc_method: string };

/** go-grpc-prometheus' default buckets, which etcd uses (seconds). */
const HANDLING_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One method's counts: RPCs by code, and the handling time histogram. */
class MethodStats {
  readonly byCode = new Map<string, number>();
  /** counts[i]: observations <= HANDLING_BUCKETS[i] and > the bucket before (not cumulative). */
  readonly counts = new Float64Array(HANDLING_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  constructor(readonly labels: MethodLabels) {}

  record(code: string, seconds: number): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    let i = 0;
    while (i < HANDLING_BUCKETS.length && seconds > (HANDLING_BUCKETS[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += seconds;
    this.count++;
  }
}

export class RpcMetrics {
  private readonly methods: MethodStats[] = [];
  private readonly byKey = new Map<string, MethodStats>();

  constructor(registry: Registry) {
    const handled = 'grpc_server_handled_total';
    const handling = 'grpc_server_handling_seconds';
    registry.registerMetric(
      this.metric(handled, 'Total number of RPCs completed on the server, regardless of success or failure.', 'counter', () => {
        const values: MetricValue<string>[] = [];
        for (const m of this.methods) for (const [code, n] of m.byCode) values.push({ labels: { ...m.labels, grpc_code: code }, value: n });
        return values;
      }),
    );
    registry.registerMetric(
      this.metric(handling, 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.', 'histogram', () => {
        const values: MetricValueWithName<string>[] = [];
        for (const m of this.methods) {
          if (m.count === 0) continue;
          let cumulative = 0;
          HANDLING_BUCKETS.forEach((le, i) => {
            cumulative += m.counts[i] as number;
            values.push({ metricName: `${handling}_bucket`, labels: { ...m.labels, le }, value: cumulative });
          });
          values.push({ metricName: `${handling}_bucket`, labels: { ...m.labels, le: '+Inf' }, value: m.count });
          values.push({ metricName: `${handling}_sum`, labels: { ...m.labels }, value: m.sum });
          values.push({ metricName: `${handling}_count`, labels: { ...m.labels }, value: m.count });
        }
        return values;
      }),
    );
  }

  /** A recorder for one method's finished RPCs (its label values fixed once). */
  recorder(type: RpcType, service: string, method: string): (code: string, seconds: number) => void {
    const key = `${type}/${service}/${method}`;
    let m = this.byKey.get(key);
    if (m === undefined) {
      m = new MethodStats({ grpc_type: type, grpc_service: `etcdserverpb.${service}`, grpc_method: method });
      this.byKey.set(key, m);
      this.methods.push(m);
    }
    const stats = m;
    return (code, seconds) => stats.record(code, seconds);
  }

  private metric(
    name: string,
    help: string,
    type: 'counter' | 'histogram',
    values: () => MetricValue<string>[],
  ): Parameters<Registry['registerMetric']>[0] {
    const get = (): Promise<unknown> => Promise.resolve({ name, help, type, values: values(), aggregator: 'sum' });
    const reset = (): void => {
      for (const m of this.methods) {
        if (type === 'counter') m.byCode.clear();
        else {
          m.counts.fill(0);
          m.sum = 0;
          m.count = 0;
        }
      }
    };
    return { name, help, type, get, reset } as unknown as Parameters<Registry['registerMetric']>[0];
  }
}
