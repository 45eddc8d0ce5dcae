// Membership changes, one server at a time (Ongaro's thesis §4.1, §4.2.2, §4.3; cited as
// "thesis"). A change takes effect when applied, on every node alike (conf-change.ts explains
// why single-server changes rather than joint consensus).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from './conf-change.js';
import { TestCluster, msg } from './test-cluster.js';
import { MessageType, StateType } from './types.js';

const { AddNode, AddLearnerNode, RemoveNode } = ConfChangeType;

function configs(c: TestCluster, ids: number[]): string[] {
  return ids.map((id) => `${id}:${c.node(id).confState.voters}|${c.node(id).confState.learners}`);
}

test('adding a voter: it receives the log and counts in the quorum from then on (thesis §4.1)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  c.addNode(4);
  const r = c.proposeConfChange(1, AddNode, 4);
  assert.ok(r.ok);
  // Appended is not applied: the configuration has not changed yet.
  assert.deepEqual(c.raft(1).prs.confState().voters, [1, 2, 3]);
  c.stabilize();
  assert.deepEqual(configs(c, [1, 2, 3, 4]), ['1:1,2,3,4|', '2:1,2,3,4|', '3:1,2,3,4|', '4:1,2,3,4|']);
  assert.deepEqual(c.node(4).appData, ['a']);
  // Four voters: a quorum is three. The leader and node 4 alone cannot commit.
  c.isolate(2);
  c.isolate(3);
  c.propose(1, 'b');
  c.stabilize();
  assert.equal(c.node(4).lastIndex, c.node(1).lastIndex);
  assert.deepEqual(c.node(1).appData, ['a'], 'two of four is no majority');
  c.heal();
  c.tick(1);
  c.stabilize();
  assert.deepEqual(c.node(1).appData, ['a', 'b']);
});

test('adding a learner: it receives the log but neither votes nor counts towards commitment (thesis §4.2.1)', () => {
  // "the new server joins the cluster as a non-voting member. The leader replicates log entries
  // to it, but it is not yet counted towards majorities for voting or commitment purposes."
  const c = new TestCluster();
  c.elect(1);
  c.addNode(4);
  assert.ok(c.proposeConfChange(1, AddLearnerNode, 4).ok);
  c.stabilize();
  assert.deepEqual(configs(c, [1, 4]), ['1:1,2,3|4', '4:1,2,3|4']);
  assert.equal(c.raft(4).isLearner, true);
  c.propose(1, 'a');
  c.stabilize();
  assert.deepEqual(c.node(4).appData, ['a']);
  // The learner's ack does not help commit: with 2 and 3 gone, nothing commits.
  c.isolate(2);
  c.isolate(3);
  c.propose(1, 'b');
  c.stabilize();
  assert.equal(c.node(4).lastIndex, c.node(1).lastIndex, 'the learner stored it');
  assert.deepEqual(c.node(1).appData, ['a']);
});

test('a learner never campaigns, however long it hears nothing (thesis §4.2.1)', () => {
  const c = new TestCluster({ learners: [4] });
  c.tick(4, 200);
  c.campaign(4);
  assert.equal(c.raft(4).state, StateType.Follower);
  assert.equal(c.raft(4).term, 1);
  assert.deepEqual(c.pending(msg.from(4)), []);
  // Nor is it asked for its vote.
  c.campaign(1);
  assert.deepEqual(c.pending(msg.type(MessageType.Vote)).map((m) => m.to), [2, 3]);
});

test('promoting a learner makes it a voter that may campaign (thesis §4.2.1)', () => {
  const c = new TestCluster({ learners: [4] });
  c.elect(1);
  assert.ok(c.proposeConfChange(1, AddNode, 4).ok);
  c.stabilize();
  assert.deepEqual(configs(c, [1, 4]), ['1:1,2,3,4|', '4:1,2,3,4|']);
  assert.equal(c.raft(4).isLearner, false);
  c.tick(1);
  c.stabilize();
  c.transferLeadership(1, 4);
  c.stabilize();
  assert.equal(c.raft(4).state, StateType.Leader);
});

test('removing a voter shrinks the quorum (thesis §4.1)', () => {
  const c = new TestCluster({ voters: [1, 2, 3, 4] });
  c.elect(1);
  assert.ok(c.proposeConfChange(1, RemoveNode, 4).ok);
  c.stabilize();
  assert.deepEqual(configs(c, [1, 2, 3]), ['1:1,2,3|', '2:1,2,3|', '3:1,2,3|']);
  // Three voters: the leader and node 2 commit without node 3 (two of four would not have).
  c.isolate(3);
  c.isolate(4);
  c.propose(1, 'a');
  c.stabilize();
  assert.deepEqual(c.node(1).appData, ['a']);
  // The removed node gets nothing more.
  c.heal();
  c.tick(1);
  c.stabilize();
  assert.ok(!c.sent.some((s) => s.msg.to === 4 && s.msg.type === MessageType.App && s.msg.entries.some((e) => Buffer.from(e.data).toString() === 'a')));
});

