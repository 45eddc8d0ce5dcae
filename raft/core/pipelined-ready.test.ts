// Readys taken while earlier ones are still being written (raft-node.ts; etcd-io/raft's
// asynchronous storage writes): each hands out only entries no earlier one did, they are advanced
// in order, the leader counts its own copy only when the Ready holding it is advanced, entries
// replaced while their write was in flight are handed out again, and snapshots or term/vote
// changes never overlap anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { TestCluster, msg, type TestNode } from './test-cluster.js';
import { MessageType, type Ready } from './types.js';

const ids = (rd: Ready): string[] => rd.entries.map((e) => `${e.index}@${e.term}`);

/** Persist, send and apply one Ready of a held node (the test decides when), then advance it. */
const finish = (c: TestCluster, n: TestNode, rd: Ready): void => c.handleReady(n, rd);

test('a Ready taken over an outstanding one hands out only the entries proposed since; Readys advance in order', () => {
  const c = new TestCluster();
  c.elect(1); // no-op at 4@2
  const n1 = c.node(1);
  n1.hold = true;
  c.propose(1, 'a');
  const rd1 = n1.node.ready();
  assert.deepEqual(ids(rd1), ['5@2']);
  assert.equal(n1.node.hasReady(), false, 'entries being written are not handed out again');
  c.propose(1, 'b');
  c.propose(1, 'c');
  assert.equal(n1.node.canTakeWhileOutstanding(), true);
  const rd2 = n1.node.ready();
  assert.deepEqual(ids(rd2), ['6@2', '7@2']);
  assert.equal(n1.node.outstandingReadys, 2);
  assert.throws(() => n1.node.advance(rd2), InvariantError, 'advance out of order');
  finish(c, n1, rd1);
  finish(c, n1, rd2);
  assert.throws(() => n1.node.advance(rd2), InvariantError, 'advance without a Ready');
  n1.hold = false;
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).appData, ['a', 'b', 'c']);
});

test('a leader counts its own copy only when the Ready holding it is advanced', () => {
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.elect(1); // no-op at 6@2
  const n1 = c.node(1);
  n1.hold = true;
  c.propose(1, 'x');
  const rd = n1.node.ready();
  assert.deepEqual(ids(rd), ['7@2']);
  // Its appends go out before its own write; two followers acknowledge.
  c.send(n1, rd.messages);
  c.isolate(4);
  c.isolate(5);
  c.deliver(msg.type(MessageType.App));
  c.deliver(msg.type(MessageType.AppResp));
  assert.equal(n1.commit, 6, 'two followers of five, and not yet the leader itself: no quorum');
  n1.persist(rd);
  n1.apply(rd);
  n1.node.advance(rd);
  assert.equal(n1.commit, 7, 'with its own write done, the leader is the third copy');
});

test('entries replaced while their write was in flight are handed out again; the stale write marks nothing stable', () => {
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.elect(1); // no-op at 6@2
  const n3 = c.node(3);
  // Leader 1's next two entries reach node 3 only, which starts writing them.
  c.propose(1, 'old1');
  c.propose(1, 'old2');
  n3.hold = true;
  c.deliver((m) => m.to === 3 && m.type === MessageType.App);
  c.discard();
  const stale = n3.node.ready();
  assert.deepEqual(ids(stale), ['7@2', '8@2']);
  // Node 1 goes down; node 2 wins term 3 with votes from 4 and 5 and sends its no-op to 3.
  c.node(1).down = true;
  c.campaign(2);
  c.discard(msg.to(3));
  c.deliver((m) => m.to !== 3);
  c.discard(msg.to(3));
  c.deliver((m) => m.to !== 3);
  assert.equal(c.node(2).raft.lead, 2);
  c.deliver((m) => m.to === 3 && m.type === MessageType.App);
  assert.equal(n3.term, 3);
  assert.deepEqual(n3.logTerms().slice(-2), [2, 3], "the new leader's 7@3 replaced 7@2 and 8@2 in node 3's log");
  assert.equal(n3.node.canTakeWhileOutstanding(), false, 'a term change is a barrier');
  assert.throws(() => n3.node.ready(), InvariantError);
  // The stale write finishes: nothing it wrote past the conflict becomes stable.
  finish(c, n3, stale);
  assert.equal(n3.raft.stableLastIndex(), 6);
  const next = n3.node.ready();
  assert.deepEqual(ids(next), ['7@3'], 'the replacing entry is handed out, once');
  finish(c, n3, next);
  assert.equal(n3.raft.stableLastIndex(), 7);
  assert.deepEqual(n3.storage.lastIndex(), 7, 'the storage was cut back to the new entry');
  n3.hold = false;
  c.stabilize();
  assert.deepEqual(n3.logTerms(), c.node(2).logTerms());
});

test('a term change is not taken over outstanding Readys, and nothing is taken over it', () => {
  const c = new TestCluster();
  c.elect(1);
  const n2 = c.node(2);
  n2.hold = true;
  c.propose(1, 'a');
  c.deliver((m) => m.to === 2 && m.type === MessageType.App);
  const rd = n2.node.ready();
  assert.equal(rd.entries.length, 1);
  assert.equal(n2.node.canTakeWhileOutstanding(), true);
  // A higher term arrives while the write is in flight.
  c.inject({ type: MessageType.Heartbeat, from: 3, to: 2, term: 9 });
  assert.equal(n2.term, 9);
  assert.equal(n2.node.canTakeWhileOutstanding(), false);
  assert.throws(() => n2.node.ready(), InvariantError);
  finish(c, n2, rd);
  const barrier = n2.node.ready();
  assert.equal(barrier.hardState?.term, 9);
  assert.equal(n2.node.canTakeWhileOutstanding(), false, 'nothing is taken over the barrier either');
  finish(c, n2, barrier);
  assert.equal(n2.node.canTakeWhileOutstanding(), true);
});
