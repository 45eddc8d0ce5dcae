// ReadIndex linearizable reads (Ongaro's thesis §6.4; cited as "thesis"): the leader records its
// commit index, confirms it is still the leader with a round of heartbeats, and only then lets
// the read be served once the state machine has applied that index.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, msg, text } from './test-cluster.js';
import { MessageType } from './types.js';

function reads(c: TestCluster, id: number): [string, number][] {
  return c.node(id).readStates.map((rs) => [text(rs.requestCtx), rs.index]);
}

test('a read is safe only after a quorum acknowledged a heartbeat sent after it arrived (thesis §6.4)', () => {
  // "The leader needs to make sure it hasn't been superseded by a newer leader of which it is
  // unaware. It issues a new round of heartbeats and waits for their acknowledgments from a
  // majority of the cluster."
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.elect(1);
  c.propose(1, 'x');
  c.stabilize();
  assert.ok(c.readIndex(1, 'r1'));
  const hbs = c.pending(msg.type(MessageType.Heartbeat));
  assert.equal(hbs.length, 4);
  for (const h of hbs) assert.equal(text(h.context ?? new Uint8Array()), 'r1', 'the heartbeat carries the request');
  assert.deepEqual(reads(c, 1), []);
  c.deliver(msg.and(msg.type(MessageType.Heartbeat), msg.to(2)));
  c.deliver(msg.type(MessageType.HeartbeatResp));
  assert.deepEqual(reads(c, 1), [], 'the leader and one follower are two of five');
  c.deliver(msg.and(msg.type(MessageType.Heartbeat), msg.to(3)));
  c.deliver(msg.type(MessageType.HeartbeatResp));
  // "Once these acknowledgments are received, the leader ... records its current commit index in
  // a local variable readIndex" — recorded when the request arrived: 7 (the proposal 'x').
  assert.deepEqual(reads(c, 1), [['r1', 7]]);
});

test('a leader cut off from the quorum never confirms a read (thesis §6.4)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(1);
  c.readIndex(1, 'r');
  for (let t = 0; t < 50; t++) {
    c.tick(1);
    c.stabilize();
  }
  assert.deepEqual(reads(c, 1), []);
  // Meanwhile another leader takes writes that the old one could never show.
  c.elect(2);
  c.propose(2, 'w');
  c.stabilize();
  assert.deepEqual(reads(c, 1), []);
});

test('a new leader defers reads until it has committed an entry of its own term (thesis §6.4)', () => {
  // "If the leader has not yet marked an entry from its current term committed, it waits until
  // it has done so. The Leader Completeness Property guarantees that a leader has all committed
  // entries, but at the start of its term, it may not know which those are."
  const c = new TestCluster();
  const votes = msg.type(MessageType.Vote, MessageType.VoteResp);
  const heartbeats = msg.type(MessageType.Heartbeat, MessageType.HeartbeatResp);
  c.campaign(1);
  c.deliver(votes);
  c.deliver(votes);
  assert.equal(c.node(1).commit, 3, 'elected, its no-op (4) not committed yet');
  c.readIndex(1, 'r');
  c.tick(1); // a heartbeat round, without the request
  for (let i = 0; i < 3; i++) c.deliver(heartbeats);
  assert.deepEqual(reads(c, 1), []);
  // The no-op commits; the read goes out now and completes with the no-op's index.
  c.stabilize();
  assert.equal(c.node(1).commit, 4);
  assert.deepEqual(reads(c, 1), [['r', 4]]);
});

test('a follower forwards a read to the leader and receives the read index (thesis §6.4)', () => {
  // "Followers ... could issue a request to the leader that just asks for the current readIndex
  // (the leader would execute steps 1–3 above)."
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'x');
  c.stabilize();
  assert.ok(c.readIndex(2, 'f1'));
  const fwd = c.pending(msg.type(MessageType.ReadIndex));
  assert.deepEqual(fwd.map((m) => [m.from, m.to]), [[2, 1]]);
  c.stabilize();
  assert.deepEqual(reads(c, 2), [['f1', 5]]);
  assert.deepEqual(reads(c, 1), [], 'the leader answers the follower, not itself');
  assert.ok(c.node(2).appliedIndex >= 5, 'the follower can serve it once applied');
});

