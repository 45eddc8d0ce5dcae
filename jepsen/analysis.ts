// The checking half of a Jepsen run in one call: given the recorded history and the workload,
// run the checkers that apply and build results.json's object. Each checker only looks at its
// own workload's operations (register: read/write/cas/delete; append: txn; watch: watch-*;
// lease: lease-*), so `all` checks one mixed history with every checker.

import { faultPeriods, pairOperations, type HistoryEntry } from './history.js';
import type { Json } from './json.js';
import { checkAppend } from './checker/append.js';
import { checkLease, type LeaseOptions } from './checker/lease.js';
import { checkLinearizable } from './checker/linearizable.js';
import { registerModel } from './checker/models/register.js';
import { checkWatch } from './checker/watch.js';
import { buildResults, type CheckerResults, type Results } from './report/results.js';

export const WORKLOADS = ['register', 'append', 'watch', 'lease', 'all'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface AnalysisOptions {
  workload: Workload;
  /** Linearizability search budget (ms); past it the register verdict is "unknown". Default 10 s. */
  budgetMs?: number;
  /** Time to shrink each linearizability violation to a small explanation (ms). Default 2 s. */
  explainBudgetMs?: number;
  /** Append: check strict serializability (real-time edges). Default true. */
  realtime?: boolean;
  /** Lease checker tuning; the run's fault periods are passed to it automatically. */
  lease?: Omit<LeaseOptions, 'faults'>;
  /** Copied into results.json (workload, nemesis, seed, target, ...). */
  meta?: { [key: string]: Json };
  /** Clock for the budgets (ms). Default performance.now. */
  now?: () => number;
}

export function analyzeHistory(entries: readonly HistoryEntry[], o: AnalysisOptions): Results {
  const ops = pairOperations(entries);
  const wants = (w: Workload): boolean => o.workload === w || o.workload === 'all';
  const checkers: CheckerResults = {};
  if (wants('register')) {
    checkers.linearizable = checkLinearizable(registerModel, ops, {
      ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}),
      ...(o.explainBudgetMs !== undefined ? { explainBudgetMs: o.explainBudgetMs } : {}),
      ...(o.now !== undefined ? { now: o.now } : {}),
    });
  }
  if (wants('append')) checkers.append = checkAppend(ops, o.realtime !== undefined ? { realtime: o.realtime } : {});
  if (wants('watch')) checkers.watch = checkWatch(ops);
  if (wants('lease')) checkers.lease = checkLease(ops, { ...o.lease, faults: faultPeriods(entries) });
  return buildResults({ entries, ops, checkers, meta: { workload: o.workload, ...o.meta } });
}
