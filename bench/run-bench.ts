// The benchmark run: start a fresh cluster of each target, run each suite against every target
// in turn with the load-generator processes (in rounds taken in turn, see Profile.rounds and
// Profile.watchRounds), stop the clusters and remove their data; then write results.json, report.md
// and chart.svg. A target that fails to start, or a suite that fails, is recorded as a failure
// and the run goes on with the rest.

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { preparePodNamespace } from '../apiserver/watch-benchmark.js';
import { RemoteKV } from '../store/kv-remote.js';
import { casKey, rangeKey } from './closed-loop-suites.js';
import { LatencyHistogram } from './histogram.js';
import type { LoadTimes, WorkerOutcome } from './load-protocol.js';
import { machineInfo } from './machine.js';
import { nowNs } from './meter.js';
import { machineCpuMs, processesCpuMs } from './process-cpu.js';
import { MIB, PeakRssSampler, rssBytes } from './process-memory.js';
import type { Profile } from './profiles.js';
import { silentProgress, type Progress } from './progress.js';
import { CHART_FILE, REPORT_FILE, RESULTS_FILE } from './report-files.js';
import { renderReport } from './report-md.js';
import { renderChart } from './report-svg.js';
import {
  isEventSuite,
  type BenchFailure,
  type BenchResult,
  type BenchResults,
  type SuiteName,
  type TargetName,
} from './results.js';
import { planSuite, type ApiWatchTarget, type SuitePlan } from './suite-plan.js';
import { startTarget, type RunningTarget, type TargetApiServer } from './target-cluster.js';
import { MAX_WORKERS, WorkerPool } from './worker-pool.js';

export interface BenchOptions {
  targets: TargetName[];
  /** The CLI entry of the keelson build run as target `baseline`. */
  baseline?: string;
  members: 1 | 3;
  suites: SuiteName[];
  profile: Profile;
  outDir: string;
  /** Load-generator processes (default: see defaultWorkers). */
  workers?: number;
  progress?: Progress;
}

/** Quantiles kept in results.json for the latency-distribution chart. */
const QUANTILES = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];
/** Load starts this long after the run message, so every worker begins at the same instant. */
const START_DELAY_MS = 150;
/** In-flight ops at the end of the window get this long to finish before they are abandoned. */
const GIVE_UP_AFTER_MS = 10_000;
const STATUS_MS = 1000;
const SETUP_TIMEOUT_MS = 10_000;

/**
 * Two processes at least (so one event loop is never the only one), one per core otherwise, at
 * most 4: on a small machine more load generators only take CPU from the servers being measured.
 * KEELSON_BENCH_WORKERS overrides it (to check whether the client side limits a result).
 */
export function defaultWorkers(): number {
  const env = process.env.KEELSON_BENCH_WORKERS;
  if (env !== undefined && /^\d+$/.test(env)) return Math.min(MAX_WORKERS, Math.max(1, Number(env)));
  return Math.min(4, Math.max(2, cpus().length));
}

function fmtRate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Puts the keys a suite reads (range, txn-cas) in place before its load starts. */
async function setupKeys(target: RunningTarget, plan: SuitePlan, profile: Profile): Promise<void> {
  const task = plan.tasks[0]!;
  const kv = new RemoteKV({ endpoints: target.endpoints, timeoutMs: SETUP_TIMEOUT_MS });
  try {
    const value = Buffer.alloc(profile.valueBytes, 'v');
    if (plan.suite === 'range-lin' || plan.suite === 'range-ser') await kv.put({ key: rangeKey(task), value });
    if (plan.suite === 'txn-cas') {
      for (let i = 0; i < profile.casKeys; i++) await kv.put({ key: casKey(task, i), value });
    }
  } finally {
    await kv.close();
  }
}

interface CpuSample {
  /** CPU ms of the target's server processes, of the Kubernetes API server's process, of the whole machine, and when (hrtime ns). */
  server: number;
  api: number;
  machine: number;
  steal: number;
  ns: number;
}

