// RaftLog: stable entries (Storage) followed by unstable ones, and the commit/apply cursors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { MemoryStorage } from './memory-storage.js';
import { RaftLog } from './raft-log.js';
import { CompactedError } from './storage.js';
import { EntryType, type Entry } from './types.js';

function ents(from: number, terms: number[], size = 0): Entry[] {
  return terms.map((t, k) => ({ index: from + k, term: t, type: EntryType.Normal, data: new Uint8Array(size) }));
}

/** A log whose storage holds `stable` (terms from index 1) and whose unstable part holds `unstable`. */
function makeLog(stable: number[], unstable: number[] = [], maxApplyingSize = Infinity): RaftLog {
  const s = new MemoryStorage();
  s.append(ents(1, stable));
  const log = new RaftLog(s, maxApplyingSize);
  if (unstable.length > 0) log.append(ents(stable.length + 1, unstable));
  return log;
}

function terms(log: RaftLog): number[] {
  return log.slice(log.firstIndex(), log.lastIndex() + 1, Infinity).map((e) => e.term);
}

test('maybeAppend: rejects a mismatching previous entry, appends, truncates a conflicting suffix, and commits min(leader commit, last new)', () => {
  // The log holds 1@1 2@2 3@3, committed 1.
  const cases: { index: number; logTerm: number; commit: number; add: number[]; want: number | undefined; log: number[]; committed: number }[] = [
    { index: 3, logTerm: 2, commit: 3, add: [4], want: undefined, log: [1, 2, 3], committed: 1 }, // wrong term at 3
    { index: 4, logTerm: 3, commit: 3, add: [4], want: undefined, log: [1, 2, 3], committed: 1 }, // beyond the end
    { index: 3, logTerm: 3, commit: 3, add: [], want: 3, log: [1, 2, 3], committed: 3 },
    { index: 3, logTerm: 3, commit: 4, add: [4], want: 4, log: [1, 2, 3, 4], committed: 4 },
    { index: 3, logTerm: 3, commit: 9, add: [4, 4], want: 5, log: [1, 2, 3, 4, 4], committed: 5 }, // commit capped at last new
    { index: 3, logTerm: 3, commit: 2, add: [4], want: 4, log: [1, 2, 3, 4], committed: 2 },
    { index: 1, logTerm: 1, commit: 2, add: [2], want: 2, log: [1, 2, 3], committed: 2 }, // already present: no truncation
    { index: 1, logTerm: 1, commit: 2, add: [4, 4], want: 3, log: [1, 4, 4], committed: 2 }, // conflict at 2: truncated
    { index: 2, logTerm: 2, commit: 2, add: [3, 4], want: 4, log: [1, 2, 3, 4], committed: 2 },
  ];
  for (const k of cases) {
    const log = makeLog([1, 2, 3]);
    log.commitTo(1);
    const got = log.maybeAppend(k.index, k.logTerm, k.commit, ents(k.index + 1, k.add));
    const what = JSON.stringify(k);
    assert.equal(got, k.want, what);
    assert.deepEqual(terms(log), k.log, what);
    assert.equal(log.committed, k.committed, what);
  }
});

test('maybeAppend refuses to truncate a committed entry', () => {
  const log = makeLog([1, 2, 3]);
  log.commitTo(2);
  assert.throws(() => log.maybeAppend(1, 1, 3, ents(2, [4])), InvariantError);
});

test('findConflict: the first new or conflicting index, or 0', () => {
  const log = makeLog([1, 2, 3]);
  assert.equal(log.findConflict([]), 0);
  assert.equal(log.findConflict(ents(1, [1, 2, 3])), 0);
  assert.equal(log.findConflict(ents(2, [2, 3])), 0);
  assert.equal(log.findConflict(ents(2, [2, 3, 4])), 4, 'new');
  assert.equal(log.findConflict(ents(1, [1, 4, 4])), 2, 'conflict');
  assert.equal(log.findConflict(ents(3, [4, 4])), 3);
});

test('findConflictByTerm: the last index at or before `index` whose term is <= `term`', () => {
  const log = makeLog([1, 1, 2, 2, 5, 5]);
  assert.deepEqual(log.findConflictByTerm(6, 5), { index: 6, term: 5 });
  assert.deepEqual(log.findConflictByTerm(6, 4), { index: 4, term: 2 }, 'skips the whole of term 5');
  assert.deepEqual(log.findConflictByTerm(6, 1), { index: 2, term: 1 });
  assert.deepEqual(log.findConflictByTerm(6, 0), { index: 0, term: 0 });
  // Compacted below: stops at the first unknown term.
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2, 2, 5, 5]));
  s.compact(3);
  const c = new RaftLog(s, Infinity);
  assert.deepEqual(c.findConflictByTerm(6, 1), { index: 2, term: 0 });
});

