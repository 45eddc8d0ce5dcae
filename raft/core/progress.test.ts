// Progress: the leader's view of one follower and its probe/replicate/snapshot state machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { Progress, ProgressState } from './progress.js';

function at(state: ProgressState, match: number, next: number, inflight = 4): Progress {
  const p = new Progress(next, inflight, false);
  p.match = match;
  if (state === ProgressState.Replicate) {
    p.becomeReplicate();
    p.next = next;
  } else if (state === ProgressState.Snapshot) p.becomeSnapshot(next);
  return p;
}

test('probe: one message at a time — a send pauses, an answer resumes', () => {
  const p = at(ProgressState.Probe, 0, 5);
  assert.equal(p.isPaused(), false);
  p.sentEntries(3, 7);
  assert.equal(p.next, 5, 'probe does not move next optimistically');
  assert.equal(p.isPaused(), true);
  assert.equal(p.maybeUpdate(7), true);
  assert.equal(p.isPaused(), false);
  assert.deepEqual([p.match, p.next], [7, 8]);
});

test('replicate: next advances on send, and sending stops when the inflight window is full', () => {
  const p = at(ProgressState.Replicate, 4, 5, 2);
  p.sentEntries(2, 6);
  assert.equal(p.next, 7);
  assert.equal(p.isPaused(), false);
  p.sentEntries(1, 7);
  assert.equal(p.isPaused(), true);
  p.sentEntries(0, 7); // an empty append does not take a slot
  p.inflights.freeLE(6);
  assert.equal(p.isPaused(), false);
});

test('maybeUpdate ignores stale acknowledgements', () => {
  const p = at(ProgressState.Replicate, 5, 9);
  assert.equal(p.maybeUpdate(3), false);
  assert.deepEqual([p.match, p.next], [5, 9]);
  assert.equal(p.maybeUpdate(6), true);
  assert.deepEqual([p.match, p.next], [6, 9]);
  assert.equal(p.maybeUpdate(12), true);
  assert.deepEqual([p.match, p.next], [12, 13]);
});

test('maybeDecrTo: replicate falls back to match+1; probe follows the hint; stale rejections are ignored', () => {
  const r = at(ProgressState.Replicate, 5, 10);
  assert.equal(r.maybeDecrTo(5, 0), false, 'rejection of an index already matched is stale');
  assert.equal(r.maybeDecrTo(8, 2), true);
  assert.equal(r.next, 6, 'replicate goes back to match + 1, whatever the hint');

  const p = at(ProgressState.Probe, 0, 10);
  p.sentEntries(1, 10);
  assert.equal(p.maybeDecrTo(7, 2), false, 'not the probe that is outstanding (next - 1 = 9)');
  assert.equal(p.maybeDecrTo(9, 4), true);
  assert.equal(p.next, 5, 'jumps to hint + 1');
  assert.equal(p.isPaused(), false, 'a rejection is an answer: probe again');
  assert.equal(p.maybeDecrTo(4, 10), true);
  assert.equal(p.next, 4, 'never beyond the rejected index');
  const q = at(ProgressState.Probe, 3, 6);
  assert.equal(q.maybeDecrTo(5, 0), true);
  assert.equal(q.next, 4, 'never below match + 1');
});

test('snapshot: paused until reported; then probing resumes after the snapshot', () => {
  const p = at(ProgressState.Replicate, 3, 8);
  p.becomeSnapshot(20);
  assert.equal(p.state, ProgressState.Snapshot);
  assert.equal(p.isPaused(), true);
  assert.throws(() => p.sentEntries(1, 9), InvariantError);
  p.becomeProbe();
  assert.equal(p.state, ProgressState.Probe);
  assert.equal(p.next, 21, 'the follower has at least the snapshot');
  p.becomeSnapshot(20);
  p.pendingSnapshot = 0; // failed snapshot
  p.becomeProbe();
  assert.equal(p.next, 4);
});

test('becomeReplicate and becomeProbe start from match + 1 and empty the window', () => {
  const p = at(ProgressState.Replicate, 5, 9, 2);
  p.sentEntries(1, 9);
  p.becomeProbe();
  assert.equal(p.inflights.length, 0);
  assert.equal(p.next, 6);
  p.becomeReplicate();
  assert.equal(p.next, 6);
  assert.equal(p.state, ProgressState.Replicate);
});