/** apiserver-watch: the API server measured, and its memory around the run. */
interface ApiMeasure {
  api: TargetApiServer;
  /** Its RSS (bytes) before the watchers connected. */
  baseRss: number;
  /** Peaks: [API server process, then each member process that is not it]. */
  peaks: number[];
  peakSum: number;
}

function roundMb(bytes: number): number {
  return Math.round((bytes / MIB) * 10) / 10;
}

/** One measured window of a suite on a target: one round of it. */
interface Measured {
  plan: SuitePlan;
  /** One per worker process, in the pool's order. */
  outcomes: WorkerOutcome[];
  /** CPU used during the window (ms; `ns`: the window's length). */
  cpu: CpuSample;
  /** Closed-loop suites: the measured window (ms). */
  windowMs: number;
  apiMeasure?: ApiMeasure;
}

function cpuDelta(a: CpuSample, b: CpuSample): CpuSample {
  return { server: b.server - a.server, api: b.api - a.api, machine: b.machine - a.machine, steal: b.steal - a.steal, ns: b.ns - a.ns };
}

function cpuSum(xs: readonly CpuSample[]): CpuSample {
  return xs.reduce((s, x) => ({ server: s.server + x.server, api: s.api + x.api, machine: s.machine + x.machine, steal: s.steal + x.steal, ns: s.ns + x.ns }), {
    server: 0,
    api: 0,
    machine: 0,
    steal: 0,
    ns: 0,
  });
}

/** A worker's CPU and event-loop utilisation over every round it ran (the same process each round). */
function workerLoads(rounds: readonly Measured[]): { pct: number; elu: number }[] {
  const n = Math.max(0, ...rounds.map((m) => m.outcomes.length));
  return Array.from({ length: n }, (_, w) => {
    let cpuUs = 0;
    let windowNs = 0;
    let busyNs = 0;
    for (const m of rounds) {
      const o = m.outcomes[w];
      if (!o) continue;
      cpuUs += o.cpuUs;
      windowNs += o.windowNs;
      busyNs += o.elu * o.windowNs;
    }
    return windowNs > 0 ? { pct: (cpuUs * 1000 * 100) / windowNs, elu: busyNs / windowNs } : { pct: 0, elu: 0 };
  });
}

