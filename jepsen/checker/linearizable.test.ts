import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHistory, type OpSpec } from '../history-builder.js';
import { pairOperations, type Operation } from '../history.js';
import type { Json } from '../json.js';
import { checkLinearizable } from './linearizable.js';
import { registerModel } from './models/register.js';
import { simulateRegisterHistory } from './register-history-sim.js';
import { Prng } from '../../common/prng.js';

// Shorthands for hand-made register histories: [call, end] times, key "x" unless given.
const w = (p: number, v: Json, call: number, end: number | undefined, type: OpSpec['type'] = 'ok', key = 'x'): OpSpec =>
  end === undefined ? { process: p, f: 'write', key, value: v, call, type } : { process: p, f: 'write', key, value: v, call, end, type };
const r = (p: number, v: Json, call: number, end: number, type: OpSpec['type'] = 'ok', key = 'x'): OpSpec => ({
  process: p, f: 'read', key, value: null, call, end, type, result: v,
});
const cas = (p: number, from: Json, to: Json, call: number, end: number, type: OpSpec['type'] = 'ok', key = 'x'): OpSpec => ({
  process: p, f: 'cas', key, value: [from, to], call, end, type,
});
const check = (specs: OpSpec[], o = {}) => checkLinearizable(registerModel, pairOperations(buildHistory(specs)), o);
const indexOf = (ops: Operation[], pred: (op: Operation) => boolean): number => {
  const op = ops.find(pred);
  assert.ok(op, 'operation not found');
  return op.index;
};

test('a sequential history is linearizable; a never-written key reads null', () => {
  const res = check([r(0, null, 0, 1), w(0, 1, 2, 3), r(1, 1, 4, 5), cas(1, 1, 2, 6, 7), r(0, 2, 8, 9)]);
  assert.equal(res.valid, true);
  assert.equal(res.opsChecked, 5);
  assert.deepEqual(res.violations, []);
});

test('concurrent operations are reordered to find a linearization', () => {
  // w1 is invoked first, but w2 must take effect after the read of 1 and before the read of 2,
  // although w2 is invoked before that read: only reordering explains it.
  const res = check([w(0, 1, 0, 10), w(2, 2, 1, 4), r(1, 1, 2, 3), r(3, 2, 5, 6)]);
  assert.equal(res.valid, true);
  // Two concurrent writes followed by reads that see them in either order are fine too.
  assert.equal(check([w(0, 'a', 0, 5), w(1, 'b', 0, 5), r(2, 'a', 1, 2), r(3, 'b', 6, 7)]).valid, true);
});

test('a stale read is rejected and explained by the writes it sits between', () => {
  const specs = [w(0, 1, 0, 1), w(1, 2, 2, 3), r(2, 1, 4, 5), r(0, 2, 6, 7)];
  const h = buildHistory(specs);
  const ops = pairOperations(h);
  const res = checkLinearizable(registerModel, ops);
  assert.equal(res.valid, false);
  assert.equal(res.violations.length, 1);
  const v = res.violations[0]!;
  const staleRead = indexOf(ops, (o) => o.f === 'read' && o.result === 1);
  assert.equal(v.key, 'x');
  assert.equal(v.failedOp.index, staleRead);
  assert.equal(v.minimal, true);
  assert.deepEqual(v.ops, [indexOf(ops, (o) => o.value === 1), indexOf(ops, (o) => o.value === 2), staleRead]);
  assert.equal(v.failedOp.description, 'read → 1');
  assert.match(v.message, /read → 1/);
  // The search got as far as w1, w2 and then could not place the read.
  assert.equal(v.stuckAt.op.index, staleRead);
  assert.equal(v.stuckAt.state, '2');
});

test('a lost write is rejected', () => {
  const res = check([w(0, 1, 0, 1), r(1, null, 2, 3)]);
  assert.equal(res.valid, false);
  assert.deepEqual(res.violations[0]!.opDetails.map((d) => d.description), ['write 1', 'read → null']);
});

test('a double-applied CAS is rejected', () => {
  const res = check([w(0, 0, 0, 1), cas(1, 0, 1, 2, 3), cas(2, 0, 1, 4, 5)]);
  assert.equal(res.valid, false);
  const v = res.violations[0]!;
  assert.equal(v.failedOp.description, 'cas 0 → 1');
  assert.equal(v.ops.length, 3, 'the set keeps the write and both CASes');
  assert.equal(v.minimal, true);
  // Concurrent CASes from the same value cannot both succeed either.
  assert.equal(check([w(0, 0, 0, 1), cas(1, 0, 1, 2, 5), cas(2, 0, 1, 2, 5)]).valid, false);
  // ... but a failed one is dropped, and one that did not complete may not have happened.
  assert.equal(check([w(0, 0, 0, 1), cas(1, 0, 1, 2, 5), cas(2, 0, 1, 2, 5, 'fail')]).valid, true);
  assert.equal(check([w(0, 0, 0, 1), cas(1, 0, 1, 2, 5), cas(2, 0, 1, 2, 5, 'info'), r(0, 1, 6, 7)]).valid, true);
});