test('isUpToDate: a later last term wins; with equal last terms the longer log wins (Raft §5.4.1)', () => {
  const log = makeLog([1, 2, 2]); // last 3@2
  assert.equal(log.isUpToDate(1, 3), true);
  assert.equal(log.isUpToDate(3, 2), true);
  assert.equal(log.isUpToDate(4, 2), true);
  assert.equal(log.isUpToDate(2, 2), false);
  assert.equal(log.isUpToDate(9, 1), false);
});

test('maybeCommit commits a majority index only when it holds an entry of the given term (Raft §5.4.2)', () => {
  const log = makeLog([1, 1, 2, 3]);
  assert.equal(log.maybeCommit(3, 3), false, 'entry 3 is of term 2');
  assert.equal(log.committed, 0);
  assert.equal(log.maybeCommit(4, 3), true);
  assert.equal(log.committed, 4);
  assert.equal(log.maybeCommit(3, 2), false, 'never backwards');
  assert.equal(log.maybeCommit(9, 3), false, 'beyond the log');
});

test('committed entries are handed out once (applying), bounded in size, and never past a pending snapshot', () => {
  const log = makeLog([1, 1, 1, 1], [], 40); // entries of 16 bytes each
  log.commitTo(4);
  assert.equal(log.hasNextCommittedEnts(), true);
  const first = log.nextCommittedEnts();
  assert.deepEqual(first.map((e) => e.index), [1, 2]);
  log.applyingTo(2);
  assert.deepEqual(log.nextCommittedEnts().map((e) => e.index), [3, 4]);
  log.applyingTo(4);
  assert.equal(log.hasNextCommittedEnts(), false);
  log.appliedTo(4);
  assert.equal(log.applied, 4);
  assert.throws(() => log.appliedTo(5), InvariantError, 'cannot apply what is not committed');
  log.restore({ metadata: { index: 10, term: 2, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
  assert.equal(log.committed, 10);
  assert.equal(log.hasNextCommittedEnts(), false, 'the snapshot is applied first');
  assert.equal(log.firstIndex(), 11);
  assert.equal(log.lastIndex(), 10);
  assert.equal(log.term(10), 2);
});

test('slice spans storage and unstable entries and honours the size limit', () => {
  const log = makeLog([1, 1, 2], [2, 3], Infinity);
  assert.deepEqual(log.slice(2, 6, Infinity).map((e) => `${e.index}@${e.term}`), ['2@1', '3@2', '4@2', '5@3']);
  assert.deepEqual(log.slice(2, 6, 40).map((e) => e.index), [2, 3]);
  assert.deepEqual(log.slice(2, 6, 1).map((e) => e.index), [2]);
  assert.deepEqual(log.entries(6, Infinity), []);
  assert.deepEqual(log.entries(5, Infinity).map((e) => e.index), [5]);
  assert.throws(() => log.slice(2, 7, Infinity), InvariantError);
});

test('terms of compacted or missing indexes are unknown', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 2, 3]));
  s.compact(2);
  const log = new RaftLog(s, Infinity);
  assert.equal(log.firstIndex(), 3);
  assert.equal(log.term(2), 2);
  assert.throws(() => log.term(1), CompactedError);
  assert.equal(log.zeroTermOnOutOfBounds(1), 0);
  assert.equal(log.zeroTermOnOutOfBounds(9), 0);
  assert.equal(log.matchTerm(1, 1), false);
  assert.throws(() => log.slice(1, 3, Infinity), CompactedError);
  // A log over compacted storage starts with commit and applied at the compaction point.
  assert.equal(log.committed, 2);
  assert.equal(log.applied, 2);
});

test('append keeps committed entries and rejects rewriting them', () => {
  const log = makeLog([1, 1, 1]);
  log.commitTo(2);
  assert.equal(log.append(ents(3, [2, 2])), 4);
  assert.deepEqual(terms(log), [1, 1, 2, 2]);
  assert.throws(() => log.append(ents(2, [3])), InvariantError);
  assert.throws(() => log.commitTo(9), InvariantError, 'commit beyond the last index');
});

test('stableTo moves unstable entries out of the unstable part only when the term still matches', () => {
  const log = makeLog([1], [2, 2]);
  assert.deepEqual(log.unstableEntries().map((e) => e.index), [2, 3]);
  log.stableTo(3, 1); // stale: the entry at 3 is of term 2
  assert.equal(log.unstableEntries().length, 2);
  log.stableTo(2, 2);
  assert.deepEqual(log.unstableEntries().map((e) => e.index), [3]);
});
