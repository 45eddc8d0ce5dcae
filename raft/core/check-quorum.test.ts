// Check-quorum and the leader lease (Ongaro's thesis §6.2 and §4.2.3; cited as "thesis"): a
// leader that cannot reach a majority for an election timeout steps down, and a follower that
// heard from a leader within the election timeout ignores candidates that would disrupt it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGN_TRANSFER } from './raft.js';
import { TestCluster, msg } from './test-cluster.js';
import { MessageType, NONE, StateType } from './types.js';

test('a leader that hears from no quorum for an election timeout steps down (thesis §6.2)', () => {
  // "a leader in Raft steps down if an election timeout elapses without a successful round of
  // heartbeats to a majority of its cluster."
  const c = new TestCluster({ checkQuorum: true, electionTick: 10 });
  c.elect(1);
  c.isolate(1);
  // The first check, an election timeout after it became leader, still counts the answers it got
  // during that timeout (the election and its first appends).
  c.tick(1, 10);
  assert.equal(c.raft(1).state, StateType.Leader);
  // The next check comes after a whole election timeout with no answer at all.
  c.tick(1, 9);
  assert.equal(c.raft(1).state, StateType.Leader);
  c.tick(1, 1);
  assert.equal(c.raft(1).state, StateType.Follower);
  assert.equal(c.raft(1).term, 2, 'stepping down does not change the term');
  assert.equal(c.raft(1).lead, NONE);
  // Clients are told: proposals are refused from now on.
  assert.deepEqual(c.propose(1, 'x'), { ok: false, reason: 'not-leader', leader: NONE });
});

test('a leader that keeps hearing from a quorum stays leader (thesis §6.2)', () => {
  const c = new TestCluster({ checkQuorum: true, voters: [1, 2, 3, 4, 5] });
  c.elect(1);
  // Two of five down: leader + 2 followers are still a majority.
  c.isolate(4);
  c.isolate(5);
  for (let t = 0; t < 60; t++) {
    c.tick(1);
    c.stabilize();
  }
  assert.equal(c.raft(1).state, StateType.Leader);
  // A third one down: the next check fails.
  c.isolate(3);
  for (let t = 0; t < 20; t++) {
    c.tick(1);
    c.stabilize();
  }
  assert.equal(c.raft(1).state, StateType.Follower);
});

test('a follower within the leader lease ignores vote and pre-vote requests (thesis §4.2.3)', () => {
  // "if a server receives a RequestVote request within the minimum election timeout of hearing
  // from a current leader, it does not update its term or grant its vote."
  const c = new TestCluster({ checkQuorum: true });
  c.elect(1);
  c.tick(2, 5); // still within the lease
  for (const type of [MessageType.Vote, MessageType.PreVote]) {
    c.inject({ type, from: 3, to: 2, term: 5, index: 100, logTerm: 100 });
    assert.equal(c.raft(2).term, 2);
    assert.equal(c.raft(2).vote, 1);
    assert.equal(c.raft(2).lead, 1);
    assert.deepEqual(c.pending(msg.from(2)), [], `${MessageType[type]} within the lease is not answered`);
  }
});

test('the leader lease does not hold back a leadership-transfer campaign (thesis §3.10, §4.2.3)', () => {
  // "the RequestVote message ... includes a special flag to bypass this check" when it comes
  // from a server the leader told to take over.
  const c = new TestCluster({ checkQuorum: true });
  c.elect(1);
  c.inject({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 100, logTerm: 100, context: CAMPAIGN_TRANSFER });
  assert.equal(c.raft(2).term, 5);
  assert.equal(c.raft(2).vote, 3);
  assert.deepEqual(
    c.pending(msg.from(2)).map((m) => [m.type, m.to, m.term, m.reject]),
    [[MessageType.VoteResp, 3, 5, false]],
  );
});

test('once the lease has expired, a follower votes again (thesis §4.2.3)', () => {
  const c = new TestCluster({ checkQuorum: true, electionTick: 10 });
  c.elect(1);
  c.tick(2, 10); // an election timeout without hearing from node 1
  c.inject({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 100, logTerm: 100 });
  assert.equal(c.raft(2).term, 5);
  assert.equal(c.raft(2).vote, 3);
});
