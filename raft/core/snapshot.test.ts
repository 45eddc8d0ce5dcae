// Log compaction and InstallSnapshot (Raft paper §7; cited as "paper").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from './conf-change.js';
import { ProgressState } from './progress.js';
import { TestCluster, bytes, msg } from './test-cluster.js';
import { MessageType, StateType, type Snapshot } from './types.js';

test('a follower behind the compacted log receives the snapshot and catches up from the log after it (paper §7)', () => {
  // "the leader must occasionally send snapshots to followers that lag behind. This happens when
  // the leader has already discarded the next log entry that it needs to send to a follower."
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  for (const d of ['a', 'b', 'c']) c.propose(1, d);
  c.stabilize();
  const snap = c.snapshotAndCompact(1);
  assert.equal(snap.metadata.index, 7);
  assert.equal(c.node(1).storage.firstIndex(), 8);
  c.heal();
  c.propose(1, 'd');
  c.stabilize();
  const snaps = c.sent.filter((s) => s.msg.type === MessageType.Snap);
  assert.deepEqual(snaps.map((s) => [s.msg.to, s.msg.snapshot?.metadata.index]), [[3, 7]]);
  const f = c.node(3);
  // "the follower discards its entire log; it is all superseded by the snapshot".
  assert.equal(f.storage.snapshot().metadata.index, 7);
  assert.equal(f.storage.firstIndex(), 8);
  assert.deepEqual(f.appData, ['a', 'b', 'c', 'd']);
  assert.deepEqual(f.confState, { voters: [1, 2, 3], learners: [] });
  assert.equal(f.commit, 8);
  const pr = c.node(1).node.status().progress.get(3);
  assert.equal(pr?.state, ProgressState.Replicate);
  assert.equal(pr?.match, 8);
  // It stays in step afterwards through ordinary appends.
  c.propose(1, 'e');
  c.stabilize();
  assert.deepEqual(f.appData, ['a', 'b', 'c', 'd', 'e']);
});

function snapshotAt(index: number, term: number, voters = [1, 2, 3]): Snapshot {
  return { metadata: { index, term, confState: { voters, learners: [] } }, data: bytes(JSON.stringify(['from-snapshot'])) };
}

test('a snapshot older than what the follower has committed is ignored (paper §7)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'x');
  c.stabilize();
  const f = c.node(2);
  assert.equal(f.commit, 5);
  c.inject({ type: MessageType.Snap, from: 1, to: 2, term: 2, snapshot: snapshotAt(4, 2) });
  assert.equal(f.storage.snapshot().metadata.index, 0, 'not installed');
  assert.deepEqual(f.appData, ['x']);
  assert.deepEqual(c.discard(msg.from(2)).map((m) => [m.type, m.index, m.reject]), [[MessageType.AppResp, 5, false]]);
});

test('a snapshot that matches an entry the follower has only moves its commit index (paper §7)', () => {
  // "If instead the follower receives a snapshot that describes a prefix of its log ..., then
  // log entries covered by the snapshot are deleted but entries following the snapshot are still
  // valid and must be retained." Here: nothing is replaced, the entries are kept.
  const c = new TestCluster();
  c.elect(1);
  c.drop(msg.and(msg.type(MessageType.App), (m) => m.commit > 4)); // followers store but do not learn commit
  c.propose(1, 'x');
  c.propose(1, 'y');
  c.stabilize();
  const f = c.node(2);
  assert.equal(f.lastIndex, 6);
  assert.equal(f.commit, 4);
  c.heal();
  c.inject({ type: MessageType.Snap, from: 1, to: 2, term: 2, snapshot: snapshotAt(5, 2) });
  assert.equal(f.storage.snapshot().metadata.index, 0, 'no snapshot installed');
  assert.equal(f.commit, 5);
  assert.equal(f.lastIndex, 6, 'entry 6 is kept');
  assert.deepEqual(f.appData, ['x']);
});

test('a lost snapshot is sent again after the transport reports the failure', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'a');
  c.stabilize();
  c.snapshotAndCompact(1);
  c.heal();
  c.drop(msg.type(MessageType.Snap)); // the first snapshot is lost (reported to the leader as such)
  c.tick(1);
  c.stabilize();
  assert.equal(c.node(3).storage.snapshot().metadata.index, 0);
  assert.equal(c.node(1).node.status().progress.get(3)?.state, ProgressState.Probe);
  c.heal();
  c.tick(1); // heartbeat → answer → probe → compacted → snapshot again
  c.stabilize();
  assert.equal(c.node(3).storage.snapshot().metadata.index, 5);
  assert.deepEqual(c.node(3).appData, ['a']);
  assert.equal(c.sent.filter((s) => s.msg.type === MessageType.Snap).length, 2);
});

test('a snapshot whose configuration predates a new member is accepted, and the member then applies its own AddNode (paper §7, §6)', () => {
  // The application snapshots at 6, before node 4 is added at 7. Node 4 starts empty, needs
  // entries from 1, which are compacted: it gets the snapshot (voters 1,2,3 — not itself), then
  // the log from 7, and becomes a member when it applies entry 7.
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'a');
  c.propose(1, 'b');
  c.stabilize();
  for (const id of [1, 2, 3]) c.snapshotAndCompact(id);
  c.addNode(4);
  const r = c.proposeConfChange(1, ConfChangeType.AddNode, 4);
  assert.ok(r.ok);
  assert.equal(r.index, 7);
  c.stabilize();
  const n = c.node(4);
  assert.equal(n.storage.snapshot().metadata.index, 6);
  assert.deepEqual(n.storage.snapshot().metadata.confState.voters, [1, 2, 3], 'the snapshot did not include node 4');
  assert.deepEqual(n.appliedIds(), ['7@2'], 'it applied its own AddNode from the log');
  assert.deepEqual(n.confState, { voters: [1, 2, 3, 4], learners: [] });
  assert.deepEqual(n.appData, ['a', 'b']);
  assert.ok(n.raft.promotable());
  // And it is a full voter: it can take over leadership.
  c.transferLeadership(1, 4);
  c.stabilize();
  assert.equal(c.raft(4).state, StateType.Leader);
});

test('a node that installed a snapshot restarts from it', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'a');
  c.propose(1, 'b');
  c.stabilize();
  c.snapshotAndCompact(1);
  c.heal();
  c.tick(1);
  c.stabilize();
  assert.equal(c.node(3).storage.snapshot().metadata.index, 6);
  c.crash(3);
  const n = c.restart(3);
  assert.equal(n.appliedIndex, 6);
  assert.deepEqual(n.appData, ['a', 'b']);
  assert.equal(n.raft.raftLog.firstIndex(), 7);
  assert.deepEqual(n.raft.prs.confState(), { voters: [1, 2, 3], learners: [] });
  c.propose(1, 'c');
  c.stabilize();
  assert.deepEqual(n.appData, ['a', 'b', 'c']);
});