test('an indeterminate write that must have happened explains a read', () => {
  assert.equal(check([w(0, 1, 0, 1, 'info'), r(1, 1, 5, 6)]).valid, true);
  // ... even long after the client gave up on it.
  assert.equal(check([w(0, 1, 0, 1, 'info'), r(1, null, 2, 3), r(1, 1, 4, 5)]).valid, true);
  // ... and when it never completed at all.
  assert.equal(check([w(0, 1, 0, undefined), r(1, null, 2, 3), r(1, 1, 4, 5)]).valid, true);
});

test('an indeterminate write whose effect is never seen is fine', () => {
  assert.equal(check([w(0, 1, 0, 1, 'info'), r(1, null, 2, 3), r(1, null, 4, 5)]).valid, true);
});

test('an indeterminate write cannot take effect before it was invoked', () => {
  const res = check([r(1, 1, 0, 1), w(0, 1, 2, 3, 'info')]);
  assert.equal(res.valid, false);
});

test('a failed write whose value is read is rejected', () => {
  const res = check([w(0, 1, 0, 1, 'fail'), r(1, 1, 2, 3)]);
  assert.equal(res.valid, false);
  assert.equal(res.violations[0]!.failedOp.description, 'read → 1');
});

test('keys are checked independently and each violation names its key', () => {
  const res = check([w(0, 1, 0, 1, 'ok', 'a'), r(1, 1, 2, 3, 'ok', 'b'), w(2, 5, 0, 1, 'ok', 'b'), r(3, 5, 2, 3, 'ok', 'b')]);
  assert.equal(res.valid, false);
  assert.deepEqual(res.keys.map((k) => [k.key, k.valid]).sort(), [['a', true], ['b', false]]);
  assert.deepEqual(res.violations.map((v) => v.key), ['b']);
});

/** N concurrent writes and then a read of a value none wrote: the search must try every subset. */
function hardHistory(n: number): OpSpec[] {
  const specs: OpSpec[] = [];
  for (let i = 0; i < n; i++) specs.push(w(i, i, 0, 100));
  specs.push(r(n, 'never-written', 101, 102));
  return specs;
}

test('the time budget gives "unknown", never a guess', () => {
  let t = 0;
  const res = check(hardHistory(22), { budgetMs: 50, now: () => (t += 0.01) });
  assert.equal(res.valid, 'unknown');
  assert.equal(res.keys[0]!.reason, 'time');
  assert.deepEqual(res.violations, []);
  // An invalid key decides the result even when another key is unknown.
  const mixed = check([...hardHistory(22), w(50, 1, 0, 1, 'ok', 'b'), r(51, 2, 2, 3, 'ok', 'b')], { budgetMs: 50, now: () => (t += 0.01) });
  assert.equal(mixed.valid, false);
  // The memory bound gives "unknown" too.
  const mem = check(hardHistory(22), { maxConfigurations: 5000 });
  assert.equal(mem.valid, 'unknown');
  assert.equal(mem.keys[0]!.reason, 'memory');
  // With enough budget the same shape (smaller) is decided.
  assert.equal(check(hardHistory(10)).valid, false);
});

