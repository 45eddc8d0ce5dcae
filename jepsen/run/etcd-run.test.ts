// The harness against a real etcd 3.4: the sanity check (etcd must be found valid under
// partitions), the command line's contract (flags, outputs, exit codes) and cleanup.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHistory } from '../history.js';
import { etcdTarget } from '../cluster/targets.js';
import { runJepsen } from './jepsen-run.js';
import { leftovers, readResults, runCli } from './run-test-support.js';

async function outDir(t: { after(f: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-jepsen-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('etcd is valid under partitions: register + partition, exit 0, every output written, nothing left behind', async (t) => {
  const out = await outDir(t);
  const r = await runCli(['--time', '8', '--workload', 'register', '--nemesis', 'partition', '--seed', '9', '--out', out, '--target', 'etcd']);
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /jepsen register on etcd: VALID/);
  assert.match(r.stderr, /nemesis: start partition/, 'no fault was injected');
  assert.deepEqual(leftovers(r.stderr), []);

  const results = await readResults(out);
  assert.equal(results.valid, true);
  assert.ok(results.ops.ok > 100, `only ${results.ops.ok} ok ops`);
  assert.equal(results.checkers.linearizable?.valid, true);
  assert.equal(results.meta.target, 'etcd');
  assert.equal(results.meta.seed, 9);
  assert.ok(results.faults.length >= 1 && results.faults.every((f) => f.kind === 'partition'));
  const history = parseHistory(await readFile(join(out, 'history.jsonl'), 'utf8'));
  assert.ok(history.some((e) => e.process === 'nemesis' && e.f === 'start'));
  assert.equal(history.filter((e) => e.type === 'invoke').length, results.ops.ok + results.ops.fail + results.ops.info);
  for (const f of ['timeline.html', 'latency.svg', 'latency-distribution.svg', 'logs/n1.log']) assert.ok(existsSync(join(out, f)), `${f} missing`);
});

test('usage errors exit 2 (1 means an anomaly) and name the problem', async () => {
  const bad = await runCli(['--time', '5', '--workload', 'register', '--nemesis', 'flood', '--seed', '1', '--out', '/tmp/x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown nemesis "flood"/);
  const missing = await runCli(['--time', '5', '--workload', 'register', '--seed', '1', '--out', '/tmp/x']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--nemesis/);
  const wrong = await runCli(['--time', '5', '--workload', 'queue', '--nemesis', 'none', '--seed', '1', '--out', '/tmp/x']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /register, append, watch, lease, all/);
});

test('a cluster that cannot start is a failed run: exit 2, the reason in results.json, nothing left behind', async (t) => {
  const out = await outDir(t);
  const lines: string[] = [];
  // /bin/false takes etcd's flags and exits at once.
  const r = await runJepsen({
    timeSec: 5, workload: 'register', nemesis: [], seed: 1, outDir: out, clients: 2, readMode: 'linearizable',
    target: { ...etcdTarget('/bin/false') }, progress: (l) => lines.push(l),
  });
  assert.equal(r.exitCode, 2);
  assert.match(r.error ?? '', /member n\d exited with code 1/);
  const results = await readResults(out);
  assert.match(String(results.meta.error), /exited with code 1/);
  assert.deepEqual(leftovers(lines.join('\n')), []);
  assert.match(r.summary, /RUN FAILED/);
});

test('Ctrl-C stops the run: exit 2 "interrupted", the cluster and its folder gone', async (t) => {
  const out = await outDir(t);
  const lines: string[] = [];
  const ac = new AbortController();
  const r = await runJepsen({
    timeSec: 60, workload: 'register', nemesis: ['pause'], seed: 1, outDir: out, clients: 3, readMode: 'linearizable',
    target: etcdTarget(), signal: ac.signal,
    progress: (l) => {
      lines.push(l);
      if (/ok \d+ fail/.test(l)) ac.abort(); // the first progress line: mid-run
    },
  });
  assert.equal(r.exitCode, 2);
  assert.equal(r.error, 'interrupted');
  assert.deepEqual(leftovers(lines.join('\n')), []);
  const results = await readResults(out);
  assert.ok(results.ops.ok > 0);
  assert.equal(results.meta.error, 'interrupted');
});