function aggregate(target: RunningTarget, profile: Profile, workers: number, rounds: readonly Measured[]): BenchResult {
  const plan = rounds[0]!.plan;
  const outcomes = rounds.flatMap((m) => m.outcomes);
  const cpu = cpuSum(rounds.map((m) => m.cpu));
  const windowMs = cpu.ns / 1e6;
  const pctOfWindow = (cpuMs: number) => (windowMs > 0 ? Math.round((cpuMs * 100) / windowMs) : 0);
  const hist = new LatencyHistogram();
  let count = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const extra: Record<string, number> = {};
  for (const o of outcomes) {
    hist.merge(o.histogram);
    count += o.count;
    errors += o.errors;
    for (const s of o.errorSamples) if (errorSamples.length < 5 && !errorSamples.includes(s)) errorSamples.push(s);
    for (const [k, v] of Object.entries(o.extra)) extra[k] = (extra[k] ?? 0) + v;
  }
  const loads = workerLoads(rounds);
  const clientCpu = loads.reduce((s, l) => s + l.pct, 0);
  const maxWorkerCpu = Math.max(0, ...loads.map((l) => l.pct));
  const maxElu = Math.max(0, ...loads.map((l) => l.elu));
  extra.rounds = rounds.length;
  let durationMs: number;
  const rate: { opsPerSec: number } | { eventsPerSec: number } = (() => {
    if (!isEventSuite(plan.suite)) {
      durationMs = rounds.reduce((s, m) => s + m.windowMs, 0);
      return { opsPerSec: durationMs > 0 ? count / (durationMs / 1000) : 0 };
    }
    // From a round's first put to its last event, summed over the rounds.
    let putNs = 0;
    let eventNs = 0;
    for (const m of rounds) {
      const firstPut = Math.min(...m.outcomes.map((o) => o.firstPutNs ?? Infinity));
      const lastEvent = Math.max(...m.outcomes.map((o) => o.lastEventNs ?? 0));
      const lastPut = Math.max(...m.outcomes.map((o) => o.lastPutNs ?? 0));
      if (Number.isFinite(firstPut) && lastPut > firstPut) putNs += lastPut - firstPut;
      if (Number.isFinite(firstPut) && lastEvent > firstPut) eventNs += lastEvent - firstPut;
    }
    const puts = outcomes.reduce((s, o) => s + (o.puts ?? 0), 0);
    extra.writers = plan.writers;
    extra.eventsExpected = outcomes.reduce((s, o) => s + (o.expected ?? 0), 0);
    extra.puts = puts;
    extra.eventsPerWrite = plan.tasks[0]!.eventsPerWrite;
    if (putNs > 0) extra.putsPerSec = Math.round(puts / (putNs / 1e9));
    durationMs = eventNs / 1e6;
    return { eventsPerSec: durationMs > 0 ? count / (durationMs / 1000) : 0 };
  })();
  const ms = (us: number) => Math.round(us) / 1000;
  const apiFields: Pick<BenchResult, 'apiServerRssMb' | 'watchersLost'> = {};
  const apiMeasure = rounds[0]!.apiMeasure;
  if (apiMeasure) {
    const { api } = apiMeasure;
    const a = profile.apiWatch;
    apiFields.apiServerRssMb = roundMb(apiMeasure.peaks[0]!);
    apiFields.watchersLost = extra.watchersLost ?? 0;
    delete extra.watchersLost;
    extra.writesPerSecTarget = a.writesPerSecond;
    extra.pods = a.pods;
    extra.apiServerRssBaseMb = roundMb(apiMeasure.baseRss);
    extra.apiServerCpuPercent = pctOfWindow(cpu.api);
    // Everything the API needed, store included: keelson's masters; etcd's members plus its API server.
    extra.totalPeakRssMb = roundMb(apiMeasure.peakSum);
    extra.apiInMemberProcess = api.inMemberProcess ? 1 : 0;
    extra.apiMemberIsLeader = target.members.find((m) => m.name === api.member)?.endpoint === target.leaderEndpoint ? 1 : 0;
  }
  return {
    suite: plan.suite,
    target: target.target,
    members: target.members.length,
    clients: plan.clients,
    connections: plan.connections,
    workers,
    ...rate,
    p50Ms: ms(hist.quantileUs(0.5)),
    p99Ms: ms(hist.quantileUs(0.99)),
    p999Ms: ms(hist.quantileUs(0.999)),
    meanMs: ms(hist.meanUs()),
    maxMs: ms(hist.quantileUs(1)),
    count,
    durationMs: Math.round(durationMs!),
    errors,
    errorSamples,
    clientCpuPercent: Math.round(clientCpu),
    clientMaxWorkerCpuPercent: Math.round(maxWorkerCpu),
    clientMaxWorkerElu: Math.round(maxElu * 100) / 100,
    serverCpuPercent: pctOfWindow(cpu.server),
    machineCpuPercent: pctOfWindow(cpu.machine),
    stealCpuPercent: pctOfWindow(cpu.steal),
    latency: QUANTILES.map((q) => ({ q, ms: ms(hist.quantileUs(q)) })),
    ...apiFields,
    extra,
  };
}

/** apiserver-watch: the target's API server and a fresh namespace on it to watch. */
async function prepareApiWatch(target: RunningTarget, runTag: string): Promise<{ api: TargetApiServer; at: ApiWatchTarget }> {
  const api = await target.kubernetesApi();
  const namespace = `bench-${runTag}`;
  const resourceVersion = await preparePodNamespace(api.url, namespace);
  return { api, at: { url: api.url, namespace, resourceVersion } };
}

/** Which round of a suite this is (on one target). */
interface Round {
  n: number;
  of: number;
}

