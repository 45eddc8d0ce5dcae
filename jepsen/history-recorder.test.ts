import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryError, pairOperations, parseHistory, formatEntry, type HistoryEntry } from './history.js';
import { HistoryRecorder } from './history-recorder.js';

test('the recorder numbers records, stamps times and streams them to its sink', () => {
  let now = 0;
  const lines: string[] = [];
  const rec = new HistoryRecorder({ now: () => now, maxEntries: 100, sink: (e: HistoryEntry) => lines.push(formatEntry(e)) });
  const w = rec.invoke(0, 'lease-grant', { ttl: 5n }, { node: 'm2' });
  now = 1.5;
  rec.fault('start', { kind: 'kill', targets: ['m1'] });
  now = 2;
  rec.complete(0, 'ok', { lease: 7587869185296465415n, ttl: 5 });
  rec.invoke(1, 'read', null, { key: 'x' });
  now = 1; // a clock that went back is clamped: times never decrease
  rec.closeAll();
  assert.equal(rec.outstanding(), 0);
  const h = parseHistory(lines.join('\n'));
  assert.deepEqual(h, rec.entries());
  assert.deepEqual(h.map((e) => e.time), [0, 1.5, 2, 2, 2]);
  const ops = pairOperations(h);
  assert.equal(ops[0]!.index, w);
  assert.deepEqual(ops[0]!.value, { ttl: '5' });
  assert.deepEqual(ops[0]!.result, { lease: '7587869185296465415', ttl: 5 });
  assert.equal(ops[1]!.key, 'x');
  assert.equal(ops[1]!.type, 'info');
  assert.match(ops[1]!.error!, /ended/);
});

test('one outstanding operation per process, a reserved nemesis name, and a bound', () => {
  const rec = new HistoryRecorder({ now: () => 0, maxEntries: 3 });
  rec.invoke(0, 'read', null);
  assert.throws(() => rec.invoke(0, 'read', null), (e: unknown) => e instanceof HistoryError && e.kind === 'pairing');
  assert.throws(() => rec.complete(1, 'ok', null), (e: unknown) => e instanceof HistoryError && e.kind === 'pairing');
  assert.throws(() => rec.invoke('nemesis', 'read', null), (e: unknown) => e instanceof HistoryError && e.kind === 'schema');
  rec.complete(0, 'ok', 1);
  rec.invoke(1, 'read', null);
  assert.throws(() => rec.complete(1, 'ok', 1), (e: unknown) => e instanceof HistoryError && e.kind === 'full');
  assert.throws(() => rec.invoke(2, 'write', () => 1), /cannot store a function/);
});
