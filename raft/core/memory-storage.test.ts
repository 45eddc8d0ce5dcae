// MemoryStorage: the persisted log since the last snapshot, read by the core as stable storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { MemoryStorage } from './memory-storage.js';
import { CompactedError, SnapOutOfDateError, UnavailableError } from './storage.js';
import { EntryType, type Entry } from './types.js';

function ents(from: number, terms: number[], size = 0): Entry[] {
  return terms.map((t, k) => ({ index: from + k, term: t, type: EntryType.Normal, data: new Uint8Array(size) }));
}

function terms(s: MemoryStorage): number[] {
  return s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity).map((e) => e.term);
}

test('an empty storage has first index 1, last index 0 and knows the term of index 0', () => {
  const s = new MemoryStorage();
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 0);
  assert.equal(s.term(0), 0);
  assert.deepEqual(s.initialState(), { hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [], learners: [] } });
  assert.throws(() => s.term(1), UnavailableError);
});

test('entries: [lo, hi), bounded in bytes but never empty, errors outside the log', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2, 2, 3], 10)); // 26 bytes each
  assert.deepEqual(s.entries(2, 5, Infinity).map((e) => e.index), [2, 3, 4]);
  assert.deepEqual(s.entries(2, 5, 60).map((e) => e.index), [2, 3]);
  assert.deepEqual(s.entries(2, 5, 1).map((e) => e.index), [2], 'at least one entry');
  assert.deepEqual(s.entries(3, 3, Infinity), []);
  assert.throws(() => s.entries(0, 2, Infinity), CompactedError);
  assert.throws(() => s.entries(2, 7, Infinity), UnavailableError);
});

test('append truncates a conflicting suffix, ignores what was compacted, and refuses a gap', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 1, 1]));
  s.append(ents(3, [2, 2]));
  assert.deepEqual(terms(s), [1, 1, 2, 2]);
  s.append(ents(5, [2]));
  assert.deepEqual(terms(s), [1, 1, 2, 2, 2]);
  s.append(ents(2, [1]));
  assert.deepEqual(terms(s), [1, 1], 'appending at 2 replaces everything after it');
  s.append(ents(3, [3, 3, 3]));
  s.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array());
  s.compact(3);
  s.append(ents(1, [1, 1, 3, 3, 4])); // 1..3 compacted: ignored; 4@3 written again; 5@3 replaced by 5@4
  assert.equal(s.firstIndex(), 4);
  assert.deepEqual(terms(s), [3, 4]);
  s.append(ents(1, [1, 1])); // entirely compacted: nothing happens
  assert.deepEqual(terms(s), [3, 4]);
  assert.throws(() => s.append(ents(7, [4])), InvariantError, 'a gap after the last index');
});

test('compact keeps the term of the compacted index and drops what precedes it', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 2, 3, 4, 5]));
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.lastIndex(), 5);
  assert.equal(s.term(3), 3, 'the dummy entry remembers the term at the compaction point');
  assert.throws(() => s.term(2), CompactedError);
  assert.throws(() => s.compact(3), CompactedError);
  assert.throws(() => s.compact(6), InvariantError);
  s.compact(5);
  assert.equal(s.firstIndex(), 6);
  assert.equal(s.lastIndex(), 5);
});

test('createSnapshot records state at an index; older or equal snapshots are refused', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2]));
  const snap = s.createSnapshot(2, { voters: [1, 2], learners: [3] }, new Uint8Array([7]));
  assert.deepEqual(snap.metadata, { index: 2, term: 1, confState: { voters: [1, 2], learners: [3] } });
  assert.equal(s.snapshot(), snap);
  assert.equal(s.firstIndex(), 1, 'the log is kept until compact');
  assert.deepEqual(s.initialState().confState, { voters: [1, 2], learners: [3] });
  assert.throws(() => s.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array()), SnapOutOfDateError);
  assert.throws(() => s.createSnapshot(9, { voters: [1], learners: [] }, new Uint8Array()), InvariantError);
});

test('applySnapshot replaces the whole log; a snapshot not newer than the current one is refused', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2]));
  s.applySnapshot({ metadata: { index: 10, term: 4, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 4);
  assert.throws(
    () => s.applySnapshot({ metadata: { index: 10, term: 4, confState: { voters: [1], learners: [] } }, data: new Uint8Array() }),
    SnapOutOfDateError,
  );
  s.append(ents(11, [4]));
  assert.equal(s.lastIndex(), 11);
});

test('hard state is stored by value', () => {
  const s = new MemoryStorage();
  const hs = { term: 3, vote: 2, commit: 1 };
  s.setHardState(hs);
  hs.term = 99;
  assert.deepEqual(s.getHardState(), { term: 3, vote: 2, commit: 1 });
  const got = s.getHardState();
  got.vote = 7;
  assert.equal(s.initialState().hardState.vote, 2);
});
