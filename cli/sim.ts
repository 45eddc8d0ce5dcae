// `keelson sim`: the deterministic Raft cluster simulation over many seeds.

import { Command } from 'commander';
import { intArg } from './arg-parsers.js';
import { replayCommand, runSweep } from '../raft/sim/sweep.js';

export function simCommand(): Command {
  return new Command('sim')
    .description('run the deterministic Raft cluster simulator over a range of seeds')
    .option('--seeds <n>', 'number of seeds to run', intArg('--seeds', 1, 10_000_000), 100)
    .option('--start <s>', 'first seed', intArg('--start', 0, 2 ** 32 - 1), 1)
    .option('--nodes <n>', 'cluster size (3 or 5; 1..7 accepted)', intArg('--nodes', 1, 7), 3)
    .option('--steps <k>', 'simulated time units of the fault phase per seed', intArg('--steps', 1, 10_000_000), 4000)
    .option('--max-reports <n>', 'violating seeds to describe in full', intArg('--max-reports', 0, 1000), 5)
    .action((o: { seeds: number; start: number; nodes: number; steps: number; maxReports: number }) => {
      const tty = process.stderr.isTTY;
      const t0 = Date.now();
      let lastPrint = 0;
      let failed = 0;
      const { summary, failures } = runSweep({
        ...o,
        onSeed: (done, r) => {
          if (r.violations.length > 0) failed++;
          const now = Date.now();
          if (done === o.seeds || now - lastPrint > (tty ? 100 : 2000)) {
            lastPrint = now;
            const line = `sim: ${done}/${o.seeds} seeds (${o.nodes} nodes), ${failed} failing, ${((now - t0) / 1000).toFixed(1)}s`;
            process.stderr.write(tty ? `\r${line}` : `${line}\n`);
          }
        },
      });
      if (tty) process.stderr.write('\n');
      for (const f of failures.slice(0, o.maxReports)) {
        const v = f.violations[0];
        if (!v) continue;
        process.stdout.write(`\nVIOLATION seed ${f.seed}: ${v.invariant} at t=${v.time}\n  ${v.message}\n`);
        process.stdout.write(`  last events:\n${f.trace.map((l) => `    ${l}`).join('\n')}\n`);
        process.stdout.write(`  replay: ${replayCommand(f.seed, o.nodes, o.steps)}\n`);
      }
      if (failures.length > o.maxReports) {
        process.stdout.write(`\n(${failures.length - o.maxReports} more failing seeds: ${failures.slice(o.maxReports, o.maxReports + 20).map((f) => f.seed).join(', ')}${failures.length > o.maxReports + 20 ? ', ...' : ''})\n`);
      }
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      process.exitCode = summary.violations > 0 ? 1 : 0;
    });
}
