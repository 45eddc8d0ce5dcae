import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';

test('the same seed replays the same stream', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  for (let i = 0; i < 1000; i++) assert.equal(a.u32(), b.u32());
});

test('different seeds give different streams', () => {
  const a = new Prng(1);
  const b = new Prng(2);
  const same = Array.from({ length: 100 }, () => a.u32() === b.u32()).filter(Boolean).length;
  assert.ok(same < 3);
});

test('int(n) stays in range and covers it', () => {
  const p = new Prng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const x = p.int(10);
    assert.ok(x >= 0 && x < 10);
    seen.add(x);
  }
  assert.equal(seen.size, 10);
  assert.throws(() => p.int(0), RangeError);
});
