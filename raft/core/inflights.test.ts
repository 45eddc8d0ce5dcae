// Inflights: the bounded ring of unacknowledged appends to one follower.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { Inflights } from './inflights.js';

test('fills up to its size, then refuses more', () => {
  const f = new Inflights(3);
  f.add(1);
  f.add(2);
  assert.equal(f.full(), false);
  f.add(3);
  assert.equal(f.full(), true);
  assert.equal(f.length, 3);
  assert.throws(() => f.add(4), InvariantError);
});

test('freeLE frees every message whose last index is at most the acknowledged one', () => {
  const f = new Inflights(5);
  for (const i of [3, 5, 8, 9]) f.add(i);
  f.freeLE(2);
  assert.equal(f.length, 4, 'nothing acknowledged yet');
  f.freeLE(5);
  assert.equal(f.length, 2);
  f.freeLE(8);
  assert.equal(f.length, 1);
  f.freeLE(100);
  assert.equal(f.length, 0);
  f.freeLE(100);
  assert.equal(f.length, 0);
});

test('wraps around the ring without losing order', () => {
  const f = new Inflights(3);
  let next = 1;
  for (let round = 0; round < 10; round++) {
    while (!f.full()) f.add(next++);
    f.freeLE(next - 3); // acknowledge the oldest
    assert.equal(f.length, 2);
  }
  const c = f.clone();
  c.freeLE(next - 2);
  assert.equal(c.length, 1);
  assert.equal(f.length, 2, 'a clone is independent');
});

test('freeFirstOne frees just the oldest message; reset frees all', () => {
  const f = new Inflights(3);
  f.add(4);
  f.add(6);
  f.add(9);
  f.freeFirstOne();
  assert.equal(f.length, 2);
  f.freeLE(6);
  assert.equal(f.length, 1);
  f.reset();
  assert.equal(f.length, 0);
  f.freeFirstOne();
  assert.equal(f.length, 0);
  assert.throws(() => new Inflights(0), InvariantError);
});