test('a large simulated history is accepted, and rejected once one read is corrupted', () => {
  const h = simulateRegisterHistory({ seed: 11, clients: 6, ops: 5000, keys: ['x'], values: 1_000_000, infoRate: 0.02 });
  const ops = pairOperations(h);
  const t0 = performance.now();
  const res = checkLinearizable(registerModel, ops, { budgetMs: 600_000 });
  process.stdout.write(`# 5000 ops, unique values: ${(performance.now() - t0).toFixed(0)} ms, ${res.keys[0]!.configurations} configurations\n`);
  assert.equal(res.valid, true);
  // Every op but failed ones, indeterminate reads and indeterminate writes nobody observed.
  const constrained = ops.filter((o) => o.type !== 'fail' && !(o.f === 'read' && o.type === 'info')).length;
  const indeterminate = ops.filter((o) => o.type === 'info').length;
  assert.ok(indeterminate > 50 && res.opsChecked <= constrained && res.opsChecked >= constrained - indeterminate);

  // Corrupt a read in the middle into a stale read: it returns the value of a write that was
  // overwritten by another write completed before the read was invoked.
  const okWrites = ops.filter((o) => o.f === 'write' && o.type === 'ok');
  const written = new Map<string, number>();
  for (const o of ops) {
    if (o.f === 'write') written.set(JSON.stringify(o.value), (written.get(JSON.stringify(o.value)) ?? 0) + 1);
    if (o.f === 'cas') written.set(JSON.stringify((o.value as Json[])[1]), 99);
  }
  const read = ops.filter((o) => o.f === 'read' && o.type === 'ok' && o.call > ops[2500]!.call)[0]!;
  const newer = okWrites.filter((o) => o.end < read.call).at(-1)!;
  const older = okWrites.filter((o) => o.end < newer.call && written.get(JSON.stringify(o.value)) === 1).at(-1)!;
  assert.ok(older && newer, 'the simulated history has two writes before the read');
  const corrupted = ops.map((o) => (o === read ? { ...o, result: older.value } : o));
  const t1 = performance.now();
  // Generous budgets: the explanation's size is asserted, so it must never be cut short by a slow machine.
  const bad = checkLinearizable(registerModel, corrupted, { budgetMs: 600_000, explainBudgetMs: 600_000 });
  process.stdout.write(`# corrupted: ${(performance.now() - t1).toFixed(0)} ms\n`);
  assert.equal(bad.valid, false);
  const v = bad.violations[0]!;
  assert.equal(v.failedOp.index, read.index);
  assert.ok(v.ops.includes(read.index) && v.ops.includes(older.index), `explanation ${v.ops} names the read and the write it saw`);
  assert.ok(v.ops.length <= 6, `explanation has ${v.ops.length} ops`);
  assert.equal(new Set(v.ops).size, v.ops.length);

  // A read of a value nobody wrote is explained by itself.
  const garbage = checkLinearizable(registerModel, ops.map((o) => (o === read ? { ...o, result: 'never-written' } : o)), { budgetMs: 600_000, explainBudgetMs: 600_000 });
  assert.equal(garbage.valid, false);
  assert.deepEqual(garbage.violations[0]!.ops, [read.index]);
  assert.equal(garbage.violations[0]!.minimal, true);
});

test('a simulated history with ambiguous values, CAS and several keys is accepted', () => {
  const h = simulateRegisterHistory({ seed: 5, clients: 8, ops: 6000, keys: ['a', 'b', 'c'], values: 4, infoRate: 0.03 });
  const t0 = performance.now();
  const res = checkLinearizable(registerModel, pairOperations(h), { budgetMs: 600_000 });
  process.stdout.write(`# 6000 ops, 3 keys, 4 values: ${(performance.now() - t0).toFixed(0)} ms\n`);
  assert.equal(res.valid, true);
  assert.equal(res.keys.length, 3);
});

/** Brute force: some order of the operations respecting real time (unknown ones optional) is legal. */
function bruteForce(ops: Operation[]): boolean {
  const decoded = ops
    .filter((o) => o.type !== 'fail')
    .map((o) => ({ o, d: registerModel.decode(o) }))
    .filter((x): x is { o: Operation; d: NonNullable<ReturnType<typeof registerModel.decode>> } => x.d !== null);
  const used = new Array<boolean>(decoded.length).fill(false);
  const go = (state: string, count: number): boolean => {
    // Done when every determinate op is placed.
    if (decoded.every((x, i) => used[i] || x.o.ret === Infinity)) return true;
    for (let i = 0; i < decoded.length; i++) {
      if (used[i]) continue;
      const x = decoded[i]!;
      // x can go next only if no unplaced determinate op returned before x was invoked.
      if (decoded.some((y, j) => !used[j] && j !== i && y.o.ret < x.o.call)) continue;
      const next = registerModel.step(state, x.d.input, x.d.output);
      if (next === undefined) continue;
      used[i] = true;
      if (go(next, count + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(registerModel.init(), 0);
}

test('the search agrees with brute force on thousands of small random histories', () => {
  const prng = new Prng(99);
  let invalid = 0;
  for (let round = 0; round < 3000; round++) {
    const specs: OpSpec[] = [];
    const n = prng.range(1, 7);
    for (let i = 0; i < n; i++) {
      const call = prng.int(20);
      const end = call + prng.int(8);
      const type = prng.pick(['ok', 'ok', 'ok', 'fail', 'info'] as const);
      const v = prng.int(3);
      const kind = prng.int(3);
      if (kind === 0) specs.push(w(i, v, call, end, type));
      else if (kind === 1) specs.push(r(i, prng.chance(0.2) ? null : v, call, end, type === 'fail' ? 'ok' : type));
      else specs.push(cas(i, prng.int(3), v, call, end, type));
    }
    const ops = pairOperations(buildHistory(specs));
    const expected = bruteForce(ops);
    const res = checkLinearizable(registerModel, ops);
    assert.equal(res.valid, expected, `round ${round}: ${JSON.stringify(specs)}`);
    if (!expected) {
      invalid++;
      // The explanation is itself a non-linearizable set.
      const v = res.violations[0]!;
      const subset = ops.filter((o) => v.ops.includes(o.index));
      assert.equal(bruteForce(subset), false, `round ${round}: explanation ${v.ops} is linearizable`);
      assert.ok(v.ops.includes(v.failedOp.index));
    }
  }
  assert.ok(invalid > 300, `${invalid} invalid histories among the random ones`);
});