/** Closed-loop suites: a round's unmeasured load, then its measured window (ms). */
interface ClosedLoopWindow {
  warmupMs: number;
  durationMs: number;
}

/**
 * Runs one window of a suite on a target: a round of a closed-loop suite (`window`), or a round
 * of a watch suite (its puts are the profile's).
 */
async function measure(
  suite: SuiteName,
  target: RunningTarget,
  pool: WorkerPool,
  profile: Profile,
  progress: Progress,
  label: string,
  round: Round,
  window?: ClosedLoopWindow,
): Promise<Measured> {
  const runTag = Date.now().toString(36);
  const apiWatch = suite === 'apiserver-watch' ? await prepareApiWatch(target, runTag) : undefined;
  const plan = planSuite(suite, profile, target.endpoints, target.leaderEndpoint, pool.size, runTag, apiWatch?.at);
  const api = apiWatch?.api;
  const memberPids = target.members.map((m) => m.pid);
  // Server CPU: the members, and the API server's process when it is not one of them.
  const pids = api && !memberPids.includes(api.pid) ? [...memberPids, api.pid] : memberPids;
  const rss = api ? new PeakRssSampler([api.pid, ...memberPids.filter((p) => p !== api.pid)]) : undefined;
  const baseRss = api ? rssBytes(api.pid) : 0;
  if (!api) await setupKeys(target, plan, profile);
  const what = round.of > 1 ? `${suite} round ${round.n}/${round.of}` : suite;
  progress.status(`${label} ${what}: preparing ${plan.clients} ${isEventSuite(suite) ? 'watchers' : 'clients'} on ${plan.connections} connections`);
  try {
    rss?.start();
    await pool.prepare(plan.tasks);
    const startAt = nowNs() + START_DELAY_MS * 1e6;
    const event = window === undefined;
    const measureStart = event ? startAt : startAt + window.warmupMs * 1e6;
    // apiserver-watch writes for its duration first; other watch suites write as fast as they can.
    const eventEnd = startAt + ((api ? profile.apiWatch.durationMs : 0) + profile.watchTimeoutMs) * 1e6;
    const measureEnd = event ? eventEnd : measureStart + window.durationMs * 1e6;
    const times: LoadTimes = { startAt, measureStart, measureEnd, giveUpAt: event ? measureEnd : measureEnd + GIVE_UP_AFTER_MS * 1e6 };

    // Server and machine CPU over the same window the workers measure.
    let atStart: CpuSample = { server: 0, api: 0, machine: 0, steal: 0, ns: 0 };
    let atEnd: CpuSample | undefined;
    const apiPids = api ? [api.pid] : [];
    const sample = (): CpuSample => {
      const m = machineCpuMs();
      return { server: processesCpuMs(pids), api: processesCpuMs(apiPids), machine: m.busy, steal: m.steal, ns: nowNs() };
    };
    const startTimer = setTimeout(() => (atStart = sample()), (measureStart - nowNs()) / 1e6);
    const endTimer = event ? undefined : setTimeout(() => (atEnd = sample()), (measureEnd - nowNs()) / 1e6);
    const unit = event ? 'events' : 'ops';
    const status = setInterval(() => {
      const t = nowNs();
      const n = pool.progress;
      if (t < measureStart) {
        progress.status(`${label} ${what}: warming up`);
      } else if (event) {
        progress.status(`${label} ${what}: ${((t - startAt) / 1e9).toFixed(1)} s, ${fmtRate(n)} ${unit} delivered`);
      } else {
        const el = Math.min(t, measureEnd) - measureStart;
        progress.status(
          `${label} ${what}: ${(el / 1e9).toFixed(1)}/${(window.durationMs / 1000).toFixed(1)} s, ${fmtRate(n)} ${unit} (${fmtRate(n / (el / 1e9))}/s)`,
        );
      }
    }, STATUS_MS);
    let outcomes: WorkerOutcome[];
    try {
      outcomes = await pool.run(times);
    } finally {
      clearInterval(status);
      clearTimeout(startTimer);
      if (endTimer) clearTimeout(endTimer);
    }
    atEnd ??= sample();
    const mem = rss?.stop();
    const m: Measured = { plan, outcomes, cpu: cpuDelta(atStart, atEnd), windowMs: event ? 0 : window.durationMs };
    if (api && mem) m.apiMeasure = { api, baseRss, peaks: mem.peaks, peakSum: mem.peakSum };
    return m;
  } finally {
    rss?.stop();
    const problems = await pool.close();
    for (const p of problems) progress.note(`${label} ${what}: closing: ${p}`);
  }
}

