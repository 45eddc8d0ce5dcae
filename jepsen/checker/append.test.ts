import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../common/prng.js';
import { buildHistory, type OpSpec } from '../history-builder.js';
import { pairOperations } from '../history.js';
import type { Json } from '../json.js';
import { checkAppend, type AppendResult } from './append.js';

type M = [string, string, Json];
const a = (k: string, v: number): M => ['append', k, v];
const r = (k: string, list: number[] | null): M => ['r', k, list];
/** A transaction: micro-ops as completed (reads filled in); the invocation carries null reads. */
const txn = (p: number, call: number, end: number | undefined, type: OpSpec['type'], mops: M[]): OpSpec => {
  const invoke = mops.map(([f, k, v]): M => (f === 'r' ? [f, k, null] : [f, k, v]));
  const spec: OpSpec = { process: p, f: 'txn', value: invoke, call, type, result: type === 'ok' ? mops : invoke };
  if (end !== undefined) spec.end = end;
  return spec;
};
const check = (specs: OpSpec[], o = {}): AppendResult => checkAppend(pairOperations(buildHistory(specs)), o);
const types = (res: AppendResult): string[] => Object.keys(res.counts).sort();
const indexes = (specs: OpSpec[]): number[] => {
  // The history index of each spec's invocation (buildHistory sorts records by time).
  const h = buildHistory(specs);
  const ops = pairOperations(h);
  return specs.map((s) => ops.find((o) => o.process === s.process && o.call === s.call)!.index);
};

test('a serial history is valid', () => {
  const res = check([
    txn(0, 0, 1, 'ok', [a('x', 1), r('x', [1])]),
    txn(1, 2, 3, 'ok', [r('x', [1]), a('x', 2), a('y', 1)]),
    txn(0, 4, 5, 'ok', [r('x', [1, 2]), r('y', [1]), r('z', null)]),
  ]);
  assert.deepEqual(res.anomalies, []);
  assert.equal(res.valid, true);
  assert.deepEqual(res.txns, { ok: 3, fail: 0, info: 0 });
  assert.ok(res.graph.edges > 0);
});

test('G0: a write cycle', () => {
  const specs = [
    txn(0, 0, 10, 'ok', [a('x', 1), a('y', 1)]),
    txn(1, 0, 10, 'ok', [a('x', 2), a('y', 2)]),
    txn(2, 11, 12, 'ok', [r('x', [1, 2]), r('y', [2, 1])]),
  ];
  const res = check(specs);
  assert.equal(res.valid, false);
  assert.ok(res.counts.G0, `found ${types(res)}`);
  const g0 = res.anomalies.find((x) => x.type === 'G0')!;
  const [t1, t2] = indexes(specs);
  assert.deepEqual([...g0.txns].sort(), [t1, t2].sort());
  assert.deepEqual(g0.cycle!.map((s) => s.type), ['ww', 'ww']);
  assert.deepEqual(new Set(g0.cycle!.map((s) => s.key)), new Set(['x', 'y']));
});

test('G1a: an aborted append is read', () => {
  const specs = [txn(0, 0, 1, 'fail', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [1])])];
  const res = check(specs);
  assert.deepEqual(types(res), ['G1a']);
  assert.deepEqual(res.anomalies[0]!.txns, indexes(specs).reverse());
});

test('G1b: an intermediate state is read', () => {
  const specs = [txn(0, 0, 10, 'ok', [a('x', 1), a('x', 2)]), txn(1, 0, 10, 'ok', [r('x', [1])])];
  const res = check(specs);
  assert.ok(res.counts.G1b, `found ${types(res)}`);
  assert.match(res.anomalies.find((x) => x.type === 'G1b')!.message, /intermediate/);
});

test('G1c: circular information flow', () => {
  const specs = [txn(0, 0, 10, 'ok', [a('x', 1), r('y', [1])]), txn(1, 0, 10, 'ok', [a('y', 1), r('x', [1])])];
  const res = check(specs);
  assert.deepEqual(types(res), ['G1c']);
  assert.deepEqual(res.anomalies[0]!.cycle!.map((s) => s.type), ['wr', 'wr']);
});

test('G-single: read skew', () => {
  const specs = [
    txn(0, 0, 10, 'ok', [a('x', 1), a('y', 1)]),
    txn(1, 0, 10, 'ok', [r('x', []), r('y', [1])]),
    txn(2, 11, 12, 'ok', [r('x', [1])]),
  ];
  const res = check(specs);
  assert.deepEqual(types(res), ['G-single']);
  const c = res.anomalies[0]!.cycle!;
  assert.deepEqual(c.map((s) => s.type).sort(), ['rw', 'wr']);
  assert.match(res.anomalies[0]!.message, /missing 1/);
});

