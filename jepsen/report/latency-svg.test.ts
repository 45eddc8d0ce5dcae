import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHistory, type OpSpec } from '../history-builder.js';
import { pairOperations } from '../history.js';
import { PERCENTILES } from './latency-stats.js';
import { renderLatencyDistributionSvg, renderLatencySvg } from './latency-svg.js';
import { byClass, findAll, parseXml, textOf } from './xml-tree.js';

const specs: OpSpec[] = [];
for (let i = 0; i < 60; i++) {
  const f = i % 3 === 0 ? 'read' : 'write';
  const type: OpSpec['type'] = i % 10 === 9 ? 'info' : i % 7 === 6 ? 'fail' : 'ok';
  specs.push({ process: i % 4, f, key: 'x', value: i, call: i * 25, end: i * 25 + 0.5 + (i % 5) * 20, type });
}
specs.push({ process: 9, f: 'write', key: 'x', value: 'x', call: 5, type: 'info' }); // never completed
const entries = buildHistory(specs, [{ kind: 'pause', targets: ['m2'], start: 100, end: 250 }]);
const ops = pairOperations(entries);

test('the latency plot is well-formed SVG with one point per operation, per series, and the faults', () => {
  const svg = renderLatencySvg(entries, { title: 'latency' });
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const points = byClass(root, 'pt');
  assert.equal(points.length, ops.length);
  assert.deepEqual(new Set(points.map((p) => Number(p.attrs['data-index']))), new Set(ops.map((o) => o.index)));
  const series = byClass(root, 'series').map((s) => `${s.attrs['data-f']} ${s.attrs['data-type']}`);
  assert.deepEqual(series, ['read ok', 'read fail', 'read info', 'write ok', 'write fail', 'write info']);
  const faults = byClass(root, 'fault');
  assert.equal(faults.length, 1);
  assert.equal(faults[0]!.attrs['data-kind'], 'pause');
  assert.match(textOf(faults[0]!), /pause m2/);
  // Log-scale ticks cover the latencies (0.5 ms .. 80 ms and the never-completed op).
  const ticks = byClass(root, 'ytick').map(textOf);
  assert.ok(ticks.includes('1 ms') && ticks.includes('100 ms'), `ticks ${ticks}`);
  // Every point says what it is.
  assert.ok(points.every((p) => findAll(p, (e) => e.name === 'title').length === 1));
});

test('the point bound samples evenly and says so', () => {
  const root = parseXml(renderLatencySvg(entries, { maxPoints: 10 }));
  const n = byClass(root, 'pt').length;
  assert.ok(n > 0 && n <= 11, `${n} points`);
  assert.match(textOf(byClass(root, 'note')[0]!), /every 7th/);
});

test('the distribution plot has a line per series with a marker per percentile', () => {
  const root = parseXml(renderLatencyDistributionSvg(entries));
  const series = byClass(root, 'series');
  assert.equal(series.length, 6);
  for (const s of series) {
    assert.equal(findAll(s, (e) => e.name === 'polyline').length, 1);
    assert.equal(byClass(s, 'pt').length, PERCENTILES.length);
  }
  assert.deepEqual(byClass(root, 'xtick').map(textOf), ['p50', 'p75', 'p90', 'p95', 'p99', 'p99.9', 'max']);
  // An empty history still gives a valid document.
  assert.equal(parseXml(renderLatencyDistributionSvg([])).name, 'svg');
  assert.equal(parseXml(renderLatencySvg([])).name, 'svg');
});