/** A watch suite's sizes with `events` puts (and no warm-up of its own). */
function withWatchEvents(profile: Profile, suite: SuiteName, events: number): Profile {
  const sizes = suite === 'watch-fanout' ? profile.fanout : profile.many;
  const s = { ...sizes, events, warmupEvents: 0 };
  return suite === 'watch-fanout' ? { ...profile, fanout: s } : { ...profile, many: s };
}

interface Running {
  name: TargetName;
  label: string;
  target: RunningTarget;
}

/**
 * A suite on every target, in rounds taken in turn (Profile.rounds, Profile.watchRounds): each
 * target's round 1, then each target's round 2, ... The watch suites first run their unmeasured
 * warm-up on each target; apiserver-watch, which runs at a fixed rate and measures memory too,
 * is one round. A target whose round fails is recorded as failed and sits out the rest.
 */
async function runSuite(
  suite: SuiteName,
  running: readonly Running[],
  pool: WorkerPool,
  profile: Profile,
  progress: Progress,
  failures: BenchFailure[],
): Promise<{ label: string; result: BenchResult }[]> {
  const event = isEventSuite(suite);
  const rounds = suite === 'apiserver-watch' ? 1 : Math.max(1, Math.floor(event ? profile.watchRounds : profile.rounds));
  const measured = new Map<Running, Measured[]>(running.map((r) => [r, []]));
  const failed = (r: Running, err: unknown) => {
    const message = (err as Error).message;
    failures.push({ target: r.name, suite, message });
    progress.note(`${r.label} ${suite}: FAILED: ${message}`);
    measured.delete(r);
  };
  const sizes = suite === 'watch-fanout' ? profile.fanout : suite === 'watch-many' ? profile.many : undefined;
  if (sizes && sizes.warmupEvents > 0) {
    // The unmeasured first round (see WatchSizes.warmupEvents); its result is dropped.
    const warm = withWatchEvents(profile, suite, sizes.warmupEvents);
    for (const r of running) {
      try {
        const w = await measure(suite, r.target, pool, warm, progress, `${r.label} warm-up:`, { n: 1, of: 1 });
        progress.note(`${r.label} ${suite}: warm-up round (not counted): ${summaryLine(aggregate(r.target, warm, pool.size, [w]))}`);
      } catch (err) {
        failed(r, err);
      }
    }
  }
  const roundProfile = sizes ? withWatchEvents(profile, suite, Math.ceil(sizes.events / rounds)) : profile;
  for (let n = 1; n <= rounds; n++) {
    for (const r of running) {
      const done = measured.get(r);
      if (!done) continue;
      const window = event ? undefined : { warmupMs: n === 1 ? profile.warmupMs : profile.roundWarmupMs, durationMs: profile.durationMs / rounds };
      try {
        const m = await measure(suite, r.target, pool, roundProfile, progress, r.label, { n, of: rounds }, window);
        done.push(m);
        if (rounds > 1) {
          const one = aggregate(r.target, roundProfile, pool.size, [m]);
          const rate = event ? `${fmtRate(one.eventsPerSec ?? 0)} events/s` : `${fmtRate(one.opsPerSec ?? 0)} ops/s`;
          progress.note(`${r.label} ${suite} round ${n}/${rounds}: ${rate}, p99 ${one.p99Ms} ms (host steal ${one.stealCpuPercent}%)`);
        }
      } catch (err) {
        failed(r, err);
      }
    }
  }
  return [...measured].map(([r, ms]) => ({ label: r.label, result: aggregate(r.target, roundProfile, pool.size, ms) }));
}

