// RaftNode: the Ready/advance contract and its guards.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantError } from '../../common/assert.js';
import { Prng } from '../../common/prng.js';
import { MemoryStorage } from './memory-storage.js';
import { RaftNode } from './raft-node.js';
import { EntryType, MessageType, StateType, newMessage } from './types.js';

function fresh(peers = [1, 2, 3]): { node: RaftNode; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  RaftNode.bootstrap(storage, peers.map((id) => ({ id })));
  const node = new RaftNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, prng: new Prng(1), preVote: false });
  return { node, storage };
}

test('bootstrap writes one committed AddNode entry per initial member, and only into empty storage', () => {
  const { node, storage } = fresh();
  assert.equal(storage.lastIndex(), 3);
  assert.deepEqual(storage.getHardState(), { term: 1, vote: 0, commit: 3 });
  assert.deepEqual(
    storage.entries(1, 4, Infinity).map((e) => [e.term, e.type, RaftNode.decodeConfChange(e).nodeId]),
    [
      [1, EntryType.ConfChange, 1],
      [1, EntryType.ConfChange, 2],
      [1, EntryType.ConfChange, 3],
    ],
  );
  // The configuration takes effect through the normal apply path.
  assert.deepEqual(node.status().config, { voters: [], learners: [] });
  const rd = node.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2, 3]);
  for (const e of rd.committedEntries) node.applyConfChange(RaftNode.decodeConfChange(e));
  node.advance(rd);
  assert.deepEqual(node.status().config, { voters: [1, 2, 3], learners: [] });
  assert.throws(() => RaftNode.bootstrap(storage, [{ id: 1 }]), InvariantError);
  assert.throws(() => RaftNode.bootstrap(new MemoryStorage(), []), InvariantError);
});

test('every Ready is advanced once, in order: advance without ready is a bug', () => {
  const { node } = fresh();
  const rd = node.ready();
  assert.equal(node.outstandingReadys, 1);
  node.advance(rd);
  assert.throws(() => node.advance(rd), InvariantError);
  assert.equal(node.hasReady(), false);
});

test('local message types cannot be stepped in from the network', () => {
  const { node } = fresh();
  for (const type of [MessageType.Hup, MessageType.Beat, MessageType.Prop, MessageType.CheckQuorum, MessageType.SnapStatus]) {
    assert.throws(() => node.step(newMessage(type, { from: 2, to: 1, term: 5 })), /cannot step local message/);
  }
  assert.equal(node.raft.term, 1);
});

test('a Ready reports soft and hard state only when they changed, and must be synced when term, vote or entries change', () => {
  const { node } = fresh();
  const boot = node.ready();
  for (const e of boot.committedEntries) node.applyConfChange(RaftNode.decodeConfChange(e));
  node.advance(boot);
  node.campaign();
  const rd = node.ready();
  assert.deepEqual(rd.softState, { lead: 0, state: StateType.Candidate });
  assert.deepEqual(rd.hardState, { term: 2, vote: 1, commit: 3 });
  assert.equal(rd.mustSync, true);
  node.advance(rd);
  node.step(newMessage(MessageType.VoteResp, { from: 2, to: 1, term: 2 }));
  const won = node.ready();
  assert.deepEqual(won.softState, { lead: 1, state: StateType.Leader });
  assert.equal(won.hardState, undefined, 'term and vote unchanged');
  assert.deepEqual(won.entries.map((e) => `${e.index}@${e.term}`), ['4@2']);
  assert.equal(won.mustSync, true);
  node.advance(won);
  const st = node.status();
  assert.equal(st.progress.get(1)?.match, 4, 'the leader counts its own entry once durable');
  assert.equal(st.lead, 1);
});
