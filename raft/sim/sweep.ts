// Runs the simulation over a range of seeds and sums what happened, so a reader can see that
// every fault kind was exercised and nothing was violated.

import { emptyStats, runSeed, type SimResult, type SimStats } from './simulation.js';

export interface SweepOptions {
  seeds: number;
  start: number;
  nodes: number;
  steps: number;
  onSeed?: (done: number, result: SimResult) => void;
}

export interface SweepSummary extends SimStats {
  seeds: number;
  violations: number;
}

export interface SweepResult {
  summary: SweepSummary;
  failures: SimResult[];
}

export function runSweep(o: SweepOptions): SweepResult {
  const total = emptyStats();
  const failures: SimResult[] = [];
  let violations = 0;
  for (let i = 0; i < o.seeds; i++) {
    const r = runSeed({ seed: o.start + i, nodes: o.nodes, steps: o.steps });
    for (const k of Object.keys(total) as (keyof SimStats)[]) total[k] += r.stats[k];
    if (r.violations.length > 0) {
      violations += r.violations.length;
      failures.push(r);
    }
    o.onSeed?.(i + 1, r);
  }
  return { summary: { seeds: o.seeds, violations, ...total }, failures };
}

export function replayCommand(seed: number, nodes: number, steps: number): string {
  return `npx keelson sim --seeds 1 --start ${seed} --nodes ${nodes} --steps ${steps}`;
}