test('G2: write skew', () => {
  const specs = [
    txn(0, 0, 10, 'ok', [r('x', []), a('y', 1)]),
    txn(1, 0, 10, 'ok', [r('y', []), a('x', 1)]),
    txn(2, 11, 12, 'ok', [r('x', [1]), r('y', [1])]),
  ];
  const res = check(specs);
  assert.deepEqual(types(res), ['G2']);
  assert.deepEqual(res.anomalies[0]!.cycle!.map((s) => s.type), ['rw', 'rw']);
});

test('incompatible orders, internal inconsistency, duplicates, garbage', () => {
  const incompatible = check([
    txn(0, 0, 1, 'ok', [a('x', 1)]),
    txn(1, 0, 1, 'ok', [a('x', 2)]),
    txn(2, 2, 3, 'ok', [r('x', [1, 2])]),
    txn(3, 2, 3, 'ok', [r('x', [2, 1])]),
  ]);
  assert.ok(incompatible.counts['incompatible-order']);
  assert.equal(incompatible.anomalies.find((x) => x.type === 'incompatible-order')!.key, 'x');

  const internal = check([txn(0, 0, 1, 'ok', [a('x', 1), r('x', [])])]);
  assert.ok(internal.counts.internal, `found ${types(internal)}`);
  const internal2 = check([txn(0, 0, 1, 'ok', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [1]), a('x', 2), r('x', [1])])]);
  assert.ok(internal2.counts.internal);

  const dup = check([txn(0, 0, 1, 'ok', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [1, 1])])]);
  assert.ok(dup.counts['duplicate-elements']);

  const garbage = check([txn(1, 2, 3, 'ok', [r('x', [7])])]);
  assert.deepEqual(types(garbage), ['garbage-read']);
});

test('real-time: a read that misses a completed append is a strict-serializability violation', () => {
  const specs = [txn(0, 0, 1, 'ok', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [])])];
  const res = check(specs);
  assert.deepEqual(types(res), ['G-single-realtime']);
  assert.deepEqual(res.anomalies[0]!.cycle!.map((s) => s.type).sort(), ['rt', 'rw']);
  // Serializable (no real-time order), it is fine; concurrent, it is fine too.
  assert.equal(check(specs, { realtime: false }).valid, true);
  assert.equal(check([txn(0, 0, 3, 'ok', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [])])]).valid, true);
});

test('indeterminate transactions may have committed', () => {
  // Observed: it committed; no G1a.
  assert.equal(check([txn(0, 0, 1, 'info', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [1])])]).valid, true);
  // Never observed: it did not (or not yet); no anomaly even though it "completed" before the read.
  assert.equal(check([txn(0, 0, 1, 'info', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [])])]).valid, true);
  assert.equal(check([txn(0, 0, undefined, 'info', [a('x', 1)]), txn(1, 2, 3, 'ok', [r('x', [])])]).valid, true);
  // Once observed, it takes part in cycles like any other transaction.
  const res = check([
    txn(0, 0, 10, 'info', [a('x', 1), a('y', 1)]),
    txn(1, 0, 10, 'ok', [r('x', [1]), r('y', [])]),
    txn(2, 11, 12, 'ok', [r('y', [1])]),
  ]);
  assert.deepEqual(types(res), ['G-single']);
});

/** A strictly serializable history: each transaction takes effect at an instant within its span. */
function simulate(seed: number, n: number, clients: number): OpSpec[] {
  const prng = new Prng(seed);
  const clock = new Array<number>(clients).fill(0);
  const txs: Array<{ spec: OpSpec; at: number; mops: M[]; applies: boolean }> = [];
  let next = 1;
  for (let i = 0; i < n; i++) {
    const p = prng.int(clients);
    const call = clock[p]! + prng.float();
    const at = call + prng.float() * 5;
    const end = at + 0.01 + prng.float() * 5;
    clock[p] = end;
    const mops: M[] = [];
    for (let j = prng.range(1, 4); j > 0; j--) {
      const k = `k${prng.int(5)}`;
      mops.push(prng.chance(0.5) ? a(k, next++) : r(k, null));
    }
    const type: OpSpec['type'] = prng.chance(0.03) ? 'info' : 'ok';
    txs.push({ spec: txn(p, call, end, type, mops), at, mops, applies: type === 'ok' || prng.chance(0.5) });
  }
  const state = new Map<string, number[]>();
  for (const t of [...txs].sort((x, y) => x.at - y.at)) {
    if (!t.applies) continue;
    const local = new Map<string, number[]>();
    const get = (k: string): number[] => local.get(k) ?? [...(state.get(k) ?? [])];
    t.mops.forEach((m, i) => {
      if (m[0] === 'append') local.set(m[1], [...get(m[1]), m[2] as number]);
      else t.mops[i] = r(m[1], get(m[1]));
    });
    for (const [k, v] of local) state.set(k, v);
    if (t.spec.type === 'ok') t.spec.result = t.mops;
  }
  return txs.map((t) => t.spec);
}

