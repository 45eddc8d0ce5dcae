// Leadership transfer (Ongaro's thesis §3.10; cited as "thesis"): the leader brings the
// transferee's log up to date, then tells it to start an election at once (TimeoutNow).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from './conf-change.js';
import { TestCluster, msg } from './test-cluster.js';
import { MessageType, NONE, StateType } from './types.js';

test('transfer to an up-to-date follower: TimeoutNow, and it wins the next term (thesis §3.10)', () => {
  // "The prior leader sends a TimeoutNow request to the target server. This request has the same
  // effect as the target server's election timer firing: the target server starts a new
  // election (incrementing its term and becoming a candidate)."
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'x');
  c.stabilize();
  c.transferLeadership(1, 2);
  assert.deepEqual(c.pending().map((m) => [m.type, m.to]), [[MessageType.TimeoutNow, 2]]);
  c.stabilize();
  assert.equal(c.raft(2).state, StateType.Leader);
  assert.equal(c.raft(2).term, 3);
  assert.equal(c.raft(1).state, StateType.Follower);
  assert.equal(c.raft(1).lead, 2);
  assert.equal(c.raft(1).leadTransferee, NONE);
  // No tick was needed: the hand-over did not wait for an election timeout.
  c.propose(2, 'y');
  c.stabilize();
  assert.deepEqual(c.node(1).appData, ['x', 'y']);
});

test('transfer to a lagging follower waits until it has caught up, then sends TimeoutNow (thesis §3.10)', () => {
  // "The prior leader ... sends it log entries using the normal log replication algorithm,
  // until the target server's log matches the leader's."
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  for (const d of ['a', 'b', 'c']) c.propose(1, d);
  c.stabilize();
  c.heal();
  c.transferLeadership(1, 3);
  assert.equal(c.raft(1).leadTransferee, 3);
  assert.deepEqual(c.pending(msg.type(MessageType.TimeoutNow)), [], 'not while node 3 lacks entries');
  assert.deepEqual(c.pending().map((m) => [m.type, m.to]), [[MessageType.App, 3]]);
  // Catch-up: the TimeoutNow follows the ack that shows node 3 has the whole log.
  for (let i = 0; i < 10 && c.pending(msg.type(MessageType.TimeoutNow)).length === 0; i++) c.deliver(msg.not(msg.type(MessageType.TimeoutNow)));
  assert.equal(c.node(3).lastIndex, c.node(1).lastIndex);
  c.stabilize();
  assert.equal(c.raft(3).state, StateType.Leader);
  assert.deepEqual(c.node(3).appData, ['a', 'b', 'c']);
});

test('proposals are refused while a transfer is in progress (thesis §3.10)', () => {
  // "the prior leader stops accepting new client requests" during the transfer.
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'a');
  c.stabilize();
  c.transferLeadership(1, 3);
  assert.deepEqual(c.propose(1, 'x'), { ok: false, reason: 'leadership-transfer', leader: 1 });
  assert.ok(!c.node(1).logEntries().some((e) => Buffer.from(e.data).toString() === 'x'));
});

test('a transfer that does not finish within an election timeout is abandoned (thesis §3.10)', () => {
  // "If the transfer does not complete within about one election timeout, the prior leader
  // aborts the transfer and resumes accepting client requests."
  const c = new TestCluster({ electionTick: 10 });
  c.elect(1);
  c.isolate(3);
  c.transferLeadership(1, 3);
  c.tick(1, 9);
  assert.equal(c.raft(1).leadTransferee, 3);
  c.tick(1, 1);
  assert.equal(c.raft(1).leadTransferee, NONE);
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.ok(c.propose(1, 'x').ok);
});

test('a transfer to a learner, to the leader itself or to a non-member is ignored', () => {
  const c = new TestCluster({ learners: [4] });
  c.elect(1);
  for (const to of [4, 1, 9]) {
    c.transferLeadership(1, to);
    assert.equal(c.raft(1).leadTransferee, NONE, `transfer to ${to}`);
    assert.deepEqual(c.pending(msg.type(MessageType.TimeoutNow)), []);
  }
  assert.equal(c.raft(1).state, StateType.Leader);
  // A TimeoutNow reaching a learner anyway does not make it campaign.
  c.inject({ type: MessageType.TimeoutNow, from: 1, to: 4, term: 2 });
  assert.equal(c.raft(4).state, StateType.Follower);
  assert.equal(c.raft(4).term, 2);
});

test('a transfer requested on a follower is forwarded to the leader', () => {
  const c = new TestCluster();
  c.elect(1);
  c.transferLeadership(3, 2);
  assert.deepEqual(c.pending().map((m) => [m.type, m.from, m.to]), [[MessageType.TransferLeader, 2, 1]]);
  c.stabilize();
  assert.equal(c.raft(2).state, StateType.Leader);
});

test('a new transfer replaces one in progress', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'a');
  c.stabilize();
  c.transferLeadership(1, 3);
  c.heal();
  c.discard();
  c.transferLeadership(1, 2);
  assert.equal(c.raft(1).leadTransferee, 2);
  c.stabilize();
  assert.equal(c.raft(2).state, StateType.Leader);
});

test('the transferee wins even though the followers are within the leader lease (thesis §3.10, §4.2.3)', () => {
  const c = new TestCluster({ checkQuorum: true, preVote: true });
  c.elect(1);
  c.tick(1);
  c.stabilize();
  c.transferLeadership(1, 3);
  c.stabilize();
  assert.equal(c.raft(3).state, StateType.Leader);
  assert.equal(c.raft(3).term, 3);
  // It skipped the pre-vote: a transfer is a real election right away.
  assert.ok(!c.sent.some((s) => s.msg.type === MessageType.PreVote && s.msg.from === 3));
});

test('a transfer is abandoned when the transferee is removed from the configuration', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.stabilize();
  c.transferLeadership(1, 3);
  assert.equal(c.raft(1).leadTransferee, 3);
  // Proposals are refused during the transfer, so apply the removal directly, as a committed entry would.
  c.node(1).node.applyConfChange({ type: ConfChangeType.RemoveNode, nodeId: 3, context: new Uint8Array(0) });
  assert.equal(c.raft(1).leadTransferee, NONE);
});

test('transfer to a follower so far behind that it needs a snapshot completes once the snapshot and the log caught it up', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  for (const d of ['a', 'b']) c.propose(1, d);
  c.stabilize();
  c.snapshotAndCompact(1);
  c.propose(1, 'c'); // something after the snapshot, from the log
  c.stabilize();
  c.heal();
  c.transferLeadership(1, 3);
  c.stabilize();
  assert.ok(c.sent.some((s) => s.msg.type === MessageType.Snap && s.msg.to === 3));
  assert.equal(c.raft(3).state, StateType.Leader);
  assert.deepEqual(c.node(3).appData, ['a', 'b', 'c']);
});
