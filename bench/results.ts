// The shape of DIR/results.json (issue 7). report.md and the SVG chart are rendered from this
// alone, so a results.json kept from an earlier run can be re-rendered or compared.

export const SUITE_NAMES = [
  'put-seq',
  'put-conc',
  'range-lin',
  'range-ser',
  'txn-cas',
  'watch-fanout',
  'watch-many',
  'lease-keepalive',
  'apiserver-watch',
] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/**
 * `baseline` is keelson from another build (`--baseline`), measured in etcd's place: a change
 * against the build before it, in one run, rounds taken in turn (bench/README.md, entry 18).
 */
export const TARGET_NAMES = ['keelson', 'etcd', 'baseline'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
/** What keelson's numbers are divided by. */
export type ReferenceTarget = Exclude<TargetName, 'keelson'>;

/** The run's reference: the baseline build when there is one, etcd otherwise. */
export function referenceTarget(targets: readonly TargetName[]): ReferenceTarget {
  return targets.includes('baseline') ? 'baseline' : 'etcd';
}

export function isSuiteName(s: string): s is SuiteName {
  return (SUITE_NAMES as readonly string[]).includes(s);
}

export function isTargetName(s: string): s is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(s);
}

/** Watch suites report delivered events per second, the others completed operations per second. */
export function isEventSuite(s: SuiteName): boolean {
  return s === 'watch-fanout' || s === 'watch-many' || s === 'apiserver-watch';
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  platform: string;
  arch: string;
  kernel: string;
  /** 1-minute load average when the run started: other work on the machine skews numbers. */
  loadAvg1m: number;
  etcdVersion: string;
  keelsonVersion: string;
}

/** A point of the latency distribution: the latency (ms) at quantile q. */
export interface LatencyPoint {
  q: number;
  ms: number;
}

export interface BenchResult {
  suite: SuiteName;
  target: TargetName;
  members: number;
  /** Concurrent clients (watch suites: watchers). */
  clients: number;
  /** gRPC connections (each its own TCP connection) the clients were spread over. */
  connections: number;
  /** Load-generator processes. */
  workers: number;
  opsPerSec?: number;
  eventsPerSec?: number;
  /** Operation latency, or put-to-event latency for watch suites. */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  meanMs: number;
  maxMs: number;
  /** Operations (or events) measured, and over how long. */
  count: number;
  durationMs: number;
  /** Failed operations (not in count or latency); a few distinct messages. */
  errors: number;
  errorSamples: string[];
  /** CPU of all load-generator processes together, in % of one core (process.cpuUsage). */
  clientCpuPercent: number;
  /** The busiest worker: CPU in % of one core, and event-loop utilisation 0..1. ~100% / ~1 means that worker was the bottleneck. */
  clientMaxWorkerCpuPercent: number;
  clientMaxWorkerElu: number;
  /** CPU of the target's member processes together, in % of one core (/proc). */
  serverCpuPercent: number;
  /** CPU of the whole machine (all processes, all cores) in % of one core: minus client and server = other load. */
  machineCpuPercent: number;
  /** CPU the host's hypervisor took away ("steal") in % of one core: other tenants of a shared host. */
  stealCpuPercent: number;
  latency: LatencyPoint[];
  /** apiserver-watch: peak RSS (MiB) of the process serving the Kubernetes API (for keelson the master, store included). */
  apiServerRssMb?: number;
  /** apiserver-watch: HTTP watches that ended before the suite did (cut off by the server, or failed). */
  watchersLost?: number;
  /** Suite-specific numbers (writers, watchers, CAS successes, events expected, ...). */
  extra: Record<string, number>;
}

export interface BenchFailure {
  target: TargetName;
  suite?: SuiteName;
  message: string;
}

export interface BenchConfig {
  targets: TargetName[];
  /** The baseline build's CLI entry (target `baseline`), when there is one. */
  baseline?: string;
  members: 1 | 3;
  suites: SuiteName[];
  profile: string;
  workers: number;
}

export interface BenchResults {
  machine: MachineInfo;
  config: BenchConfig;
  startedAt: string;
  wallSeconds: number;
  results: BenchResult[];
  failures: BenchFailure[];
}

/** The suite's headline number: events/s for watch suites, ops/s otherwise. */
export function throughput(r: BenchResult): number {
  return r.eventsPerSec ?? r.opsPerSec ?? 0;
}

/** keelson/reference for a suite, or undefined when either is missing or the reference measured nothing. */
export function ratioFor(results: readonly BenchResult[], suite: SuiteName, ref: ReferenceTarget = 'etcd'): number | undefined {
  const k = results.find((r) => r.suite === suite && r.target === 'keelson');
  const e = results.find((r) => r.suite === suite && r.target === ref);
  if (!k || !e || !(throughput(e) > 0)) return undefined;
  return throughput(k) / throughput(e);
}
