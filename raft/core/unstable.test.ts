// Unstable: the part of the log not yet persisted (an incoming snapshot and/or entries).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { Unstable } from './unstable.js';
import { EntryType, type Entry, type Snapshot } from './types.js';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((t, k) => ({ index: from + k, term: t, type: EntryType.Normal, data: new Uint8Array() }));
}

function snap(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: { voters: [1], learners: [] } }, data: new Uint8Array() };
}

function ids(u: Unstable): string[] {
  return u.entries.map((e) => `${e.index}@${e.term}`);
}

test('first and last index and terms come from the entries, or from a pending snapshot', () => {
  const u = new Unstable(5);
  assert.equal(u.maybeFirstIndex(), undefined);
  assert.equal(u.maybeLastIndex(), undefined);
  assert.equal(u.maybeTerm(5), undefined);
  u.truncateAndAppend(ents(5, [1, 2]));
  assert.equal(u.maybeFirstIndex(), undefined, 'without a snapshot, the first index is storage’s');
  assert.equal(u.maybeLastIndex(), 6);
  assert.equal(u.maybeTerm(6), 2);
  assert.equal(u.maybeTerm(4), undefined);
  assert.equal(u.maybeTerm(7), undefined);

  const s = new Unstable(1);
  s.restore(snap(4, 3));
  assert.equal(s.maybeFirstIndex(), 5);
  assert.equal(s.maybeLastIndex(), 4);
  assert.equal(s.maybeTerm(4), 3);
  assert.equal(s.maybeTerm(3), undefined);
  s.truncateAndAppend(ents(5, [3]));
  assert.equal(s.maybeLastIndex(), 5);
});

test('stableTo drops entries up to a durable (index, term), unless they were replaced since', () => {
  const u = new Unstable(5);
  u.truncateAndAppend(ents(5, [1, 1, 1]));
  u.stableTo(6, 1);
  assert.deepEqual(ids(u), ['7@1']);
  assert.equal(u.offset, 7);
  // A new leader rewrote 7 after the Ready that persisted 7@1 was taken: keep the new entry.
  u.truncateAndAppend(ents(7, [2]));
  u.stableTo(7, 1);
  assert.deepEqual(ids(u), ['7@2']);
  // Unknown index: nothing happens.
  u.stableTo(9, 2);
  assert.deepEqual(ids(u), ['7@2']);
  u.stableTo(7, 2);
  assert.deepEqual(ids(u), []);
  assert.equal(u.offset, 8);
});

test('truncateAndAppend: appends after the end, replaces everything from before the offset, or truncates in the middle', () => {
  const u = new Unstable(5);
  u.truncateAndAppend(ents(5, [1, 1, 1]));
  u.truncateAndAppend(ents(8, [1]));
  assert.deepEqual(ids(u), ['5@1', '6@1', '7@1', '8@1']);
  u.truncateAndAppend(ents(7, [2, 2]));
  assert.deepEqual(ids(u), ['5@1', '6@1', '7@2', '8@2']);
  u.truncateAndAppend(ents(3, [3]));
  assert.deepEqual(ids(u), ['3@3']);
  assert.equal(u.offset, 3, 'the log is being rewritten from an index already persisted');
});

test('stableSnapTo clears the snapshot only at its index; restore resets entries', () => {
  const u = new Unstable(5);
  u.truncateAndAppend(ents(5, [1]));
  u.restore(snap(9, 2));
  assert.deepEqual(ids(u), []);
  assert.equal(u.offset, 10);
  u.stableSnapTo(8);
  assert.ok(u.snapshot);
  u.stableSnapTo(9);
  assert.equal(u.snapshot, undefined);
});

test('slice is bounded to the unstable entries', () => {
  const u = new Unstable(5);
  u.truncateAndAppend(ents(5, [1, 1, 1]));
  assert.deepEqual(u.slice(6, 8).map((e) => e.index), [6, 7]);
  assert.throws(() => u.slice(4, 6), InvariantError);
  assert.throws(() => u.slice(6, 9), InvariantError);
});
