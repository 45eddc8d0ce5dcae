// The benchmark harness itself: a tiny real run (etcd, and keelson when `keelson master` is
// available) and the structure of what it writes. Numbers are never asserted, only that they
// are there, consistent and rendered.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { makeTempDir } from '../common/temp-dir.js';
import { LatencyHistogram, bucketOf, bucketValue } from './histogram.js';
import { PROFILES } from './profiles.js';
import { CHART_FILE, REPORT_FILE, RESULTS_FILE } from './report-files.js';
import { renderReport } from './report-md.js';
import { renderChart } from './report-svg.js';
import { SUITE_NAMES, isEventSuite, type BenchResult, type BenchResults, type TargetName } from './results.js';
import { runBench } from './run-bench.js';
import { apiWatchWrites } from './suite-plan.js';
import { launchCommand } from './target-cluster.js';

/** True when `keelson master` exists in the build the bench launches (and serves the Kubernetes API). */
function keelsonMasterAvailable(): boolean {
  const { command, prefix } = launchCommand('keelson');
  const r = spawnSync(command, [...prefix, '--help'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /--initial-cluster/.test(r.stdout) && /--api-listen-url/.test(r.stdout);
}

/** A small XML well-formedness check: balanced tags, quoted attributes, known entities only. */
function assertWellFormedXml(xml: string): void {
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|<!--(?:(?!--)[\s\S])*-->|([^<]+)/y;
  const badEntity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  while (s.length > 0) {
    token.lastIndex = 0;
    const m = token.exec(s);
    assert.ok(m, `malformed XML near: ${s.slice(0, 80)}`);
    const [whole, close, name, attrs, selfClose, textPart] = m;
    if (textPart !== undefined) {
      assert.ok(!badEntity.test(textPart), `bad entity in text: ${textPart.slice(0, 80)}`);
      if (stack.length === 0) assert.equal(textPart.trim(), '', 'text outside the root element');
    } else if (name !== undefined) {
      if (attrs) assert.ok(!badEntity.test(attrs), `bad entity in attributes of <${name}>`);
      const names = [...(attrs ?? '').matchAll(/([\w:.-]+)="/g)].map((a) => a[1]);
      assert.equal(new Set(names).size, names.length, `duplicate attribute in <${name}>`);
      if (close) {
        assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
      } else if (!selfClose) {
        if (stack.length === 0) roots++;
        stack.push(name);
      } else if (stack.length === 0) {
        roots++;
      }
    }
    s = s.slice(whole.length);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
}

function tableRows(md: string, header: RegExp): string[][] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => header.test(l));
  assert.ok(start >= 0, `table ${header} not found`);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(l.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

test('a tiny run writes results.json, report.md and chart.svg with every suite and target', { timeout: 240_000 }, async (t) => {
  const targets: TargetName[] = keelsonMasterAvailable() ? ['keelson', 'etcd'] : ['etcd'];
  t.diagnostic(`targets: ${targets.join(', ')}`);
  const out = await makeTempDir('keelson-bench-test-');
  t.after(() => out.cleanup());
  const suites = [...SUITE_NAMES];
  const notes: string[] = [];
  const progress = { status() {}, note: (l: string) => void notes.push(l), done() {} };
  const res = await runBench({ targets, members: 1, suites, profile: PROFILES.tiny, outDir: out.path, workers: 2, progress });

  // results.json is what runBench returned, and has the shape.
  const json = JSON.parse(readFileSync(join(out.path, RESULTS_FILE), 'utf8')) as BenchResults;
  assert.deepEqual(json, res);
  assert.deepEqual(json.failures, []);
  assert.ok(json.machine.cpus >= 1);
  assert.equal(typeof json.machine.cpuModel, 'string');
  assert.ok(json.machine.memoryBytes > 0);
  assert.equal(json.machine.node, process.version);
  assert.match(json.machine.etcdVersion, /^3\.4\./);
  assert.equal(json.results.length, suites.length * targets.length);
  for (const target of targets) {
    for (const suite of suites) {
      const r = json.results.find((x) => x.suite === suite && x.target === target);
      assert.ok(r, `${target} ${suite} missing`);
      const what = `${target} ${suite}`;
      assert.equal(r.members, 1, what);
      assert.ok(r.clients >= 1 && r.connections >= 1 && r.workers === 2, what);
      assert.equal(r.errors, 0, `${what}: ${r.errorSamples.join('; ')}`);
      assert.ok(r.count > 0, `${what}: nothing measured`);
      if (isEventSuite(suite)) {
        assert.equal(r.opsPerSec, undefined, what);
        assert.ok(typeof r.eventsPerSec === 'number' && r.eventsPerSec > 0, what);
        // Every event written reached every watcher it was meant for, exactly once.
        assert.equal(r.count, r.extra.eventsExpected, what);
        assert.equal(r.extra.rounds, suite === 'apiserver-watch' ? 1 : PROFILES.tiny.watchRounds, what);
      } else {
        assert.equal(r.eventsPerSec, undefined, what);
        assert.ok(typeof r.opsPerSec === 'number' && r.opsPerSec > 0, what);
        // Measured in rounds that add up to the profile's window, rate over all of them.
        assert.equal(r.extra.rounds, PROFILES.tiny.rounds, what);
        assert.equal(r.durationMs, PROFILES.tiny.durationMs, what);
        assert.ok(Math.abs(r.opsPerSec - r.count / (r.durationMs / 1000)) < 1e-6, what);
      }
      assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms && r.p99Ms <= r.p999Ms && r.p999Ms <= r.maxMs, `${what}: percentiles out of order`);
      assert.deepEqual(r.latency.map((p) => p.q), [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1], what);
      for (let i = 1; i < r.latency.length; i++) assert.ok(r.latency[i]!.ms >= r.latency[i - 1]!.ms, `${what}: distribution not monotone`);
      assert.ok(r.clientCpuPercent >= 0 && r.clientMaxWorkerCpuPercent <= r.clientCpuPercent + 1, what);
      assert.ok(r.clientMaxWorkerElu >= 0 && r.clientMaxWorkerElu <= 1, what);
      assert.ok(r.serverCpuPercent >= 0 && r.machineCpuPercent >= 0, what);
      if (suite !== 'apiserver-watch') {
        assert.equal(r.apiServerRssMb, undefined, what);
        assert.equal(r.watchersLost, undefined, what);
      }
    }
    // apiserver-watch: every pod write reached every HTTP watcher once; the API server's memory was read.
    const api = json.results.find((x) => x.suite === 'apiserver-watch' && x.target === target)!;
    const what = `${target} apiserver-watch`;
    const writes = apiWatchWrites(PROFILES.tiny);
    assert.equal(api.clients, PROFILES.tiny.apiWatch.watchers, what);
    assert.equal(api.extra.writes, writes, what);
    assert.equal(api.extra.failedWrites, 0, what);
    assert.ok(api.extra.writeP50Ms! > 0 && api.extra.writeP50Ms! <= api.extra.writeP99Ms!, what);
    assert.equal(api.extra.eventsExpected, writes * PROFILES.tiny.apiWatch.watchers, what);
    assert.equal(api.count, api.extra.eventsExpected, what);
    assert.equal(api.watchersLost, 0, what);
    assert.ok(typeof api.apiServerRssMb === 'number' && api.apiServerRssMb > 0, what);
    assert.ok(api.extra.apiServerRssBaseMb! > 0 && api.extra.apiServerRssBaseMb! <= api.apiServerRssMb, what);
    // "all processes" holds the API server's process and every member's.
    assert.ok(api.extra.totalPeakRssMb! >= api.apiServerRssMb, what);
    assert.equal(api.extra.apiInMemberProcess, target === 'keelson' ? 1 : 0, what);
    assert.equal(api.extra.apiMemberIsLeader, 1, what);
    assert.ok(api.extra.apiServerCpuPercent! >= 0 && api.extra.apiServerCpuPercent! <= api.serverCpuPercent + 1, what);
  }
  // Rounds were taken in turn: every target's round 1, then every target's round 2, ...
  for (const [suite, rounds, unit] of [
    ['put-seq', PROFILES.tiny.rounds, 'ops'],
    ['watch-fanout', PROFILES.tiny.watchRounds, 'events'],
  ] as const) {
    const roundNotes = notes.flatMap((l) => {
      const m = new RegExp(`^\\[(\\w+) x1\\] ${suite} round (\\d+)/(\\d+): [\\d,]+ ${unit}/s`).exec(l);
      return m ? [`${m[1]} ${m[2]}/${m[3]}`] : [];
    });
    assert.ok(rounds >= 2, `the tiny profile runs ${suite} in rounds`);
    assert.deepEqual(roundNotes, Array.from({ length: rounds }, (_, i) => targets.map((t) => `${t} ${i + 1}/${rounds}`)).flat(), suite);
  }

  const cas = json.results.find((x) => x.suite === 'txn-cas')!;
  assert.equal((cas.extra.casSucceeded ?? 0) + (cas.extra.casFailed ?? 0) >= cas.count, true, 'every CAS txn is a success or a failure');

  // report.md: one row per suite, both targets' columns, the ratio column.
  const md = readFileSync(join(out.path, REPORT_FILE), 'utf8');
  const rows = tableRows(md, /^\| suite \| unit \| etcd \| keelson \| keelson\/etcd \|/);
  assert.deepEqual(rows.map((r) => r[0]), suites);
  for (const row of rows) {
    assert.match(row[2]!, /^[\d,.]+$/, `etcd throughput of ${row[0]}`);
    if (targets.includes('keelson')) {
      assert.match(row[3]!, /^[\d,.]+$/, `keelson throughput of ${row[0]}`);
      assert.match(row[4]!, /^\d+\.\d\dx$/, `ratio of ${row[0]}`);
    } else {
      assert.equal(row[3], '—');
      assert.equal(row[4], 'n/a');
    }
  }
  assert.equal(tableRows(md, /^\| suite \| target \| clients \|/).length, suites.length * targets.length);
  const apiRows = tableRows(md, /^\| target \| watchers \| writes\/s \(asked\) \|/);
  assert.deepEqual(apiRows.map((r) => r[0]), targets);
  for (const row of apiRows) {
    assert.match(row[5]!, /^[\d.]+ \/ [\d.]+$/, `write latency of ${row[0]}`);
    assert.match(row[6]!, /^[\d.]+ \([\d.]+\)$/, `API server RSS of ${row[0]}`);
  }

  // chart.svg: well-formed, one latency curve per result.
  const svg = readFileSync(join(out.path, CHART_FILE), 'utf8');
  assertWellFormedXml(svg);
  assert.match(svg, /^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<polyline /g) ?? []).length, json.results.length);
  assert.equal((svg.match(/API server RSS [\d.]+ MB/g) ?? []).length, targets.length);
});

function fakeResult(suite: BenchResult['suite'], target: TargetName, rate: number, p99Ms: number): BenchResult {
  const event = isEventSuite(suite);
  return {
    suite,
    target,
    members: 3,
    clients: 100,
    connections: 10,
    workers: 2,
    ...(event ? { eventsPerSec: rate } : { opsPerSec: rate }),
    p50Ms: p99Ms / 4,
    p99Ms,
    p999Ms: p99Ms * 2,
    meanMs: p99Ms / 3,
    maxMs: p99Ms * 3,
    count: 1000,
    durationMs: 5000,
    errors: 0,
    errorSamples: [],
    clientCpuPercent: 50,
    clientMaxWorkerCpuPercent: 30,
    clientMaxWorkerElu: 0.5,
    serverCpuPercent: 80,
    machineCpuPercent: 140,
    stealCpuPercent: 3,
    latency: [0, 0.5, 0.9, 0.99, 0.999, 1].map((q, i) => ({ q, ms: (i + 1) * p99Ms / 4 })),
    ...(suite === 'apiserver-watch' ? { apiServerRssMb: rate / 100, watchersLost: 0 } : {}),
    extra: suite === 'apiserver-watch' ? { putsPerSec: 100, writesPerSecTarget: 100, apiServerRssBaseMb: 50, totalPeakRssMb: rate / 50, apiServerCpuPercent: 40 } : {},
  };
}

/** A run's results around `config` and `results` (the machine's name needs escaping in SVG). */
function fakeRun(config: BenchResults['config'], results: BenchResult[], failures: BenchResults['failures'] = []): BenchResults {
  return {
    machine: {
      cpus: 2, cpuModel: 'test <cpu> & co', memoryBytes: 2 ** 31, node: 'v20', platform: 'linux', arch: 'x64',
      kernel: '6', loadAvg1m: 0.5, etcdVersion: '3.4.23', keelsonVersion: '0.1.0',
    },
    config,
    startedAt: '2026-01-01T00:00:00.000Z',
    wallSeconds: 60,
    results,
    failures,
  };
}

test('report.md and chart.svg show keelson/etcd ratios, n/a where a target is missing', () => {
  const res = fakeRun(
    { targets: ['keelson', 'etcd'], members: 3, suites: ['put-seq', 'watch-fanout', 'txn-cas', 'apiserver-watch'], profile: 'quick', workers: 2 },
    [
      fakeResult('put-seq', 'keelson', 500, 4),
      fakeResult('put-seq', 'etcd', 1000, 2),
      fakeResult('watch-fanout', 'keelson', 300_000, 10),
      fakeResult('watch-fanout', 'etcd', 100_000, 20),
      fakeResult('txn-cas', 'etcd', 2000, 30),
      fakeResult('apiserver-watch', 'keelson', 20_000, 40),
      fakeResult('apiserver-watch', 'etcd', 10_000, 20),
    ],
    [{ target: 'keelson', suite: 'txn-cas', message: 'boom | with a pipe\nsecond line' }],
  );
  const md = renderReport(res);
  const rows = tableRows(md, /^\| suite \| unit \| etcd \| keelson \| keelson\/etcd \|/);
  assert.deepEqual(
    rows.map((r) => [r[0], r[1], r[2], r[3], r[4], r[5], r[8]]),
    [
      ['put-seq', 'ops/s', '1,000', '500', '0.50x', '≥ 1.0 ✗', '2.00x'],
      ['watch-fanout', 'events/s', '100,000', '300,000', '3.00x', '≥ 1.5 ✓', '0.50x'],
      ['txn-cas', 'ops/s', '2,000', '—', 'n/a', '≥ 1.0', 'n/a'],
      ['apiserver-watch', 'events/s', '10,000', '20,000', '2.00x', '', '2.00x'],
    ],
  );
  const apiRows = tableRows(md, /^\| target \| watchers \| writes\/s \(asked\) \|/);
  assert.deepEqual(
    apiRows.map((r) => [r[0], r[3], r[6], r[7], r[8], r[10]]),
    [
      ['keelson', '20,000', '200 (50)', '150.0', '400', '0'],
      ['etcd', '10,000', '100 (50)', '50.0', '200', '0'],
    ],
  );
  assert.match(md, /keelson\/etcd: events\/s 2\.00x, p99 2\.00x, API server RSS 2\.00x, all processes RSS 2\.00x\./);
  assert.match(md, /- \*\*keelson\*\* txn-cas: boom \\\| with a pipe\n/);
  const svg = renderChart(res);
  assertWellFormedXml(svg);
  assert.match(svg, />0\.50x</);
  assert.match(svg, />3\.00x</);
  assert.match(svg, /n\/a \(not measured on both targets\)/);
  assert.match(svg, />keelson API server RSS 200 MB</);
});

test('the latency histogram answers quantiles within 1% and merges exactly', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) (us % 2 ? a : b).recordUs(us);
  const all = new LatencyHistogram();
  all.merge(a.snapshot());
  all.merge(b.snapshot());
  assert.equal(all.count, 10_000);
  for (const [q, want] of [[0.5, 5000], [0.9, 9000], [0.99, 9900], [0.999, 9990]] as const) {
    const got = all.quantileUs(q);
    assert.ok(Math.abs(got - want) / want < 0.01, `q${q}: ${got} vs ${want}`);
  }
  assert.equal(all.quantileUs(0), 1);
  assert.equal(all.quantileUs(1), 10_000);
  assert.equal(all.meanUs(), 5000.5);
  assert.throws(() => all.recordUs(Number.NaN), /finite/);
});

