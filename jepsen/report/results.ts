// results.json: the verdict of a run. valid is false when any checker found an anomaly,
// "unknown" when none did but some could not decide (time budget) or nothing was checked, true
// otherwise. Every anomaly is listed in one flat shape (checker, type, message, the history
// indexes of its operations) that the timeline highlights; each checker's full result follows.

import { countOutcomes, faultPeriods, historySpan, pairOperations, type HistoryEntry, type Operation } from '../history.js';
import type { Json } from '../json.js';
import type { AppendResult } from '../checker/append.js';
import type { LeaseResult } from '../checker/lease.js';
import type { LinearizabilityResult } from '../checker/linearizable.js';
import type { WatchResult } from '../checker/watch.js';
import { latencySummaries, PERCENTILES, type LatencySummary } from './latency-stats.js';

export type Validity = boolean | 'unknown';

export interface Anomaly {
  checker: string;
  type: string;
  message: string;
  /** History indexes (of invocations) of the operations involved. */
  ops: number[];
  key?: string;
}

export interface CheckerResults {
  linearizable?: LinearizabilityResult;
  append?: AppendResult;
  watch?: WatchResult;
  lease?: LeaseResult;
}

export interface Results {
  valid: Validity;
  ops: { ok: number; fail: number; info: number };
  anomalies: Anomaly[];
  checkers: CheckerResults;
  faults: Array<{ kind: string; targets: string[]; start: number; end: number }>;
  latency: { percentiles: readonly number[]; byOperation: LatencySummary[] };
  durationMs: number;
  /** What the harness ran: workload, nemesis, seed, target, ... */
  meta: { [key: string]: Json };
}

export interface ResultsInput {
  entries: readonly HistoryEntry[];
  checkers: CheckerResults;
  meta?: { [key: string]: Json };
  /** Already paired operations (saves pairing twice); derived from entries otherwise. */
  ops?: readonly Operation[];
}

/** Every anomaly of every checker, in the flat shape. */
export function collectAnomalies(c: CheckerResults): Anomaly[] {
  const out: Anomaly[] = [];
  for (const v of c.linearizable?.violations ?? []) {
    out.push({ checker: 'linearizable', type: 'nonlinearizable', message: v.message, ops: v.ops, key: v.key });
  }
  for (const a of c.append?.anomalies ?? []) {
    const x: Anomaly = { checker: 'append', type: a.type, message: a.message, ops: a.txns };
    if (a.key !== undefined) x.key = a.key;
    out.push(x);
  }
  for (const a of c.watch?.anomalies ?? []) out.push({ checker: 'watch', type: a.type, message: a.message, ops: a.ops, key: a.key });
  for (const a of c.lease?.anomalies ?? []) {
    const x: Anomaly = { checker: 'lease', type: a.type, message: a.message, ops: a.ops };
    if (a.key !== undefined) x.key = a.key;
    out.push(x);
  }
  return out;
}

export function combineValidity(vs: readonly Validity[]): Validity {
  if (vs.length === 0) return 'unknown';
  if (vs.some((v) => v === false)) return false;
  if (vs.every((v) => v === true)) return true;
  return 'unknown';
}

export function buildResults(input: ResultsInput): Results {
  const ops = input.ops ?? pairOperations(input.entries);
  const c = input.checkers;
  const verdicts: Validity[] = [];
  if (c.linearizable) verdicts.push(c.linearizable.valid);
  if (c.append) verdicts.push(c.append.valid);
  if (c.watch) verdicts.push(c.watch.valid);
  if (c.lease) verdicts.push(c.lease.valid);
  const span = historySpan(input.entries);
  return {
    valid: combineValidity(verdicts),
    ops: countOutcomes(ops),
    anomalies: collectAnomalies(c),
    checkers: { ...c },
    faults: faultPeriods(input.entries).map((p) => ({ kind: p.kind, targets: p.targets, start: p.start, end: p.end })),
    latency: { percentiles: PERCENTILES, byOperation: latencySummaries(ops) },
    durationMs: span.end - span.start,
    meta: input.meta ?? {},
  };
}

/** The process exit code for a verdict: 0 valid, 1 anomaly found, 2 undecided. */
export function exitCodeFor(valid: Validity): 0 | 1 | 2 {
  return valid === true ? 0 : valid === false ? 1 : 2;
}

/** results.json's text (non-finite numbers, which JSON cannot hold, become null). */
export function formatResults(r: Results): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
