// One Jepsen run, start to finish (what `keelson jepsen` does):
//  1. start a fresh cluster of the target in a temporary folder, behind fault proxies;
//  2. main phase (--time): the workload's clients run operations while the nemesis injects the
//     faults planned from the seed; every operation and fault goes to history.jsonl as it happens;
//  3. heal every fault, wait until the cluster works again, run the final reads;
//  4. stop the cluster, keep its logs (DIR/logs), remove the temporary folder;
//  5. check the history and write results.json, timeline.html and the latency plots.
// Exit code: 0 valid, 1 anomaly found, 2 the run failed (did not complete: the cluster would not
// start or recover, Ctrl-C, ...) or the checkers could not decide (valid: "unknown").

import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Prng } from '../../common/prng.js';
import { makeTempDir, type TempDir } from '../../common/temp-dir.js';
import { RemoteKV } from '../../store/kv-remote.js';
import { analyzeHistory, type Workload as WorkloadName } from '../analysis.js';
import { ClientLane, OpCounts, ProcessIds } from '../client/client-lane.js';
import { describeError } from '../client/outcome.js';
import { JepsenCluster } from '../cluster/jepsen-cluster.js';
import type { Target } from '../cluster/targets.js';
import { HistoryRecorder } from '../history-recorder.js';
import type { Json } from '../json.js';
import { LinkFaults } from '../net/link-faults.js';
import { planFaults, type NemesisKind, type PlannedFault } from '../nemesis/fault-plan.js';
import { NemesisRunner } from '../nemesis/nemesis-runner.js';
import { exitCodeFor, type Results, type Validity } from '../report/results.js';
import { writeReport } from '../report/write-report.js';
import type { ReadMode, WorkloadEnv } from '../workload/workload.js';
import { makeWorkloads } from '../workload/workloads.js';
import { HistoryFile } from './history-file.js';
import { summarize } from './summary.js';

/** Bound on history records (about 200 bytes each in memory). */
export const MAX_HISTORY_ENTRIES = 3_000_000;
const DEFAULT_OP_TIMEOUT_MS = 2000;
/** How long the healed cluster has to work again before the run is declared failed. */
const HEAL_TIMEOUT_MS = 60_000;
/** Member logs larger than this are not copied to DIR/logs. */
const MAX_LOG_COPY_BYTES = 200 * 1024 * 1024;

export interface JepsenOptions {
  timeSec: number;
  workload: WorkloadName;
  nemesis: readonly NemesisKind[];
  seed: number;
  outDir: string;
  clients: number;
  readMode: ReadMode;
  target: Target;
  members?: number;
  opTimeoutMs?: number;
  /** Linearizability search budget; default max(10 s, min(120 s, the run's length)). */
  checkBudgetMs?: number;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
  /** Aborting it (Ctrl-C) stops the run as soon as possible: exit code 2. */
  signal?: AbortSignal;
}

export interface JepsenOutcome {
  exitCode: 0 | 1 | 2;
  valid: Validity;
  results: Results;
  /** Why the run did not complete, if it did not. */
  error?: string;
  summary: string;
}

/**
 * One PRNG from the seed, forked into independent streams: the fault schedule, the network's
 * random losses and jitter, the clients' choices. Exported so tests can see a seed's plan.
 */
export function seedStreams(o: Pick<JepsenOptions, 'seed' | 'nemesis' | 'timeSec'>): { plan: PlannedFault[]; netPrng: Prng; workPrng: Prng } {
  const root = new Prng(o.seed);
  const plan = planFaults(o.nemesis, o.timeSec * 1000, root.fork());
  return { plan, netPrng: root.fork(), workPrng: root.fork() };
}

/** Waits for every promise; returns the first rejection's error, if any. */
async function settle(ps: readonly Promise<unknown>[]): Promise<unknown> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  return bad?.reason;
}

