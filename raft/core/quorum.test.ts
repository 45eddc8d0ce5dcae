// Majority arithmetic (quorum.ts) and the tracker that applies it to a configuration.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressTracker } from './progress-tracker.js';
import { VoteResult, majorityCommitted, majorityVoteResult } from './quorum.js';

function committed(acks: Record<number, number>, voters = Object.keys(acks).map(Number)): number {
  return majorityCommitted(new Set(voters), (id) => acks[id]);
}

test('majorityCommitted: the largest index a majority of voters has acknowledged', () => {
  assert.equal(committed({ 1: 5 }), 5);
  assert.equal(committed({ 1: 5, 2: 3 }), 3, 'two voters: both');
  assert.equal(committed({ 1: 5, 2: 3, 3: 4 }), 4);
  assert.equal(committed({ 1: 9, 2: 9, 3: 1, 4: 1 }), 1, 'four voters: three needed');
  assert.equal(committed({ 1: 9, 2: 9, 3: 9, 4: 1 }), 9);
  assert.equal(committed({ 1: 7, 2: 6, 3: 5, 4: 4, 5: 3 }), 5);
  assert.equal(committed({ 1: 7 }, [1, 2, 3]), 0, 'voters with no progress count as 0');
  assert.equal(majorityCommitted(new Set(), () => 0), Number.MAX_SAFE_INTEGER, 'an empty configuration holds nothing back');
});

test('majorityVoteResult: won with a majority of grants, lost when a majority is out of reach, pending otherwise', () => {
  const v = (voters: number[], votes: [number, boolean][]) => majorityVoteResult(new Set(voters), new Map(votes));
  assert.equal(v([1], [[1, true]]), VoteResult.Won);
  assert.equal(v([1, 2, 3], [[1, true]]), VoteResult.Pending);
  assert.equal(v([1, 2, 3], [[1, true], [2, true]]), VoteResult.Won);
  assert.equal(v([1, 2, 3], [[1, true], [2, false]]), VoteResult.Pending);
  assert.equal(v([1, 2, 3], [[1, true], [2, false], [3, false]]), VoteResult.Lost);
  assert.equal(v([1, 2, 3, 4], [[1, true], [2, true], [3, false], [4, false]]), VoteResult.Lost, 'a tie loses');
  assert.equal(v([1, 2, 3], [[1, true], [2, true], [9, false]]), VoteResult.Won, 'votes of non-voters do not count');
  assert.equal(v([1, 2, 3], [[9, true], [8, true]]), VoteResult.Pending);
  assert.equal(v([], []), VoteResult.Won);
});

test('the tracker counts voters only: learners neither commit nor vote', () => {
  const t = new ProgressTracker(4);
  t.setConfig({ voters: [1, 2, 3], learners: [4, 5] }, 10);
  for (const [id, m] of [
    [1, 9],
    [2, 2],
    [3, 2],
    [4, 9],
    [5, 9],
  ] as const) {
    const p = t.progress.get(id);
    assert.ok(p);
    p.match = m;
  }
  assert.equal(t.committed(), 2, 'the learners at 9 do not help');
  for (const id of [4, 5]) {
    t.recordVote(id, true);
    (t.progress.get(id) as { recentActive: boolean }).recentActive = true;
  }
  t.recordVote(1, true);
  assert.equal(t.tallyVotes().result, VoteResult.Pending);
  assert.equal(t.quorumActive(1), false, 'self plus two active learners is no quorum');
  (t.progress.get(2) as { recentActive: boolean }).recentActive = true;
  assert.equal(t.quorumActive(1), true);
  t.recordVote(2, true);
  t.recordVote(2, false); // only the first vote of a voter counts
  assert.deepEqual(t.tallyVotes(), { granted: 2, rejected: 0, result: VoteResult.Won });
});

test('setConfig keeps the progress of members that stay and starts new ones at nextIndex', () => {
  const t = new ProgressTracker(4);
  t.setConfig({ voters: [1, 2], learners: [] }, 5);
  (t.progress.get(2) as { match: number }).match = 4;
  t.setConfig({ voters: [1], learners: [2, 3] }, 8);
  assert.equal(t.progress.get(2)?.match, 4);
  assert.equal(t.progress.get(2)?.isLearner, true);
  assert.equal(t.progress.get(3)?.next, 8);
  assert.deepEqual(t.confState(), { voters: [1], learners: [2, 3] });
  assert.equal(t.isSingleton(), false);
  t.setConfig({ voters: [1], learners: [] }, 8);
  assert.equal(t.isSingleton(), true);
  assert.equal(t.progress.has(2), false);
  assert.throws(() => t.setConfig({ voters: [1], learners: [1] }, 8));
});
