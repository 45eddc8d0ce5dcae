// DIR/report.md: one table row per suite with both targets and the keelson/etcd ratio (or
// keelson/baseline, against another keelson build), then where the CPU went (so a reader can tell
// a client-bound number from a server-bound one).

import { CHART_FILE } from './report-files.js';
import { ratioFor, referenceTarget, throughput, type BenchResult, type BenchResults, type SuiteName } from './results.js';

/** Issue 7's goals at 3 members (throughput ratio keelson/etcd; watch-fanout also p99 ≤ etcd's). */
export const RATIO_GOALS: Partial<Record<SuiteName, number>> = {
  'put-seq': 1.0,
  'put-conc': 1.0,
  'range-lin': 1.0,
  'txn-cas': 1.0,
  'watch-fanout': 1.5,
};

/** A worker this busy, or a machine this busy, means the numbers may be the client's limit. */
const BUSY_WORKER_CPU_PERCENT = 90;
const BUSY_WORKER_ELU = 0.9;
const BUSY_MACHINE_FRACTION = 0.9;

function num(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function ms(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function fmtRatio(r: number | undefined): string {
  return r === undefined ? 'n/a' : `${r.toFixed(2)}x`;
}

function cell(r: BenchResult | undefined): string {
  return r ? num(throughput(r)) : '—';
}

function latencyCell(r: BenchResult | undefined): string {
  return r ? `${ms(r.p50Ms)} / ${ms(r.p99Ms)}` : '—';
}

/** Suite-specific facts worth a glance (CAS success rate, watch set-up). */
export function detailNote(r: BenchResult): string {
  const x = r.extra;
  if (r.suite === 'txn-cas') {
    const ok = x.casSucceeded ?? 0;
    const all = ok + (x.casFailed ?? 0);
    return all > 0 ? `CAS succeeded ${Math.round((ok * 100) / all)}%` : '';
  }
  if (r.suite === 'apiserver-watch') {
    const rate = x.putsPerSec !== undefined ? ` at ${num(x.putsPerSec)}/s (asked ${num(x.writesPerSecTarget ?? 0)}/s)` : '';
    const failed = (x.failedWrites ?? 0) > 0 ? `, ${x.failedWrites} failed` : '';
    return (
      `1 writer: ${x.pods ?? '?'} pod creates then updates, ${x.writes ?? 0} writes${rate}${failed}, answered in p50 / p99 ${x.writeP50Ms ?? '?'} / ${x.writeP99Ms ?? '?'} ms; ${r.count} of ${x.eventsExpected ?? '?'} events delivered; ` +
      `API server RSS ${r.apiServerRssMb ?? '?'} MB peak (${x.apiServerRssBaseMb ?? '?'} MB before), CPU ${x.apiServerCpuPercent ?? '?'}%; ${r.watchersLost ?? 0} watchers lost`
    );
  }
  if (r.eventsPerSec !== undefined) {
    const batch = (x.eventsPerWrite ?? 1) > 1 ? ` in txns of ${x.eventsPerWrite}` : '';
    const rate = x.putsPerSec !== undefined ? `, written at ${num(x.putsPerSec)}/s` : '';
    return `${x.writers ?? '?'} writers put ${x.puts ?? 0} keys${batch}${rate}; ${r.count} of ${x.eventsExpected ?? '?'} events delivered`;
  }
  return '';
}

/** Why a result may not be the server's limit; empty when nothing stands out. */
export function saturationNote(r: BenchResult, cpus: number): string {
  const notes: string[] = [];
  if (r.clientMaxWorkerCpuPercent >= BUSY_WORKER_CPU_PERCENT || r.clientMaxWorkerElu >= BUSY_WORKER_ELU) {
    notes.push('client-bound (a load worker is saturated)');
  }
  if (r.machineCpuPercent >= BUSY_MACHINE_FRACTION * cpus * 100) {
    const others = r.machineCpuPercent - r.clientCpuPercent - r.serverCpuPercent;
    notes.push(`machine CPU saturated${others >= 20 ? ` (${others}% by other processes)` : ''}`);
  }
  if (r.errors > 0) notes.push(`${r.errors} errors: ${r.errorSamples.join('; ')}`);
  return notes.join('; ');
}

function growth(r: BenchResult): string {
  const base = r.extra.apiServerRssBaseMb;
  return r.apiServerRssMb === undefined || base === undefined ? '?' : (Math.round((r.apiServerRssMb - base) * 10) / 10).toFixed(1);
}

/** apiserver-watch: the Kubernetes API server of each target, with its memory. */
function apiServerSection(res: BenchResults): string[] {
  const rows = res.results.filter((r) => r.suite === 'apiserver-watch');
  if (rows.length === 0) return [];
  const ref = referenceTarget(res.config.targets);
  const lines: string[] = [];
  lines.push('');
  lines.push('## Kubernetes API server (apiserver-watch)');
  lines.push('');
  lines.push(
    'HTTP watchers on the pods of one namespace while one writer creates, then updates, pods at a fixed rate; ' +
      'p50 / p99 from a write\'s send to its event at a watcher, write p50 / p99 from its send to the API server\'s answer. ' +
      "keelson: the API served by master m0 from its own store, so its RSS is the master's, store included; " +
      (ref === 'etcd'
        ? 'etcd: the same API server code in a process of its own on a RemoteKV to the members (m0 first). '
        : 'baseline: the same, from the baseline build. ') +
      'The suite runs first on each fresh cluster; "before" is the RSS before the watchers connect, "growth" peak minus before; ' +
      `"all" = the peak of every process serving the API and the store together (members${ref === 'etcd' ? ", plus etcd's API server process" : ''}).`,
  );
  lines.push('');
  lines.push('| target | watchers | writes/s (asked) | events/s | p50 / p99 ms | write p50 / p99 ms | API server RSS MB peak (before) | growth MB | all processes RSS MB | API server CPU | watchers lost |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const x = r.extra;
    lines.push(
      `| ${r.target} | ${r.clients} | ${num(x.putsPerSec ?? 0)} (${num(x.writesPerSecTarget ?? 0)}) | ${num(throughput(r))} | ${latencyCell(r)} | ` +
        `${x.writeP50Ms === undefined ? '?' : `${ms(x.writeP50Ms)} / ${ms(x.writeP99Ms ?? 0)}`} | ` +
        `${r.apiServerRssMb ?? '?'} (${x.apiServerRssBaseMb ?? '?'}) | ${growth(r)} | ${x.totalPeakRssMb ?? '?'} | ${x.apiServerCpuPercent ?? '?'}% | ${r.watchersLost ?? '?'} |`,
    );
  }
  const k = rows.find((r) => r.target === 'keelson');
  const e = rows.find((r) => r.target === ref);
  if (k && e && k.apiServerRssMb !== undefined && e.apiServerRssMb !== undefined && e.apiServerRssMb > 0) {
    const p99 = e.p99Ms > 0 ? fmtRatio(k.p99Ms / e.p99Ms) : 'n/a';
    const all = (e.extra.totalPeakRssMb ?? 0) > 0 ? fmtRatio((k.extra.totalPeakRssMb ?? 0) / e.extra.totalPeakRssMb!) : 'n/a';
    lines.push('');
    lines.push(
      `keelson/${ref}: events/s ${fmtRatio(ratioFor(res.results, 'apiserver-watch', ref))}, p99 ${p99}, API server RSS ${fmtRatio(k.apiServerRssMb / e.apiServerRssMb)}, all processes RSS ${all}. ` +
        'At a fixed write rate a target that keeps up delivers watchers × rate events/s, so events/s near 1.00x says both kept up; latency and memory tell them apart.',
    );
  }
  return lines;
}

export function renderReport(res: BenchResults): string {
  const m = res.machine;
  const suites = res.config.suites.filter((s) => res.results.some((r) => r.suite === s));
  const get = (suite: SuiteName, target: string) => res.results.find((r) => r.suite === suite && r.target === target);
  const ref = referenceTarget(res.config.targets);
  const lines: string[] = [];
  lines.push(`# keelson bench: ${res.config.targets.join(' vs ')}, ${res.config.members} member${res.config.members > 1 ? 's' : ''}`);
  lines.push('');
  lines.push(
    `${res.startedAt}, profile \`${res.config.profile}\`, ${res.config.workers} load-generator processes, ${res.wallSeconds} s in all. ` +
      `Machine: ${m.cpus} × ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.platform}/${m.arch} ${m.kernel}, ` +
      `Node ${m.node}, etcd ${m.etcdVersion}, keelson ${m.keelsonVersion}, load average ${m.loadAvg1m} at start.`,
  );
  lines.push('');
  lines.push('Throughput is ops/s (events/s for watch suites, put-to-event); latency p50 / p99 in ms. ');
  lines.push(`Ratio = keelson / ${ref} throughput (higher is better); p99 ratio = keelson / ${ref} p99 (lower is better).`);
  if (ref === 'baseline') lines.push(`baseline = keelson from \`${res.config.baseline ?? '?'}\`, started as keelson is; the goals (against etcd) do not apply.`);
  const rounds = Math.max(0, ...res.results.map((r) => r.extra.rounds ?? 0));
  if (rounds > 1) lines.push('Suites ran in rounds taken in turn by the targets: a result is over all its rounds (`extra.rounds` in results.json; the progress output shows each round).');
  lines.push('');
  lines.push(`| suite | unit | ${ref} | keelson | keelson/${ref} | goal | ${ref} p50 / p99 ms | keelson p50 / p99 ms | p99 keelson/${ref} |`);
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of suites) {
    const e = get(s, ref);
    const k = get(s, 'keelson');
    const unit = (e ?? k)?.eventsPerSec !== undefined ? 'events/s' : 'ops/s';
    const ratio = ratioFor(res.results, s, ref);
    const goal = ref === 'etcd' ? RATIO_GOALS[s] : undefined;
    const goalCell = goal === undefined ? '' : `≥ ${goal.toFixed(1)}${ratio === undefined ? '' : ratio >= goal ? ' ✓' : ' ✗'}`;
    const p99Ratio = e && k && e.p99Ms > 0 ? fmtRatio(k.p99Ms / e.p99Ms) : 'n/a';
    lines.push(
      `| ${s} | ${unit} | ${cell(e)} | ${cell(k)} | ${fmtRatio(ratio)} | ${goalCell} | ${latencyCell(e)} | ${latencyCell(k)} | ${p99Ratio} |`,
    );
  }
  lines.push(...apiServerSection(res));
  lines.push('');
  lines.push(`![ratios and latency distributions](${CHART_FILE})`);
  lines.push('');
  lines.push('## Where the CPU went');
  lines.push('');
  lines.push(
    `CPU in % of one core (the machine has ${m.cpus}). Client = all load-generator processes (process.cpuUsage); ` +
      'busiest worker = CPU and event-loop utilisation of the busiest one (100% / 1.0: it was the bottleneck); ' +
      "server = the target's member processes (/proc); machine = every process on the machine (/proc/stat): " +
      'what machine has beyond client + server was taken by other work; steal = CPU the host gave to its other ' +
      'tenants while this machine wanted it (a shared VM runs slower for it, and results vary).',
  );
  lines.push('');
  lines.push('| suite | target | clients | conns | p999 ms | client CPU | busiest worker CPU / ELU | server CPU | machine CPU | steal | notes |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of suites) {
    for (const r of res.results.filter((x) => x.suite === s)) {
      lines.push(
        `| ${s} | ${r.target} | ${r.clients} | ${r.connections} | ${ms(r.p999Ms)} | ${r.clientCpuPercent}% | ${r.clientMaxWorkerCpuPercent}% / ${r.clientMaxWorkerElu.toFixed(2)} | ${r.serverCpuPercent}% | ${r.machineCpuPercent}% | ${r.stealCpuPercent ?? 0}% | ${[detailNote(r), saturationNote(r, m.cpus)].filter((n) => n !== '').join('; ').replace(/\|/g, '\\|')} |`,
      );
    }
  }
  if (res.failures.length > 0) {
    lines.push('');
    lines.push('## Failures');
    lines.push('');
    for (const f of res.failures) {
      const first = f.message.split('\n')[0] ?? '';
      lines.push(`- **${f.target}**${f.suite ? ` ${f.suite}` : ''}: ${first.replace(/\|/g, '\\|')}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