export async function runJepsen(o: JepsenOptions): Promise<JepsenOutcome> {
  const log = o.progress ?? (() => undefined);
  const opTimeoutMs = o.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
  const runMs = o.timeSec * 1000;
  await mkdir(o.outDir, { recursive: true });
  const history = new HistoryFile(join(o.outDir, 'history.jsonl'));

  const { plan, netPrng, workPrng } = seedStreams(o);
  const faults = new LinkFaults(netPrng);

  let t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const recorder = new HistoryRecorder({ now, maxEntries: MAX_HISTORY_ENTRIES, sink: (e) => history.append(e) });
  const counts = new OpCounts();
  const notes: string[] = [];
  const cancel = new AbortController();
  const stopping = new AbortController();
  const onSignal = (): void => {
    cancel.abort();
    stopping.abort();
  };
  o.signal?.addEventListener('abort', onSignal, { once: true });
  if (o.signal?.aborted) onSignal();

  let tmp: TempDir | undefined;
  let cluster: JepsenCluster | undefined;
  let nemesis: NemesisRunner | undefined;
  const clients: RemoteKV[] = [];
  let runError: unknown;
  let progressTimer: NodeJS.Timeout | undefined;
  let endTimer: NodeJS.Timeout | undefined;

  try {
    tmp = await makeTempDir('keelson-jepsen-');
    log(`jepsen: starting a ${o.members ?? 3}-member ${o.target.name} cluster in ${tmp.path}`);
    cluster = await JepsenCluster.start({ target: o.target, dir: tmp.path, faults, ...(o.members !== undefined ? { members: o.members } : {}), log });
    const c = cluster;
    const ids = new ProcessIds(0);
    const client = (member: string): RemoteKV => {
      const kv = new RemoteKV({ endpoints: [c.clientEndpoint(member)], timeoutMs: opTimeoutMs, retryReads: false });
      clients.push(kv);
      return kv;
    };
    const env: WorkloadEnv = {
      recorder,
      members: c.names,
      readMode: o.readMode,
      opTimeoutMs,
      ids,
      counts,
      stopping: stopping.signal,
      cancelled: cancel.signal,
      client,
      lane: (member) => {
        const kv = client(member);
        return { lane: new ClientLane(recorder, member, ids.next(), ids, counts, opTimeoutMs), kv };
      },
      note: (text) => {
        notes.push(text);
        log(`jepsen: note: ${text}`);
      },
      log,
    };
    const workloads = makeWorkloads(o.workload, o.clients);
    const prngs = workloads.map(() => workPrng.fork());
    nemesis = new NemesisRunner({ cluster: c, faults, recorder, now, log }, plan);
    const nem = nemesis;

    t0 = performance.now();
    log(`jepsen: ${o.workload} for ${o.timeSec} s, ${o.clients} clients, nemesis ${o.nemesis.join(',') || 'none'} (${plan.length} faults planned), seed ${o.seed}`);
    const every = runMs >= 60_000 ? 5000 : 2000;
    progressTimer = setInterval(() => {
      log(`jepsen: ${(now() / 1000).toFixed(1)}/${o.timeSec} s  ok ${counts.ok} fail ${counts.fail} info ${counts.info}  fault: ${nem.current}`);
    }, every);
    endTimer = setTimeout(() => stopping.abort(), runMs);

    const main = [...workloads.map((w, i) => w.run(env, prngs[i] as Prng)), nem.run(stopping.signal)];
    // A lane or the nemesis failing ends the main phase for everyone.
    for (const p of main) p.catch(() => stopping.abort());
    const mainError = await settle(main);
    if (mainError !== undefined) throw mainError;
    clearInterval(progressTimer);
    if (cancel.signal.aborted) throw new Error('interrupted');

    log(`jepsen: main phase over (ok ${counts.ok} fail ${counts.fail} info ${counts.info}); healing every fault`);
    await nem.healAll();
    await c.waitHealthy(HEAL_TIMEOUT_MS);
    log('jepsen: cluster healthy; final reads');
    const finalError = await settle(workloads.map((w, i) => w.finish(env, prngs[i] as Prng)));
    if (finalError !== undefined) throw finalError;
    if (cancel.signal.aborted) throw new Error('interrupted');
  } catch (err) {
    runError = err;
    log(`jepsen: run failed: ${describeError(err)}`);
  } finally {
    clearInterval(progressTimer);
    clearTimeout(endTimer);
    cancel.abort(); // anything still running (watchers of a failed run) stops now
    stopping.abort();
    o.signal?.removeEventListener('abort', onSignal);
    await Promise.all(clients.map((k) => k.close()));
    await cluster?.stop();
    if (tmp !== undefined) {
      await copyLogs(tmp.path, join(o.outDir, 'logs')).catch(() => undefined);
      await tmp.cleanup();
    }
  }

  recorder.closeAll();
  history.close();
  const entries = recorder.entries();
  const interrupted = o.signal?.aborted === true;
  log(`jepsen: checking ${entries.length} history records`);
  const meta: { [key: string]: Json } = {
    seed: o.seed,
    nemesis: o.nemesis.join(',') || 'none',
    target: o.target.name,
    timeSec: o.timeSec,
    clients: o.clients,
    readMode: o.readMode,
    opTimeoutMs,
    plan: plan.map((f) => ({ id: f.id, kind: f.kind, atMs: f.atMs, durationMs: f.durationMs })),
    notes,
  };
  const error = runError === undefined ? undefined : interrupted ? 'interrupted' : describeError(runError);
  if (error !== undefined) meta.error = error;
  const results = analyzeHistory(entries, {
    workload: o.workload,
    budgetMs: interrupted ? 1000 : (o.checkBudgetMs ?? Math.max(10_000, Math.min(120_000, runMs))),
    meta,
  });
  await writeReport(o.outDir, {
    entries,
    results,
    title: `keelson jepsen: ${o.workload} on ${o.target.name}`,
    subtitle: `nemesis ${meta.nemesis as string}, seed ${o.seed}, ${o.timeSec} s, ${o.clients} clients, ${o.readMode} reads${error !== undefined ? ` — RUN FAILED: ${error}` : ''}`,
    writeHistory: false,
  });
  const exitCode = error !== undefined ? 2 : exitCodeFor(results.valid);
  const summary = summarize({ results, options: o, outDir: o.outDir, faults: nemesis?.started ?? 0, ...(error !== undefined ? { error } : {}) });
  return { exitCode, valid: results.valid, results, ...(error !== undefined ? { error } : {}), summary };
}

/** Copies the members' logs (every *.log of the run's folder) to DIR/logs: they explain what the cluster did. */
async function copyLogs(from: string, to: string): Promise<void> {
  const logs = (await readdir(from)).filter((f) => f.endsWith('.log'));
  if (logs.length === 0) return;
  await mkdir(to, { recursive: true });
  for (const f of logs) {
    const s = await stat(join(from, f)).catch(() => undefined);
    if (s === undefined || s.size > MAX_LOG_COPY_BYTES) continue;
    await copyFile(join(from, f), join(to, f));
  }
}