function summaryLine(r: BenchResult): string {
  const rate = r.eventsPerSec !== undefined ? `${fmtRate(r.eventsPerSec)} events/s` : `${fmtRate(r.opsPerSec ?? 0)} ops/s`;
  const errs = r.errors > 0 ? `, ${r.errors} errors (${r.errorSamples[0]})` : '';
  const mem = r.apiServerRssMb !== undefined ? `, API server RSS ${r.apiServerRssMb} MB, ${r.watchersLost ?? 0} watchers lost` : '';
  return `${rate}${mem}, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, CPU: client ${r.clientCpuPercent}% (busiest worker ${r.clientMaxWorkerCpuPercent}%), server ${r.serverCpuPercent}%, machine ${r.machineCpuPercent}% (host steal ${r.stealCpuPercent}%)${errs}`;
}

/**
 * apiserver-watch runs first on each fresh cluster: keelson's API server is a master, whose
 * memory otherwise holds everything the earlier suites stored, and the RSS it reports would be
 * mostly theirs. The others run in the order given.
 */
export function runOrder(suites: readonly SuiteName[]): SuiteName[] {
  return [...suites.filter((s) => s === 'apiserver-watch'), ...suites.filter((s) => s !== 'apiserver-watch')];
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const progress = opts.progress ?? silentProgress;
  const workers = opts.workers ?? defaultWorkers();
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const machine = machineInfo();
  const results: BenchResult[] = [];
  const failures: BenchFailure[] = [];
  const pool = WorkerPool.start(workers);
  // Every target is started first; then each suite runs on each target in turn. A shared
  // machine's speed drifts over minutes (other tenants of the host), and interleaving puts the
  // targets' runs of a suite within the same minute or two, so the drift hits both alike (and
  // their rounds within seconds of each other). An idle cluster's own background work
  // (heartbeats) is a fraction of a percent of a core.
  const running: Running[] = [];
  try {
    for (const targetName of opts.targets) {
      const label = `[${targetName} x${opts.members}]`;
      progress.status(`${label} starting ${opts.members} member${opts.members > 1 ? 's' : ''}`);
      try {
        const target = await startTarget(targetName, opts.members, {
          kubernetesApi: opts.suites.includes('apiserver-watch'),
          ...(opts.baseline !== undefined ? { baselineCli: opts.baseline } : {}),
        });
        running.push({ name: targetName, label, target });
        progress.note(`${label} started (leader ${target.leaderEndpoint}, data in ${target.dir})`);
      } catch (err) {
        const message = (err as Error).message;
        failures.push({ target: targetName, message });
        progress.note(`${label} could not start: ${message.split('\n')[0]}`);
      }
    }
    for (const suite of runOrder(opts.suites)) {
      for (const { label, result } of await runSuite(suite, running, pool, opts.profile, progress, failures)) {
        results.push(result);
        progress.note(`${label} ${suite}: ${summaryLine(result)}`);
      }
    }
  } finally {
    for (const { target } of running) await target.stop().catch(() => undefined);
    await pool.stop();
    progress.done();
  }
  const out: BenchResults = {
    machine,
    config: {
      targets: opts.targets,
      ...(opts.baseline !== undefined ? { baseline: opts.baseline } : {}),
      members: opts.members,
      suites: opts.suites,
      profile: opts.profile.name,
      workers,
    },
    startedAt,
    wallSeconds: Math.round((Date.now() - t0) / 100) / 10,
    results,
    failures,
  };
  await mkdir(opts.outDir, { recursive: true });
  await writeFile(join(opts.outDir, RESULTS_FILE), JSON.stringify(out, null, 2) + '\n');
  await writeFile(join(opts.outDir, REPORT_FILE), renderReport(out));
  await writeFile(join(opts.outDir, CHART_FILE), renderChart(out));
  return out;
}