test('a removed leader steps down and hands over to an up-to-date voter without an election timeout (thesis §4.2.2)', () => {
  // "the leader steps down (returns to follower state) once the Cnew entry is committed."
  const c = new TestCluster();
  c.elect(1);
  assert.ok(c.proposeConfChange(1, RemoveNode, 1).ok);
  c.stabilize(); // no tick: the hand-over must not wait for a timeout
  assert.equal(c.raft(1).state, StateType.Follower);
  const leader = c.leader();
  assert.ok(leader && leader.id !== 1, 'another voter took over at once');
  assert.ok(c.sent.some((s) => s.msg.type === MessageType.TimeoutNow && s.msg.from === 1));
  assert.deepEqual(leader.confState.voters, [2, 3]);
  // The new leader works without node 1, and node 1 can no longer campaign.
  assert.ok(c.propose(leader.id, 'x').ok);
  c.isolate(1);
  c.stabilize();
  assert.deepEqual(leader.appData, ['x']);
  c.heal();
  c.tick(1, 100);
  assert.equal(c.raft(1).state, StateType.Follower);
  assert.deepEqual(c.pending(msg.from(1)), []);
});

test('only one conf change may be pending: a second one is refused until the first is applied (thesis §4.1)', () => {
  // "a leader ... must not begin a new membership change until the previous one has been committed."
  const c = new TestCluster();
  c.elect(1);
  c.addNode(4);
  c.addNode(5);
  assert.ok(c.proposeConfChange(1, AddNode, 4).ok);
  assert.deepEqual(c.proposeConfChange(1, AddNode, 5), { ok: false, reason: 'conf-change-in-progress', leader: 1 });
  c.stabilize();
  assert.ok(c.proposeConfChange(1, AddNode, 5).ok);
  c.stabilize();
  assert.deepEqual(c.node(5).confState.voters, [1, 2, 3, 4, 5]);
});

test('a new leader may not propose a conf change until its first entry is applied (thesis §4.1, bug fix of 2015)', () => {
  // The single-server change bug (raft-dev, 2015): a leader must commit an entry of its own
  // term before it starts a membership change.
  const c = new TestCluster();
  c.addNode(4);
  const votes = msg.type(MessageType.Vote, MessageType.VoteResp);
  c.campaign(1);
  c.deliver(votes);
  c.deliver(votes);
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.deepEqual(c.proposeConfChange(1, AddNode, 4), { ok: false, reason: 'conf-change-in-progress', leader: 1 });
  assert.ok(c.propose(1, 'data is fine').ok, 'ordinary proposals are accepted meanwhile');
  c.stabilize();
  assert.ok(c.proposeConfChange(1, AddNode, 4).ok);
});

test('invalid conf changes are refused with the reason', () => {
  const c = new TestCluster({ learners: [4] });
  c.elect(1);
  const bad = [
    { type: RemoveNode, node: 9, detail: 'node 9 is not a member' },
    { type: AddLearnerNode, node: 2, detail: 'node 2 is a voter; demoting a voter to learner is not supported' },
  ];
  for (const b of bad) {
    assert.deepEqual(c.proposeConfChange(1, b.type, b.node), { ok: false, reason: 'invalid-conf-change', leader: 1, detail: b.detail });
  }
  const solo = new TestCluster({ voters: [1] });
  solo.campaign(1);
  assert.deepEqual(solo.proposeConfChange(1, RemoveNode, 1), {
    ok: false,
    reason: 'invalid-conf-change',
    leader: 1,
    detail: 'removing the last voter is not allowed',
  });
  // Nothing was appended for them.
  assert.equal(c.node(1).lastIndex, 5);
});

test('learners are not counted in the quorum of an election (thesis §4.2.1)', () => {
  // Voters 1, 2, 3 and learners 4, 5: node 1 with only the learners' support is not elected.
  const c = new TestCluster({ learners: [4, 5] });
  c.isolate(2);
  c.isolate(3);
  c.campaign(1);
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Candidate);
  c.heal();
  c.campaign(1);
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).lead, 1);
  for (const id of [4, 5]) assert.equal(c.raft(id).lead, 1, 'learners follow the leader');
  assert.ok(!c.sent.some((s) => s.msg.type === MessageType.Vote && (s.msg.to === 4 || s.msg.to === 5)));
});

test('a node removed while partitioned does not disrupt the cluster when it returns (thesis §4.2.3)', () => {
  const c = new TestCluster({ preVote: true, checkQuorum: true });
  c.elect(1);
  c.isolate(3);
  assert.ok(c.proposeConfChange(1, RemoveNode, 3).ok);
  c.stabilize();
  assert.deepEqual(c.node(1).confState.voters, [1, 2]);
  for (let t = 0; t < 100; t++) {
    c.tickAll();
    c.stabilize();
  }
  c.heal();
  for (let t = 0; t < 100; t++) {
    c.tickAll();
    c.stabilize();
  }
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).term, 2);
  assert.equal(c.raft(2).lead, 1);
});

test('a node does not campaign while a committed conf change is not yet applied (it may change who votes)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.addNode(4);
  const n2 = c.node(2);
  n2.hold = true; // node 2 steps messages but its Ready (hence applying) waits
  c.proposeConfChange(1, AddNode, 4);
  for (let i = 0; i < 4; i++) c.deliver();
  assert.ok(n2.commit >= 5, 'node 2 knows the conf change (5) is committed');
  assert.ok(n2.raft.raftLog.applied < 5, 'but has not applied it');
  n2.node.campaign();
  assert.equal(n2.raft.state, StateType.Follower);
  assert.equal(n2.raft.term, 2);
  n2.hold = false;
  c.process(2);
  assert.deepEqual(n2.confState.voters, [1, 2, 3, 4]);
  c.campaign(2);
  assert.equal(c.raft(2).state, StateType.Candidate);
});
