import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CYCLE_CLASSES, DependencyGraph, type EdgeType } from './dependency-graph.js';

const graph = (n: number, edges: Array<[number, number, EdgeType]>): DependencyGraph<string> => {
  const g = new DependencyGraph<string>(n);
  for (const [a, b, t] of edges) g.addEdge(a, b, t, `${a}${t}${b}`);
  return g;
};
const cls = (name: string) => CYCLE_CLASSES.find((c) => c.name === name)!;

test('strongly connected components: only the cyclic ones', () => {
  const g = graph(7, [[0, 1, 'ww'], [1, 2, 'wr'], [2, 0, 'rw'], [2, 3, 'rt'], [3, 4, 'ww'], [4, 3, 'ww'], [5, 6, 'ww']]);
  assert.deepEqual(g.cyclicComponents().map((c) => c.join()).sort(), ['0,1,2', '3,4']);
  // A long chain does not overflow anything (iterative).
  const chain = new DependencyGraph<string>(100_000);
  for (let i = 0; i + 1 < 100_000; i++) chain.addEdge(i, i + 1, 'ww', '');
  chain.addEdge(99_999, 0, 'ww', '');
  assert.equal(chain.cyclicComponents()[0]!.length, 100_000);
});

test('cycles are found per class, shortest first, and only of that class', () => {
  // 0 →ww 1 →ww 0 (G0); 0 →wr 2 →rw 0 (G-single); 1 →rw 3 →rw 1 (G2).
  const g = graph(4, [[0, 1, 'ww'], [1, 0, 'ww'], [0, 2, 'wr'], [2, 0, 'rw'], [1, 3, 'rw'], [3, 1, 'rw']]);
  const [comp] = g.cyclicComponents();
  const types = (name: string): string | undefined => g.findCycle(comp!, cls(name))?.map((e) => e.type).sort().join(' ');
  assert.equal(types('G0'), 'ww ww');
  assert.equal(types('G1c'), undefined);
  assert.equal(types('G-single'), 'rw wr');
  assert.equal(types('G2'), 'rw rw');
  assert.equal(types('G0-realtime'), undefined);
  const cycle = g.findCycle(comp!, cls('G-single'))!;
  assert.equal(cycle[0]!.from, cycle.at(-1)!.to, 'the cycle closes');
  assert.deepEqual(cycle.map((e) => e.detail).sort(), ['0wr2', '2rw0']);
  // Real-time variants need a real-time edge.
  const rt = graph(2, [[0, 1, 'rt'], [1, 0, 'rw']]);
  assert.equal(rt.findCycle(rt.cyclicComponents()[0]!, cls('G-single'))?.length, undefined);
  assert.deepEqual(rt.findCycle(rt.cyclicComponents()[0]!, cls('G-single-realtime'))!.map((e) => e.type).sort(), ['rt', 'rw']);
});
