// Flow control of replication (etcd-io/raft's progress states; no paper section — the paper
// leaves batching and pipelining to the implementation, §10.2.2 of the thesis discusses it).
// Probe: one append in flight until the follower's position is known. Replicate: appends are
// pipelined up to maxInflightMsgs. Sizes are bounded per message and per uncommitted backlog.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressState } from './progress.js';
import { TestCluster, msg } from './test-cluster.js';
import { MessageType, entriesSize, type Message } from './types.js';

const appsTo = (id: number) => msg.and(msg.type(MessageType.App), msg.to(id));

function progressOf(c: TestCluster, leader: number, id: number) {
  const p = c.node(leader).node.status().progress.get(id);
  assert.ok(p);
  return p;
}

test('in probe state the leader has at most one append in flight to a follower', () => {
  const c = new TestCluster();
  const votes = msg.type(MessageType.Vote, MessageType.VoteResp);
  c.campaign(1);
  c.deliver(votes);
  c.deliver(votes);
  assert.equal(progressOf(c, 1, 2).state, ProgressState.Probe, 'a new leader knows nothing of its followers');
  for (const d of ['a', 'b', 'c']) c.propose(1, d);
  assert.equal(c.pending(appsTo(2)).length, 1, 'the first probe only; proposals wait for its answer');
  c.deliver(appsTo(2));
  c.deliver(msg.and(msg.type(MessageType.AppResp), msg.from(2)));
  assert.equal(progressOf(c, 1, 2).state, ProgressState.Replicate, 'an accepted probe switches to replicate');
  const next = c.pending(appsTo(2));
  assert.deepEqual(next.map((m) => m.entries.map((e) => e.index)), [[5, 6, 7]], 'then everything missing goes out');
});

test('a rejected append in replicate state falls back to probing from the last known match', () => {
  const c = new TestCluster();
  c.elect(1);
  assert.equal(progressOf(c, 1, 2).state, ProgressState.Replicate);
  c.propose(1, 'a');
  c.propose(1, 'b');
  const [first, second] = c.pending(appsTo(2));
  assert.ok(first && second);
  c.discard((m) => m === first); // lost: node 2 then misses the entry before 'b'
  c.deliver((m) => m === second);
  c.deliver(msg.and(msg.type(MessageType.AppResp), msg.from(2)));
  assert.equal(progressOf(c, 1, 2).state, ProgressState.Probe);
  const probe = c.pending(appsTo(2));
  assert.deepEqual(probe.map((m) => [m.index, m.entries.map((e) => e.index)]), [[4, [5, 6]]], 'one probe, from match + 1');
  c.propose(1, 'c');
  assert.equal(c.pending(appsTo(2)).length, 1, 'nothing more until the probe is answered');
  c.stabilize();
  assert.equal(progressOf(c, 1, 2).state, ProgressState.Replicate);
  assert.deepEqual(c.node(2).appData, ['a', 'b', 'c']);
});

test('in replicate state appends are pipelined up to maxInflightMsgs, then the leader pauses', () => {
  const c = new TestCluster({ maxInflightMsgs: 3 });
  c.elect(1);
  for (let i = 1; i <= 5; i++) c.propose(1, `p${i}`);
  const apps = c.pending(appsTo(2));
  assert.deepEqual(apps.map((m) => m.entries.map((e) => e.index)), [[5], [6], [7]]);
  const p = progressOf(c, 1, 2);
  assert.equal(p.inflight, 3);
  assert.equal(p.next, 8, 'replicate advances next optimistically');
  // One acknowledgement frees one slot: the rest goes out in one message.
  c.deliver((m) => m === apps[0]);
  c.deliver(msg.and(msg.type(MessageType.AppResp), msg.from(2)));
  assert.deepEqual(c.pending(appsTo(2)).map((m) => m.entries.map((e) => e.index)), [[6], [7], [8, 9]]);
  assert.equal(progressOf(c, 1, 2).inflight, 3);
  c.stabilize();
  assert.equal(progressOf(c, 1, 2).inflight, 0);
  assert.deepEqual(c.node(2).appData, ['p1', 'p2', 'p3', 'p4', 'p5']);
});

test('a heartbeat response frees a slot of a full pipeline, so lost acks cannot stall a follower', () => {
  const c = new TestCluster({ maxInflightMsgs: 2 });
  c.elect(1);
  for (let i = 1; i <= 4; i++) c.propose(1, `p${i}`);
  assert.equal(c.pending(appsTo(2)).length, 2);
  c.discard(appsTo(2)); // lost
  assert.equal(progressOf(c, 1, 2).inflight, 2);
  c.tick(1);
  c.deliver(msg.and(msg.type(MessageType.Heartbeat), msg.to(2)));
  c.deliver(msg.and(msg.type(MessageType.HeartbeatResp), msg.from(2)));
  assert.equal(c.pending(appsTo(2)).length, 1, 'the answer to a heartbeat lets one append out');
  c.stabilize();
  assert.deepEqual(c.node(2).appData, ['p1', 'p2', 'p3', 'p4']);
});

test('maxSizePerMsg splits a long catch-up into several appends (at least one entry each)', () => {
  const c = new TestCluster({ maxSizePerMsg: 100 });
  c.elect(1);
  c.isolate(3);
  const payload = 'x'.repeat(40); // 56 bytes with the per-entry overhead
  for (let i = 0; i < 10; i++) c.propose(1, `${i}${payload}`);
  c.stabilize();
  c.heal();
  c.tick(1);
  c.stabilize();
  const sent = c.sent.map((s) => s.msg).filter((m: Message) => m.type === MessageType.App && m.to === 3 && m.entries.length > 0);
  assert.ok(sent.length >= 5, `${sent.length} appends`);
  for (const m of sent) assert.ok(m.entries.length === 1 || entriesSize(m.entries) <= 100, `an append of ${entriesSize(m.entries)} bytes`);
  // A single entry larger than the limit still goes out (alone).
  c.propose(1, 'y'.repeat(500));
  c.stabilize();
  assert.equal(c.node(3).appData.length, 11);
});

test("maxUncommittedEntriesSize refuses proposals with 'too-many-uncommitted' until entries commit", () => {
  const c = new TestCluster({ maxUncommittedEntriesSize: 200 });
  c.elect(1);
  c.isolate(2);
  c.isolate(3);
  const payload = 'x'.repeat(40); // 56 bytes each
  const results = [1, 2, 3, 4].map((i) => c.propose(1, `${i}${payload}`.slice(0, 40)));
  assert.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.reason)),
    ['ok', 'ok', 'ok', 'too-many-uncommitted'],
  );
  c.heal();
  c.tick(1);
  c.stabilize();
  assert.equal(c.node(1).appData.length, 3);
  assert.ok(c.propose(1, 'after commit').ok, 'committed entries free the budget');
  // With nothing uncommitted, even an entry larger than the limit is accepted (or nothing could ever be).
  c.stabilize();
  assert.ok(c.propose(1, 'z'.repeat(1000)).ok);
});