test('a node that knows no leader refuses a read request rather than queueing it', () => {
  const c = new TestCluster();
  assert.equal(c.readIndex(2, 'r'), false);
  assert.deepEqual(c.pending(), []);
});

test('a lost read heartbeat does not strand the read: the next periodic heartbeat confirms it (thesis §6.4)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.readIndex(1, 'r1');
  c.discard(); // the heartbeats carrying r1 are lost
  c.stabilize();
  assert.deepEqual(reads(c, 1), []);
  c.tick(1); // heartbeatTick = 1: a periodic heartbeat, carrying the newest pending request
  c.stabilize();
  assert.deepEqual(reads(c, 1), [['r1', 4]]);
});

test('a dropped forwarded read does not hang the follower: later reads still complete', () => {
  const c = new TestCluster();
  c.elect(1);
  c.readIndex(2, 'lost');
  c.discard(msg.type(MessageType.ReadIndex));
  c.readIndex(2, 'next');
  c.stabilize();
  assert.deepEqual(reads(c, 2), [['next', 4]]);
  // A lost answer is just as harmless.
  c.readIndex(2, 'lost-answer');
  c.deliver(msg.type(MessageType.ReadIndex));
  c.deliver(msg.type(MessageType.Heartbeat));
  c.deliver(msg.type(MessageType.HeartbeatResp));
  c.discard(msg.type(MessageType.ReadIndexResp));
  c.readIndex(2, 'after');
  c.stabilize();
  assert.deepEqual(reads(c, 2), [
    ['next', 4],
    ['after', 4],
  ]);
});

test('one heartbeat quorum confirms every read that arrived before it (thesis §6.4)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.readIndex(1, 'a');
  c.propose(1, 'x');
  c.readIndex(1, 'b');
  // Only the heartbeats for 'b' get through.
  c.discard(msg.and(msg.type(MessageType.Heartbeat), (m) => text(m.context ?? new Uint8Array()) === 'a'));
  c.stabilize();
  assert.deepEqual(reads(c, 1), [
    ['a', 4],
    ['b', 4],
  ]);
});

test('pending reads are bounded: beyond maxPendingReadIndex they are refused, and the leader still serves later ones', () => {
  const c = new TestCluster({ maxPendingReadIndex: 2 });
  c.elect(1);
  c.isolate(2);
  c.isolate(3);
  for (const r of ['a', 'b', 'c', 'd']) c.readIndex(1, r);
  assert.equal(c.raft(1).readOnly.size, 2);
  c.heal();
  c.discard();
  c.tick(1);
  c.stabilize();
  assert.deepEqual(reads(c, 1).map(([r]) => r), ['a', 'b'], 'c and d were refused (the client retries)');
  c.readIndex(1, 'e');
  c.stabilize();
  assert.deepEqual(reads(c, 1).map(([r]) => r), ['a', 'b', 'e']);
});

test('a single-voter leader answers a read at once', () => {
  const c = new TestCluster({ voters: [1] });
  c.campaign(1);
  c.propose(1, 'x');
  c.readIndex(1, 'r');
  assert.deepEqual(reads(c, 1), [['r', 3]]);
});

test('learners do not count towards the read quorum, and a single voter with learners needs none of them (thesis §6.4)', () => {
  // Voters 1, 2, 3; learners 4, 5: the learners' acknowledgements do not confirm leadership.
  const c = new TestCluster({ learners: [4, 5] });
  c.elect(1);
  c.isolate(2);
  c.isolate(3);
  c.readIndex(1, 'r');
  c.stabilize();
  assert.deepEqual(reads(c, 1), [], 'the leader and two learners are not a majority of the voters');
  assert.ok(c.sent.some((s) => s.msg.type === MessageType.HeartbeatResp && s.msg.from === 4), 'the learners did answer');

  // A single voter is a quorum by itself: its reads do not wait for (unreachable) learners.
  const solo = new TestCluster({ voters: [1], learners: [2] });
  solo.campaign(1);
  solo.isolate(2);
  solo.propose(1, 'x');
  solo.readIndex(1, 'r');
  for (let t = 0; t < 5; t++) {
    solo.tick(1);
    solo.stabilize();
  }
  assert.deepEqual(reads(solo, 1), [['r', 4]]);
});
