import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeHistory } from './analysis.js';
import { simulateRegisterHistory } from './checker/register-history-sim.js';
import { buildHistory, type OpSpec } from './history-builder.js';
import { pairOperations, readHistoryFile, type HistoryEntry } from './history.js';
import type { Results } from './report/results.js';
import { writeReport } from './report/write-report.js';
import { byClass, parseXml } from './report/xml-tree.js';

/** A register history with one stale read, plus faults. */
function staleRegisterHistory(): HistoryEntry[] {
  const base = simulateRegisterHistory({ seed: 3, clients: 4, ops: 400, keys: ['a', 'b'], values: 1_000_000 });
  const ops = pairOperations(base);
  const writes = ops.filter((o) => o.f === 'write' && o.type === 'ok' && o.key === 'a');
  const read = ops.filter((o) => o.f === 'read' && o.type === 'ok' && o.key === 'a' && o.call > writes[20]!.end)[0]!;
  const specs: OpSpec[] = ops.map((o) => ({
    process: o.process, f: o.f, key: o.key!, value: o.value, call: o.call, end: o.end, type: o.type,
    result: o === read ? writes[0]!.value : o.result,
  }));
  return buildHistory(specs, [{ kind: 'partition', targets: ['m1'], start: 100, end: 300 }]);
}

test('a register run with a stale read: results, timeline and plots in the output folder', async (t) => {
  const entries = staleRegisterHistory();
  const results = analyzeHistory(entries, { workload: 'register', meta: { seed: 3, nemesis: 'partition' } });
  assert.equal(results.valid, false);
  assert.equal(results.checkers.linearizable!.violations.length, 1);
  assert.equal(results.meta.workload, 'register');

  const dir = await mkdtemp(join(tmpdir(), 'keelson-jepsen-report-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = await writeReport(dir, { entries, results, title: 'register', subtitle: 'seed 3' });
  assert.deepEqual(await readHistoryFile(files.history), entries);
  const back = JSON.parse(await readFile(files.results, 'utf8')) as Results;
  assert.equal(back.valid, false);
  assert.equal(back.anomalies.length, 1);
  const html = parseXml(await readFile(files.timeline, 'utf8'));
  const flagged = byClass(html, 'anomalous').filter((e) => e.attrs['data-index'] !== undefined).map((e) => Number(e.attrs['data-index']));
  assert.deepEqual(flagged.sort((a, b) => a - b), [...back.anomalies[0]!.ops].sort((a, b) => a - b));
  assert.equal(byClass(parseXml(await readFile(files.latency, 'utf8')), 'fault').length, 1);
  assert.equal(parseXml(await readFile(files.latencyDistribution, 'utf8')).name, 'svg');
});

test('"all" checks a mixed history with every checker, none tripping over the others\' operations', () => {
  const specs: OpSpec[] = [
    { process: 0, f: 'write', key: 'r', value: 1, call: 0, end: 1, type: 'ok' },
    { process: 0, f: 'read', key: 'r', call: 2, end: 3, type: 'ok', result: 1 },
    { process: 1, f: 'txn', value: [['append', 'x', 1]], call: 0, end: 1, type: 'ok' },
    { process: 1, f: 'txn', value: [['r', 'x', null]], call: 2, end: 3, type: 'ok', result: [['r', 'x', [1]]] },
    { process: 2, f: 'watch-put', key: 'w', value: 'w1', call: 0, end: 1, type: 'ok', result: { revision: 2 } },
    { process: 2, f: 'watch-read', key: 'w', value: null, call: 2, end: 3, type: 'ok', result: { revision: 2, kvs: [{ key: 'w', value: 'w1', modRevision: 2 }] } },
    { process: 'w', f: 'watch', value: { watcher: 'w', key: 'w', startRevision: 1 }, call: 0, end: 4, type: 'ok', result: { events: [{ revision: 2, key: 'w', type: 'put', value: 'w1' }] } },
    { process: 3, f: 'lease-grant', value: { ttl: 5 }, call: 0, end: 1, type: 'ok', result: { lease: '1', ttl: 5 } },
    { process: 3, f: 'lease-put', key: 'l', value: { value: 'v', lease: '1' }, call: 2, end: 3, type: 'ok' },
    { process: 3, f: 'lease-read', key: 'l', value: null, call: 4, end: 5, type: 'ok', result: { kvs: [{ key: 'l', value: 'v', lease: '1' }] } },
  ];
  const res = analyzeHistory(buildHistory(specs), { workload: 'all' });
  assert.deepEqual(res.anomalies, []);
  assert.equal(res.valid, true);
  assert.deepEqual(Object.keys(res.checkers).sort(), ['append', 'lease', 'linearizable', 'watch']);
  assert.equal(res.checkers.linearizable!.opsChecked, 2);
  assert.equal(res.checkers.append!.txns.ok, 2);
  assert.equal(res.checkers.watch!.committedEvents, 1);
  assert.equal(res.checkers.lease!.readsChecked, 1);
  // The same history with the lease key missing is caught by the lease checker alone.
  specs[9]!.result = { kvs: [] };
  const bad = analyzeHistory(buildHistory(specs), { workload: 'all' });
  assert.equal(bad.valid, false);
  assert.deepEqual(bad.anomalies.map((a) => `${a.checker} ${a.type}`), ['lease key-vanished']);
});
