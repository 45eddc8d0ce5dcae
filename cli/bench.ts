// `keelson bench`: keelson against etcd 3.4 on this machine, same client, same run (issue 7).

import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROFILES } from '../bench/profiles.js';
import { stderrProgress } from '../bench/progress.js';
import { CHART_FILE, REPORT_FILE, RESULTS_FILE } from '../bench/report-files.js';
import { renderReport } from '../bench/report-md.js';
import { SUITE_NAMES, TARGET_NAMES, isSuiteName, isTargetName, type SuiteName, type TargetName } from '../bench/results.js';
import { runBench } from '../bench/run-bench.js';

function listArg<T extends string>(flag: string, valid: readonly T[], isValid: (s: string) => s is T): (v: string) => T[] {
  return (v: string) => {
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) throw new InvalidArgumentError(`${flag} needs at least one of ${valid.join(', ')}`);
    const out: T[] = [];
    for (const s of items) {
      if (!isValid(s)) throw new InvalidArgumentError(`${flag}: unknown "${s}" (one of ${valid.join(', ')})`);
      if (!out.includes(s)) out.push(s);
    }
    return out;
  };
}

function membersArg(v: string): 1 | 3 {
  if (v === '1') return 1;
  if (v === '3') return 3;
  throw new InvalidArgumentError(`--members must be 1 or 3, got "${v}"`);
}

function defaultOutDir(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '-');
  return join('bench-results', stamp);
}

interface BenchCliOptions {
  targets: TargetName[];
  baseline: string | undefined;
  members: 1 | 3;
  suite: SuiteName[];
  quick: boolean;
  out: string | undefined;
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark keelson against etcd 3.4 on this machine: fresh clusters, same client, ratios')
    .addOption(
      new Option('--targets <list>', `comma-separated targets (${TARGET_NAMES.join(', ')})`)
        .argParser(listArg('--targets', TARGET_NAMES, isTargetName))
        .default(['keelson', 'etcd'], 'keelson,etcd'),
    )
    .option(
      '--baseline <entry>',
      "another keelson build to measure against instead of etcd: its CLI entry (bin/keelson.js or dist/cli/main.js); targets default to keelson,baseline",
    )
    .addOption(new Option('--members <n>', 'cluster size: 1 or 3').argParser(membersArg).default(3))
    .addOption(
      new Option('--suite <list>', `comma-separated suites (${SUITE_NAMES.join(', ')})`)
        .argParser(listArg('--suite', SUITE_NAMES, isSuiteName))
        .default([...SUITE_NAMES], 'all'),
    )
    .option('--quick', 'short runs: both targets at 3 members in a few minutes', false)
    .option('--out <dir>', 'output folder for results.json, report.md, chart.svg (default bench-results/<time>)')
    .action(async (o: BenchCliOptions, cmd: Command) => {
      let targets = o.targets;
      let baseline: string | undefined;
      if (o.baseline !== undefined) {
        baseline = resolve(o.baseline);
        if (!existsSync(baseline)) cmd.error(`--baseline: ${baseline} not found (the CLI entry of a built keelson)`);
        if (cmd.getOptionValueSource('targets') === 'default') targets = ['keelson', 'baseline'];
        else if (!targets.includes('baseline')) cmd.error('--baseline is only used with target baseline (add it to --targets)');
      } else if (targets.includes('baseline')) {
        cmd.error('--targets baseline needs --baseline <entry> (the build to run)');
      }
      if (targets.includes('baseline') && targets.includes('etcd')) {
        cmd.error('--targets: baseline and etcd are alternatives (keelson is compared with one of them)');
      }
      const outDir = o.out ?? defaultOutDir();
      const profile = o.quick ? PROFILES.quick : PROFILES.full;
      const res = await runBench({
        targets,
        ...(baseline !== undefined ? { baseline } : {}),
        members: o.members,
        suites: o.suite,
        profile,
        outDir,
        progress: stderrProgress(),
      });
      process.stdout.write(renderReport(res));
      process.stdout.write(
        `\nwrote ${join(outDir, RESULTS_FILE)}, ${join(outDir, REPORT_FILE)}, ${join(outDir, CHART_FILE)} (${res.wallSeconds} s)\n`,
      );
      process.exitCode = res.failures.length > 0 ? 1 : 0;
    });
}
