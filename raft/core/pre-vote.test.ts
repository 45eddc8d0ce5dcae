// Pre-vote (Ongaro's thesis, "Consensus: Bridging Theory and Practice", §9.6; cited as
// "thesis"): before bumping its term, a would-be candidate asks whether it could win, so a node
// that was cut off cannot disrupt a working cluster when it comes back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, msg } from './test-cluster.js';
import { MessageType, NONE, StateType } from './types.js';

test('a pre-candidate asks about the next term without moving to it or voting (thesis §9.6)', () => {
  // "a candidate would first ask other servers whether its log was up-to-date enough to get
  // their vote. Only if the candidate believed it could get votes from a majority of the cluster
  // would it increment its term and start a normal election."
  const c = new TestCluster({ preVote: true });
  for (let t = 0; t < 30 && c.raft(1).state === StateType.Follower; t++) c.tick(1);
  const r = c.raft(1);
  assert.equal(r.state, StateType.PreCandidate);
  assert.equal(r.term, 1);
  assert.equal(r.vote, NONE);
  assert.deepEqual(
    c.pending(msg.type(MessageType.PreVote)).map((m) => [m.to, m.term]),
    [
      [2, 2],
      [3, 2],
    ],
  );
  assert.deepEqual(c.pending(msg.type(MessageType.Vote)), []);
});

test('voters answer a pre-vote without changing their term or vote (thesis §9.6)', () => {
  const c = new TestCluster({ preVote: true });
  c.campaign(1);
  c.deliver(msg.type(MessageType.PreVote));
  for (const id of [2, 3]) {
    assert.equal(c.raft(id).term, 1);
    assert.equal(c.raft(id).vote, NONE);
  }
  const resps = c.pending(msg.type(MessageType.PreVoteResp));
  assert.deepEqual(
    resps.map((m) => [m.from, m.term, m.reject]),
    [
      [2, 2, false],
      [3, 2, false],
    ],
  );
});

test('a pre-candidate that wins the pre-vote runs a real election in the next term (thesis §9.6)', () => {
  const c = new TestCluster({ preVote: true });
  c.campaign(1);
  c.deliver(msg.type(MessageType.PreVote));
  c.deliver(msg.type(MessageType.PreVoteResp));
  assert.equal(c.raft(1).state, StateType.Candidate);
  assert.equal(c.raft(1).term, 2);
  assert.equal(c.raft(1).vote, 1);
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).term, 2);
});

test('a pre-candidate denied by a majority returns to follower in its unchanged term (thesis §9.6)', () => {
  // All in term 2; nodes 1 and 2 have an entry that node 3 lacks.
  const c = new TestCluster({ preVote: true, logs: { 1: [2, 2], 2: [2, 2], 3: [2] } });
  c.campaign(3);
  c.stabilize();
  assert.equal(c.raft(3).state, StateType.Follower);
  for (const id of [1, 2, 3]) assert.equal(c.raft(id).term, 2);
  assert.deepEqual(
    c.sent.filter((s) => s.msg.type === MessageType.PreVoteResp).map((s) => [s.msg.from, s.msg.term, s.msg.reject]),
    [
      [1, 2, true],
      [2, 2, true],
    ],
  );
});

/** Isolates node 3 from a 3-node cluster led by node 1 for 20 election timeouts, then heals. */
function partitionAndReturn(preVote: boolean): { c: TestCluster; termWhileAway: number } {
  const c = new TestCluster({ preVote, checkQuorum: true });
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  c.isolate(3);
  for (let t = 0; t < 200; t++) {
    c.tickAll();
    c.stabilize();
  }
  const termWhileAway = c.raft(3).term;
  c.heal();
  for (let t = 0; t < 50; t++) {
    c.tickAll();
    c.stabilize();
  }
  return { c, termWhileAway };
}

test('with pre-vote, a partitioned node does not increase its term and does not disrupt the leader when it returns (thesis §9.6)', () => {
  const { c, termWhileAway } = partitionAndReturn(true);
  assert.equal(termWhileAway, 2, 'the isolated node never won a pre-vote, so never bumped its term');
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).term, 2);
  for (const id of [2, 3]) {
    assert.equal(c.raft(id).state, StateType.Follower);
    assert.equal(c.raft(id).lead, 1);
    assert.equal(c.raft(id).term, 2);
  }
});

test('without pre-vote, the same partition bumps the term and deposes the leader (the problem §9.6 solves)', () => {
  const { c, termWhileAway } = partitionAndReturn(false);
  assert.ok(termWhileAway > 2, 'the isolated node kept starting elections');
  assert.ok(c.raft(1).term > 2, 'the leader was forced out of term 2');
});

test('pre-vote is denied to a node whose log is behind, even without a leader lease (thesis §9.6)', () => {
  const c = new TestCluster({ preVote: true, checkQuorum: false });
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'a');
  c.stabilize();
  c.heal();
  // Node 3 missed 'a': nodes 1 and 2 deny its pre-vote, so no election ever starts.
  c.campaign(3);
  c.stabilize();
  assert.equal(c.raft(3).term, 2);
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).term, 2);
  const resps = c.sent.filter((s) => s.msg.type === MessageType.PreVoteResp && s.msg.to === 3).map((s) => [s.msg.from, s.msg.reject]);
  assert.deepEqual(resps, [
    [1, true],
    [2, true],
  ]);
});
