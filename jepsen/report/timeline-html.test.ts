import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHistory, type OpSpec } from '../history-builder.js';
import { pairOperations } from '../history.js';
import { renderTimelineHtml } from './timeline-html.js';
import { byClass, findAll, hasClass, parseXml, textOf } from './xml-tree.js';

const specs: OpSpec[] = [
  { process: 0, f: 'write', key: 'x', value: 1, call: 0, end: 10, type: 'ok', node: 'm1' },
  { process: 1, f: 'read', key: 'x', call: 5, end: 12, type: 'ok', result: 1 },
  { process: 2, f: 'write', key: 'x', value: '<script>&"\'', call: 20, end: 300, type: 'info', error: 'deadline exceeded' },
  { process: 0, f: 'cas', key: 'x', value: [1, 2], call: 30, end: 40, type: 'fail' },
  { process: 1, f: 'read', key: 'x', call: 50, end: 60, type: 'ok', result: 2 },
  { process: 'watcher-1', f: 'watch', value: { watcher: 'w', key: 'x', startRevision: 1 }, call: 0, type: 'info' },
];
const entries = buildHistory(specs, [
  { kind: 'partition', targets: ['m1', 'm2'], start: 15, end: 45 },
  { kind: 'kill', targets: ['m3'], start: 40 },
]);
const ops = pairOperations(entries);

test('the timeline is well-formed and holds one lane per client, every op, faults and the anomaly', () => {
  const read2 = ops.find((o) => o.f === 'read' && o.result === 2)!;
  const cas = ops.find((o) => o.f === 'cas')!;
  const html = renderTimelineHtml({
    title: 'register <test> & co',
    subtitle: 'seed 7',
    entries,
    anomalies: [{ checker: 'linearizable', type: 'nonlinearizable', message: 'read → 2 cannot be linearized', ops: [cas.index, read2.index], key: 'x' }],
  });
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  const root = parseXml(html);
  assert.equal(root.name, 'html');
  assert.equal(textOf(findAll(root, (e) => e.name === 'title')[0]!), 'register <test> & co');

  const lanes = byClass(root, 'lane');
  assert.deepEqual(lanes.map((l) => l.attrs['data-process']), ['0', '1', '2', 'watcher-1']);
  const bars = byClass(root, 'op').filter((e) => e.attrs['data-index'] !== undefined);
  assert.equal(bars.length, ops.length);
  for (const op of ops) {
    const bar = bars.find((b) => b.attrs['data-index'] === String(op.index))!;
    assert.ok(hasClass(bar, op.type), `op ${op.index} is drawn as ${op.type}`);
    assert.equal(bar.attrs.id, `op-${op.index}`);
    const lane = lanes.find((l) => l.attrs['data-process'] === String(op.process))!;
    assert.ok(lane.children.includes(bar), `op ${op.index} sits in its client's lane`);
  }
  // Bars are placed by time: a later invocation is further right.
  const left = (i: number): number => Number(/left:([\d.]+)px/.exec(bars.find((b) => b.attrs['data-index'] === String(i))!.attrs.style!)![1]);
  assert.ok(left(read2.index) > left(cas.index));
  // Hover titles carry the details, escaped text survives.
  const info = bars.find((b) => hasClass(b, 'info') && b.attrs['data-f'] === 'write')!;
  assert.match(info.attrs.title!, /<script>&\\"'/);
  assert.match(info.attrs.title!, /error: deadline exceeded/);

  const faults = byClass(root, 'fault').filter((e) => e.attrs['data-kind'] !== undefined);
  assert.deepEqual(faults.map((f) => [f.attrs['data-kind'], f.attrs['data-targets']]), [['partition', 'm1 m2'], ['kill', 'm3']]);
  assert.match(textOf(faults[0]!), /partition m1,m2/);
  assert.match(faults[1]!.attrs.title!, /still active/);

  const anomalous = byClass(root, 'anomalous').filter((e) => e.attrs['data-index'] !== undefined);
  assert.deepEqual(anomalous.map((e) => Number(e.attrs['data-index'])).sort((a, b) => a - b), [cas.index, read2.index]);
  const items = byClass(root, 'anomaly');
  assert.equal(items.length, 1);
  assert.match(textOf(items[0]!), /read → 2 cannot be linearized/);
  assert.deepEqual(findAll(items[0]!, (e) => e.name === 'a').map((a) => a.attrs.href), [`#op-${cas.index}`, `#op-${read2.index}`]);
});

test('without anomalies the page says so; a bound on drawn ops is honoured and noted', () => {
  const root = parseXml(renderTimelineHtml({ title: 't', entries, maxOps: 2 }));
  assert.match(textOf(findAll(root, (e) => e.attrs.id === 'anomalies')[0]!), /No anomalies/);
  assert.equal(byClass(root, 'op').filter((e) => e.attrs['data-index'] !== undefined).length, 2);
  assert.match(textOf(byClass(root, 'note')[0]!), new RegExp(`first 2 of ${ops.length}`));
});
