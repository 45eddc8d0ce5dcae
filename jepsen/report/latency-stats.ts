// Latency statistics of operations: per operation type (f) and outcome, the usual percentiles.
// A latency is completion time − invocation time; for an indeterminate operation that is how
// long the client waited before giving up, which is still worth plotting.

import type { CompletionType, Operation } from '../history.js';

export const PERCENTILES = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1] as const;

export interface LatencySummary {
  f: string;
  type: CompletionType;
  count: number;
  /** Latency (ms) at each of PERCENTILES (nearest rank). */
  percentiles: number[];
  mean: number;
}

export function latencyOf(op: Operation): number | undefined {
  return Number.isFinite(op.end) ? Math.max(0, op.end - op.call) : undefined;
}

/** Nearest-rank percentile of a sorted list. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function latencySummaries(ops: readonly Operation[]): LatencySummary[] {
  const groups = new Map<string, { f: string; type: CompletionType; xs: number[] }>();
  for (const op of ops) {
    const l = latencyOf(op);
    if (l === undefined) continue;
    const k = `${op.f}\u0000${op.type}`;
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { f: op.f, type: op.type, xs: [] }));
    g.xs.push(l);
  }
  const order = { ok: 0, fail: 1, info: 2 };
  return [...groups.values()]
    .sort((a, b) => (a.f < b.f ? -1 : a.f > b.f ? 1 : order[a.type] - order[b.type]))
    .map((g) => {
      const xs = g.xs.sort((a, b) => a - b);
      return {
        f: g.f,
        type: g.type,
        count: xs.length,
        percentiles: PERCENTILES.map((q) => percentile(xs, q)),
        mean: xs.reduce((s, x) => s + x, 0) / xs.length,
      };
    });
}
