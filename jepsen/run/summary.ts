// The few lines `keelson jepsen` prints when a run is over: the verdict, what ran, the counts,
// each checker's verdict, the first anomalies, and where the output is.

import type { Results } from '../report/results.js';
import type { JepsenOptions } from './jepsen-run.js';

const MAX_ANOMALIES_SHOWN = 5;

export interface SummaryInput {
  results: Results;
  options: Pick<JepsenOptions, 'workload' | 'target' | 'nemesis' | 'seed' | 'timeSec' | 'clients' | 'readMode'>;
  outDir: string;
  faults: number;
  error?: string;
}

function verdict(r: Results, error: string | undefined): string {
  if (error !== undefined) return `RUN FAILED (${error})`;
  if (r.valid === true) return 'VALID';
  if (r.valid === false) return `INVALID: ${r.anomalies.length} anomal${r.anomalies.length === 1 ? 'y' : 'ies'} found`;
  return 'UNKNOWN: the checkers could not decide';
}

export function summarize(s: SummaryInput): string {
  const { results: r, options: o } = s;
  const lines: string[] = [];
  lines.push(`jepsen ${o.workload} on ${o.target.name}: ${verdict(r, s.error)}`);
  lines.push(`  nemesis ${o.nemesis.join(',') || 'none'} (${s.faults} faults), seed ${o.seed}, ${o.timeSec} s, ${o.clients} clients, ${o.readMode} reads`);
  lines.push(`  ops: ok ${r.ops.ok}, fail ${r.ops.fail}, info ${r.ops.info}`);
  const c = r.checkers;
  if (c.linearizable) {
    const unknownKeys = c.linearizable.keys.filter((k) => k.valid === 'unknown');
    const why = unknownKeys.length > 0 ? ` (${unknownKeys.length} keys undecided: ${[...new Set(unknownKeys.map((k) => k.reason ?? '?'))].join(', ')})` : '';
    lines.push(`  linearizable: ${String(c.linearizable.valid)} — ${c.linearizable.keys.length} keys, ${c.linearizable.opsChecked} ops${why}`);
  }
  if (c.append) lines.push(`  append: ${String(c.append.valid)} — ${c.append.txns.ok + c.append.txns.info} txns, ${c.append.keys} keys`);
  if (c.watch) lines.push(`  watch: ${String(c.watch.valid)} — ${c.watch.watchers} watchers, ${c.watch.sessions} sessions, ${c.watch.eventsDelivered} events`);
  if (c.lease) lines.push(`  lease: ${String(c.lease.valid)} — ${c.lease.leases} leases, ${c.lease.readsChecked} reads checked`);
  for (const a of r.anomalies.slice(0, MAX_ANOMALIES_SHOWN)) {
    lines.push(`  anomaly [${a.checker}] ${a.type}${a.key !== undefined ? ` on ${a.key}` : ''}: ${a.message}`);
  }
  if (r.anomalies.length > MAX_ANOMALIES_SHOWN) lines.push(`  ... ${r.anomalies.length - MAX_ANOMALIES_SHOWN} more in results.json`);
  const notes = r.meta.notes;
  if (Array.isArray(notes)) for (const n of notes) lines.push(`  note: ${String(n)}`);
  lines.push(`  output: ${s.outDir} (history.jsonl, results.json, timeline.html, latency.svg, logs/)`);
  return lines.join('\n');
}