test('a large simulated strictly serializable history is valid, and a stale read in it is found', () => {
  const specs = simulate(3, 3000, 8);
  const t0 = performance.now();
  const res = check(specs);
  process.stdout.write(`# 3000 txns: ${(performance.now() - t0).toFixed(0)} ms, ${res.graph.edges} edges\n`);
  assert.deepEqual(res.anomalies, []);
  assert.equal(res.valid, true);

  // Make one late read miss the latest append it saw: a stale (but prefix-compatible) read.
  const victim = specs.findLast((s) => s.type === 'ok' && (s.result as M[]).some((m) => m[0] === 'r' && (m[2] as number[]).length > 2))!;
  victim.result = (victim.result as M[]).map((m) => (m[0] === 'r' && (m[2] as number[]).length > 2 ? r(m[1], (m[2] as number[]).slice(0, -2)) : m));
  const bad = check(specs);
  assert.equal(bad.valid, false);
  assert.ok(Object.keys(bad.counts).some((t) => t.startsWith('G')), `found ${types(bad)}`);
});

/** Brute force strict serializability: some real-time-respecting serial order explains every read. */
function strictlySerializable(specs: OpSpec[]): boolean {
  const ops = pairOperations(buildHistory(specs)).filter((o) => o.type !== 'fail');
  const mopsOf = (o: (typeof ops)[number]): M[] => (o.type === 'ok' ? o.result : o.value) as M[];
  const used = new Array<boolean>(ops.length).fill(false);
  const go = (state: Map<string, number[]>): boolean => {
    if (ops.every((o, i) => used[i] || o.type === 'info')) return true;
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      if (used[i] || ops.some((p, j) => !used[j] && j !== i && p.ret < o.call)) continue;
      const next = new Map(state);
      let fine = true;
      for (const [f, k, v] of mopsOf(o)) {
        const cur = next.get(k) ?? [];
        if (f === 'append') next.set(k, [...cur, v as number]);
        else if (o.type === 'ok' && JSON.stringify(v ?? []) !== JSON.stringify(cur)) fine = false;
      }
      if (!fine) continue;
      used[i] = true;
      if (go(next)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(new Map());
}

test('on small random histories the checker agrees with a brute-force strict-serializability search', () => {
  const prng = new Prng(17);
  let flagged = 0;
  for (let round = 0; round < 1500; round++) {
    const n = prng.range(2, 5);
    const all: number[] = [];
    const txs: Array<{ spec: OpSpec; mops: M[] }> = [];
    let next = 1;
    for (let i = 0; i < n; i++) {
      const call = prng.int(10);
      const mops: M[] = [];
      for (let j = prng.range(1, 3); j > 0; j--) {
        const k = prng.pick(['x', 'y']);
        if (prng.chance(0.5)) {
          all.push(next);
          mops.push(a(k, next++));
        } else mops.push(r(k, null));
      }
      const type = prng.pick(['ok', 'ok', 'ok', 'info', 'fail'] as const);
      txs.push({ spec: txn(i, call, call + prng.int(5), type, mops), mops });
    }
    // Reads see a random prefix of the values appended to their key, in a random order per key.
    const order = new Map<string, number[]>();
    for (const t of txs) for (const m of t.mops) if (m[0] === 'append') order.set(m[1], [...(order.get(m[1]) ?? []), m[2] as number]);
    for (const [k, vs] of order) order.set(k, prng.chance(0.7) ? vs : prng.shuffle([...vs]));
    for (const t of txs) {
      if (t.spec.type !== 'ok') continue;
      t.spec.result = t.mops.map((m): M => (m[0] === 'r' ? r(m[1], (order.get(m[1]) ?? []).slice(0, prng.int((order.get(m[1]) ?? []).length + 1))) : m));
    }
    const specs = txs.map((t) => t.spec);
    const res = check(specs);
    const truth = strictlySerializable(specs);
    if (!res.valid) {
      flagged++;
      assert.equal(truth, false, `round ${round}: reported ${types(res)} but a strict serialization exists: ${JSON.stringify(specs)}`);
    } else {
      assert.equal(truth, true, `round ${round}: not strictly serializable, yet no anomaly reported: ${JSON.stringify(specs)}`);
    }
  }
  assert.ok(flagged > 300);
});