test('histogram buckets: monotonic, each value within 0.4% of its bucket middle, ends clamped', () => {
  let last = 0;
  for (let us = 1; us < 1e8; us *= 1.0007) {
    const i = bucketOf(us);
    assert.ok(i >= last, `bucket of ${us} went back from ${last} to ${i}`);
    last = i;
    const mid = bucketValue(i);
    assert.ok(Math.abs(mid - us) / us < 0.004, `${us} µs is in bucket ${i} whose middle is ${mid}`);
  }
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(0.5), 0);
  assert.equal(bucketOf(1), 0);
  assert.equal(bucketOf(2), 128, 'each power of two starts a new run of 128 buckets');
  assert.equal(bucketOf(1e12), bucketOf(1e15), 'over ~100 s: the last bucket');
});

test('keelson bench refuses bad flags with a clear message', () => {
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  assert.ok(existsSync(main));
  for (const [args, message] of [
    [['--members', '2'], /--members must be 1 or 3/],
    [['--suite', 'put-seq,nope'], /--suite: unknown "nope"/],
    [['--targets', 'zookeeper'], /--targets: unknown "zookeeper"/],
    [['--targets', 'keelson,baseline'], /--targets baseline needs --baseline <entry>/],
    [['--baseline', '/no/such/keelson.js'], /--baseline: \/no\/such\/keelson\.js not found/],
    [['--baseline', main, '--targets', 'keelson,etcd'], /--baseline is only used with target baseline/],
    [['--baseline', main, '--targets', 'keelson,etcd,baseline'], /baseline and etcd are alternatives/],
  ] as const) {
    const r = spawnSync(process.execPath, [main, 'bench', ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
  }
});

test('report.md and chart.svg against a baseline build: keelson/baseline ratios, no goals', () => {
  const res = fakeRun(
    { targets: ['keelson', 'baseline'], baseline: '/src/old/bin/keelson.js', members: 3, suites: ['put-seq', 'watch-fanout'], profile: 'quick', workers: 2 },
    [
      fakeResult('put-seq', 'keelson', 1100, 4),
      fakeResult('put-seq', 'baseline', 1000, 2),
      fakeResult('watch-fanout', 'keelson', 300_000, 10),
      fakeResult('watch-fanout', 'baseline', 200_000, 20),
    ],
  );
  const md = renderReport(res);
  const rows = tableRows(md, /^\| suite \| unit \| baseline \| keelson \| keelson\/baseline \| goal \|/);
  assert.deepEqual(
    rows.map((r) => [r[0], r[2], r[3], r[4], r[5], r[8]]),
    [
      ['put-seq', '1,000', '1,100', '1.10x', '', '2.00x'],
      ['watch-fanout', '200,000', '300,000', '1.50x', '', '0.50x'],
    ],
  );
  assert.match(md, /baseline = keelson from `\/src\/old\/bin\/keelson\.js`/);
  const svg = renderChart(res);
  assertWellFormedXml(svg);
  assert.match(svg, /Throughput ratio keelson \/ baseline/);
  assert.match(svg, />1\.10x</);
  assert.doesNotMatch(svg, /= goal/);
});

test('a tiny run against a baseline build starts that build in etcd\'s place', { timeout: 120_000 }, async (t) => {
  if (!keelsonMasterAvailable()) return t.skip('keelson master is not built');
  const out = await makeTempDir('keelson-bench-baseline-');
  t.after(() => out.cleanup());
  // The baseline entry: this build's CLI behind a wrapper that leaves a mark per start, so the
  // test sees that the baseline members really ran from the entry given.
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const marks = join(out.path, 'marks');
  const wrapper = join(out.path, 'baseline-entry.mjs');
  writeFileSync(
    wrapper,
    `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(marks)}, process.argv.slice(2).join(' ') + '\\n');\nawait import(${JSON.stringify(pathToFileURL(main).href)});\n`,
  );
  assert.ok(existsSync(main));
  const progress = { status() {}, note() {}, done() {} };
  const suites: BenchResults['config']['suites'] = ['put-seq', 'watch-fanout'];
  const res = await runBench({ targets: ['keelson', 'baseline'], baseline: wrapper, members: 1, suites, profile: PROFILES.tiny, outDir: join(out.path, 'res'), workers: 2, progress });
  assert.deepEqual(res.failures, []);
  assert.equal(res.config.baseline, wrapper);
  for (const target of ['keelson', 'baseline'] as const) {
    for (const suite of suites) {
      const r = res.results.find((x) => x.suite === suite && x.target === target);
      assert.ok(r && r.count > 0 && r.errors === 0, `${target} ${suite}`);
    }
  }
  const started = readFileSync(marks, 'utf8').trim().split('\n');
  assert.equal(started.length, 1, 'one baseline member started (members: 1)');
  assert.match(started[0] ?? '', /^master --name=m0 /);
  const md = readFileSync(join(out.path, 'res', REPORT_FILE), 'utf8');
  assert.match(md, /\| suite \| unit \| baseline \| keelson \| keelson\/baseline \|/);
});
