import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHistory } from '../history-builder.js';
import { pairOperations } from '../history.js';
import { checkAppend } from '../checker/append.js';
import { checkLinearizable } from '../checker/linearizable.js';
import { registerModel } from '../checker/models/register.js';
import { buildResults, exitCodeFor, formatResults } from './results.js';

const entries = buildHistory(
  [
    { process: 0, f: 'write', key: 'x', value: 1, call: 0, end: 1, type: 'ok' },
    { process: 1, f: 'write', key: 'x', value: 2, call: 2, end: 3, type: 'ok' },
    { process: 2, f: 'read', key: 'x', call: 4, end: 5, type: 'ok', result: 1 },
    { process: 0, f: 'write', key: 'x', value: 3, call: 6, end: 9, type: 'fail' },
    { process: 1, f: 'write', key: 'x', value: 4, call: 6, end: 9, type: 'info' },
  ],
  [{ kind: 'partition', targets: ['m1'], start: 1.5, end: 7 }],
);

test('results combine checkers: any anomaly makes the run invalid and is listed flat', () => {
  const ops = pairOperations(entries);
  const lin = checkLinearizable(registerModel, ops);
  const res = buildResults({ entries, checkers: { linearizable: lin, append: checkAppend(ops) }, meta: { workload: 'register', seed: 7 } });
  assert.equal(res.valid, false);
  assert.deepEqual(res.ops, { ok: 3, fail: 1, info: 1 });
  assert.equal(res.anomalies.length, 1);
  assert.equal(res.anomalies[0]!.checker, 'linearizable');
  assert.deepEqual(res.anomalies[0]!.ops, lin.violations[0]!.ops);
  assert.deepEqual(res.faults, [{ kind: 'partition', targets: ['m1'], start: 1.5, end: 7 }]);
  assert.deepEqual(res.meta, { workload: 'register', seed: 7 });
  assert.ok(res.latency.byOperation.some((l) => l.f === 'write' && l.type === 'ok' && l.count === 2));
  assert.equal(exitCodeFor(res.valid), 1);
  // results.json round-trips through JSON.
  const back = JSON.parse(formatResults(res)) as typeof res;
  assert.equal(back.valid, false);
  assert.deepEqual(back.ops, res.ops);
  assert.equal(back.checkers.linearizable!.valid, false);
});

test('"unknown" when a checker could not decide and none found an anomaly; true when all passed', () => {
  const ops = pairOperations(entries).filter((o) => o.f !== 'read');
  const undecided = checkLinearizable(registerModel, ops, { budgetMs: -1 });
  assert.equal(undecided.valid, 'unknown');
  const res = buildResults({ entries, checkers: { linearizable: undecided, append: checkAppend(ops) } });
  assert.equal(res.valid, 'unknown');
  assert.equal(exitCodeFor(res.valid), 2);
  const ok = buildResults({ entries, checkers: { linearizable: checkLinearizable(registerModel, ops) } });
  assert.equal(ok.valid, true);
  assert.equal(exitCodeFor(ok.valid), 0);
  assert.equal(buildResults({ entries, checkers: {} }).valid, 'unknown', 'nothing checked is not a pass');
});
