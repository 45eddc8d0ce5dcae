import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  countOutcomes,
  faultPeriods,
  formatHistory,
  HistoryError,
  pairOperations,
  parseHistory,
  readHistoryFile,
  writeHistoryFile,
  type ClientRecord,
  type HistoryEntry,
} from './history.js';
import { buildHistory } from './history-builder.js';

const sample: HistoryEntry[] = [
  { index: 0, type: 'invoke', process: 0, f: 'write', key: 'x', value: 1, time: 0, node: 'm1' },
  { index: 1, type: 'invoke', process: 1, f: 'read', key: 'x', value: null, time: 1 },
  { index: 2, type: 'info', process: 'nemesis', f: 'start', value: { kind: 'partition', targets: ['m1'], id: 'p1' }, time: 1.5 },
  { index: 3, type: 'ok', process: 0, f: 'write', key: 'x', value: 1, time: 2 },
  { index: 4, type: 'ok', process: 1, f: 'read', key: 'x', value: 1, time: 3 },
  { index: 5, type: 'invoke', process: 0, f: 'write', key: 'x', value: 2, time: 4 },
  { index: 6, type: 'info', process: 0, f: 'write', key: 'x', value: 2, time: 9, error: 'timeout' },
  { index: 7, type: 'info', process: 'nemesis', f: 'stop', value: { kind: 'partition', targets: ['m1'], id: 'p1' }, time: 10 },
  { index: 8, type: 'invoke', process: 1, f: 'read', key: 'x', value: null, time: 11 },
];

test('history.jsonl round-trips, one record per line', async (t) => {
  const text = formatHistory(sample);
  assert.equal(text.split('\n').length, sample.length + 1);
  assert.deepEqual(parseHistory(text), sample);
  const dir = await mkdtemp(join(tmpdir(), 'keelson-history-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'history.jsonl');
  await writeHistoryFile(path, sample);
  assert.deepEqual(await readHistoryFile(path), sample);
  await writeFile(path, text + '{"index": 9, "type": "ok"\n');
  await assert.rejects(readHistoryFile(path), (e: unknown) => e instanceof HistoryError && e.kind === 'parse' && e.line === sample.length + 1);
});

test('malformed records are refused with the line and the reason', () => {
  const bad = (line: object, kind: string, re: RegExp): void => {
    assert.throws(() => parseHistory(formatHistory(sample) + JSON.stringify(line)), (e: unknown) => e instanceof HistoryError && e.kind === kind && re.test(e.message));
  };
  bad({ index: 9, type: 'done', process: 0, f: 'read', value: null, time: 12 }, 'schema', /type must be/);
  bad({ index: 9, type: 'ok', process: 0, f: 'read', time: 12 }, 'schema', /value is required/);
  bad({ index: 9, type: 'info', process: 'nemesis', f: 'start', value: { kind: 'kill' }, time: 12 }, 'schema', /targets/);
  bad({ index: 3, type: 'ok', process: 1, f: 'read', value: null, time: 12 }, 'order', /strictly increase/);
  bad({ index: 9, type: 'ok', process: 1, f: 'read', value: null, time: 1 }, 'order', /time/);
  assert.throws(() => parseHistory('{"index":0}\n'), /line 1/);
});

test('invocations pair with completions; pending ones are indeterminate; faults become periods', () => {
  const ops = pairOperations(sample);
  assert.equal(ops.length, 4);
  const [w1, r1, w2, r2] = ops;
  assert.deepEqual([w1!.type, w1!.call, w1!.ret, w1!.node], ['ok', 0, 2, 'm1']);
  assert.deepEqual([r1!.type, r1!.result], ['ok', 1]);
  assert.deepEqual([w2!.type, w2!.ret, w2!.end, w2!.error], ['info', Infinity, 9, 'timeout']);
  assert.deepEqual([r2!.type, r2!.ret, r2!.end], ['info', Infinity, 11]);
  assert.deepEqual(countOutcomes(ops), { ok: 2, fail: 0, info: 2 });
  assert.deepEqual(faultPeriods(sample), [{ kind: 'partition', targets: ['m1'], id: 'p1', start: 1.5, end: 10, startIndex: 2, endIndex: 7 }]);
  assert.throws(() => pairOperations([sample[0]!, { ...sample[0]!, index: 1 }]), /still pending/);
  assert.throws(() => pairOperations([sample[3]!]), /no pending invocation/);
  assert.throws(() => pairOperations([sample[0]!, { ...(sample[4] as ClientRecord), process: 0 }]), /f=read/);
});

test('overlapping faults of one kind pair by id, else by targets', () => {
  const h = buildHistory([], [
    { kind: 'pause', targets: ['m1'], start: 0, end: 5 },
    { kind: 'pause', targets: ['m2'], start: 1, end: 3 },
    { kind: 'kill', targets: ['m3'], start: 2 },
  ]);
  const p = faultPeriods(h).map((f) => [f.kind, f.targets.join(), f.start, f.end]);
  assert.deepEqual(p, [['pause', 'm1', 0, 5], ['pause', 'm2', 1, 3], ['kill', 'm3', 2, 5]]);
});
