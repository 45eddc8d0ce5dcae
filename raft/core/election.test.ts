// Leader election, one test per rule of the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", §5.1–§5.2; cited as "paper"). Pre-vote and check-quorum
// live in pre-vote.test.ts and check-quorum.test.ts; the election restriction in safety.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, msg } from './test-cluster.js';
import { MessageType, NONE, StateType, type Message } from './types.js';

/** Ticks node id until it leaves the follower state (bounded); returns the number of ticks. */
function ticksUntilCampaign(c: TestCluster, id: number): number {
  for (let t = 1; t <= 1000; t++) {
    c.tick(id);
    if (c.raft(id).state !== StateType.Follower) return t;
  }
  assert.fail(`node ${id} never campaigned`);
}

test('a follower that hears from no leader for its election timeout becomes a candidate (paper §5.2)', () => {
  // "If a follower receives no communication over a period of time called the election timeout,
  // then it assumes there is no viable leader and begins an election."
  const c = new TestCluster();
  const n = c.node(1);
  const ticks = ticksUntilCampaign(c, 1);
  assert.ok(ticks >= 10 && ticks < 20, `campaigned after ${ticks} ticks, outside [et, 2et)`);
  assert.equal(n.raft.state, StateType.Candidate);
});

test('the election timeout is drawn at random from [electionTick, 2*electionTick) (paper §5.2)', () => {
  // "Raft uses randomized election timeouts to ensure that split votes are rare ... election
  // timeouts are chosen randomly from a fixed interval (e.g., 150–300ms)."
  const seen = new Set<number>();
  for (let seed = 1; seed <= 80; seed++) {
    const c = new TestCluster({ seed });
    const t = ticksUntilCampaign(c, 1);
    assert.ok(t >= 10 && t < 20, `seed ${seed}: timeout ${t} outside [10, 20)`);
    seen.add(t);
    // A new term draws a new timeout, also within the range.
    const t2 = ticksUntilCampaign(c, 2);
    assert.ok(t2 >= 10 && t2 < 20);
  }
  assert.ok(seen.has(10) && seen.has(19), `both ends of the range should be drawn: ${[...seen].sort((a, b) => a - b)}`);
  assert.ok(seen.size >= 8, 'timeouts are spread over the range');
});

test('a candidate increments its term, votes for itself and requests votes from every other voter (paper §5.2)', () => {
  // "To begin an election, a follower increments its current term and transitions to candidate
  // state. It then votes for itself and issues RequestVote RPCs in parallel to each of the other
  // servers in the cluster."
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  const n = c.node(1);
  const last = n.lastIndex;
  c.campaign(1);
  assert.equal(n.raft.state, StateType.Candidate);
  assert.equal(n.term, 2);
  assert.equal(n.raft.vote, 1);
  const votes = c.pending(msg.type(MessageType.Vote));
  assert.deepEqual(
    votes.map((m) => [m.to, m.term, m.index, m.logTerm]),
    [2, 3, 4, 5].map((to) => [to, 2, last, 1]),
  );
  // The new term and the self-vote were durable before any request left.
  for (const s of c.sent.filter((s) => s.msg.type === MessageType.Vote)) {
    assert.deepEqual([s.senderPersisted.term, s.senderPersisted.vote], [2, 1]);
  }
});

test('a candidate wins once it holds votes from a majority of the cluster, not before (paper §5.2)', () => {
  // "A candidate wins an election if it receives votes from a majority of the servers in the
  // full cluster for the same term."
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.campaign(1);
  c.deliver(msg.and(msg.type(MessageType.Vote), msg.to(2)));
  c.deliver(msg.type(MessageType.VoteResp));
  assert.equal(c.raft(1).state, StateType.Candidate, 'two votes of five is no majority');
  c.deliver(msg.and(msg.type(MessageType.Vote), msg.to(3)));
  c.deliver(msg.type(MessageType.VoteResp));
  assert.equal(c.raft(1).state, StateType.Leader, 'three votes of five is a majority');
  assert.equal(c.raft(1).lead, 1);
  // "It then sends heartbeat messages to all of the other servers to establish its authority."
  assert.deepEqual(
    c.pending(msg.and(msg.from(1), msg.type(MessageType.App))).map((m) => m.to).sort(),
    [2, 3, 4, 5],
  );
  c.stabilize();
  for (const id of [2, 3, 4, 5]) assert.equal(c.raft(id).lead, 1);
});

test('a candidate rejected by a majority returns to follower and campaigns again later (paper §5.2)', () => {
  // Nodes 1 and 2 hold an entry of term 2 that node 3 lacks: both deny node 3 (§5.4.1).
  const c = new TestCluster({ logs: { 1: [2], 2: [2] } });
  c.campaign(3);
  assert.equal(c.raft(3).term, 2);
  c.stabilize();
  assert.equal(c.raft(3).state, StateType.Follower);
  assert.equal(c.raft(3).term, 2, 'the term it reached is kept');
  assert.equal(c.raft(3).lead, NONE);
  // With nobody else running, it times out and tries again in a new term.
  ticksUntilCampaign(c, 3);
  assert.equal(c.raft(3).state, StateType.Candidate);
  assert.equal(c.raft(3).term, 3);
});

test('a candidate that hears from a leader of its term becomes its follower (paper §5.2)', () => {
  // "If the AppendEntries RPC is from a leader whose term is at least as large as the
  // candidate's current term, then the candidate recognizes the leader as legitimate and returns
  // to follower state."
  const c = new TestCluster();
  c.campaign(1);
  c.campaign(3);
  assert.equal(c.raft(3).term, 2);
  // Node 2 hears node 1 first; node 3 (a candidate) denies node 1.
  c.deliver(msg.and(msg.type(MessageType.Vote), msg.from(1)));
  c.deliver(msg.type(MessageType.VoteResp));
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(3).state, StateType.Candidate);
  c.stabilize();
  assert.equal(c.raft(3).state, StateType.Follower);
  assert.equal(c.raft(3).term, 2);
  assert.equal(c.raft(3).lead, 1);
});

test('a split vote elects nobody, and a later election in a new term does (paper §5.2)', () => {
  // "If many followers become candidates at the same time, votes could be split so that no
  // candidate obtains a majority. When this happens, each candidate will time out and start a
  // new election by incrementing its term."
  const c = new TestCluster({ voters: [1, 2, 3, 4] });
  c.campaign(1);
  c.campaign(3);
  c.deliver(msg.and(msg.type(MessageType.Vote), msg.between(1, 2)));
  c.deliver(msg.and(msg.type(MessageType.Vote), msg.between(3, 4)));
  c.stabilize();
  for (const id of [1, 2, 3, 4]) {
    assert.notEqual(c.raft(id).state, StateType.Leader, `node ${id} must not win a split vote`);
    assert.equal(c.raft(id).term, 2);
  }
  for (let t = 0; t < 100 && !c.leader(); t++) {
    c.tickAll();
    c.stabilize();
  }
  const leader = c.leader();
  assert.ok(leader, 'a leader is elected after the split');
  assert.equal(leader.term, 3);
});

test('a server grants at most one vote per term, first come first served (paper §5.2)', () => {
  // "Each server will vote for at most one candidate in a given term, on a first-come-first-served basis."
  const c = new TestCluster();
  const voteResp = (): Message[] => c.discard(msg.and(msg.from(2), msg.type(MessageType.VoteResp)));
  c.inject({ type: MessageType.Vote, from: 1, to: 2, term: 2, index: 3, logTerm: 1 });
  assert.deepEqual(voteResp().map((m) => [m.to, m.reject]), [[1, false]]);
  c.inject({ type: MessageType.Vote, from: 3, to: 2, term: 2, index: 3, logTerm: 1 });
  assert.deepEqual(voteResp().map((m) => [m.to, m.reject]), [[3, true]]);
  // A repeated request from the candidate it voted for is granted again (the response may have been lost).
  c.inject({ type: MessageType.Vote, from: 1, to: 2, term: 2, index: 3, logTerm: 1 });
  assert.deepEqual(voteResp().map((m) => [m.to, m.reject]), [[1, false]]);
  // The vote survives a restart: it was persisted.
  c.crash(2);
  c.restart(2);
  assert.equal(c.raft(2).vote, 1);
  c.inject({ type: MessageType.Vote, from: 3, to: 2, term: 2, index: 3, logTerm: 1 });
  assert.deepEqual(voteResp().map((m) => [m.to, m.reject]), [[3, true]]);
  // A new term is a new vote.
  c.inject({ type: MessageType.Vote, from: 3, to: 2, term: 3, index: 3, logTerm: 1 });
  assert.deepEqual(voteResp().map((m) => [m.to, m.reject]), [[3, false]]);
});

test('a vote is in the same Ready as its VoteResp, so it is durable before the response leaves (paper §5.1, Figure 2)', () => {
  // Figure 2: currentTerm and votedFor are persistent state, "updated on stable storage before
  // responding to RPCs".
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.campaign(1);
  c.stabilize();
  const grants = c.sent.filter((s) => s.msg.type === MessageType.VoteResp && !s.msg.reject);
  assert.equal(grants.length, 4);
  for (const g of grants) {
    assert.deepEqual([g.senderPersisted.term, g.senderPersisted.vote], [g.msg.term, g.msg.to], `node ${g.msg.from} answered before persisting its vote`);
    const rd = c.node(g.msg.from).readies.find((r) => r.messages.some((m) => m.type === MessageType.VoteResp));
    assert.ok(rd?.hardState, 'the Ready carrying the VoteResp carries the HardState');
    assert.equal(rd.hardState.vote, 1);
    assert.ok(rd.mustSync, 'a new vote must be synced');
  }
});

test('a server that sees a higher term adopts it and reverts to follower, whatever its role (paper §5.1)', () => {
  // "If one server's current term is smaller than the other's, then it updates its current term
  // to the larger value. If a candidate or leader discovers that its term is out of date, it
  // immediately reverts to follower state."
  for (const role of [StateType.Follower, StateType.Candidate, StateType.Leader, StateType.PreCandidate]) {
    for (const type of [MessageType.App, MessageType.Heartbeat, MessageType.Vote, MessageType.AppResp]) {
      const c = new TestCluster({ preVote: role === StateType.PreCandidate });
      if (role === StateType.Leader) c.elect(1);
      else if (role !== StateType.Follower) c.campaign(1);
      assert.equal(c.raft(1).state, role);
      c.inject({ type, from: 2, to: 1, term: 9, index: 3, logTerm: 1 });
      const r = c.raft(1);
      assert.equal(r.state, StateType.Follower, `${role} stepping ${MessageType[type]}@9`);
      assert.equal(r.term, 9);
      // A leader's messages name it as leader; anything else leaves the leader unknown.
      assert.equal(r.lead, type === MessageType.App || type === MessageType.Heartbeat ? 2 : NONE);
    }
  }
});

test('a message from an older term is ignored (paper §5.1)', () => {
  // "If a server receives a request with a stale term number, it rejects the request."
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'x');
  c.stabilize();
  const before = c.node(2).logTerms();
  c.inject({ type: MessageType.App, from: 3, to: 2, term: 1, index: 5, logTerm: 2, commit: 9, entries: [{ term: 1, index: 6, type: 0, data: new Uint8Array(1) }] });
  c.inject({ type: MessageType.Vote, from: 3, to: 2, term: 1, index: 100, logTerm: 100 });
  c.inject({ type: MessageType.Heartbeat, from: 3, to: 2, term: 1, commit: 9 });
  const r = c.raft(2);
  assert.deepEqual(c.node(2).logTerms(), before);
  assert.equal(r.term, 2);
  assert.equal(r.lead, 1);
  assert.equal(r.raftLog.committed, 5);
  assert.deepEqual(c.pending(msg.from(2)), [], 'without pre-vote or check-quorum nothing is answered');
});

test('a deposed leader learns the new term from the answer to its stale heartbeat and steps down (paper §5.1)', () => {
  // With pre-vote or check-quorum on, a stale AppendEntries is answered with the current term
  // (the "rejects the request" of §5.1), which is how a leader back from a partition learns it
  // was replaced.
  const c = new TestCluster({ checkQuorum: true, preVote: true });
  c.elect(1);
  c.isolate(1);
  for (let t = 0; t < 200 && !(c.leader() && c.leader()?.id !== 1); t++) {
    c.tick(2);
    c.tick(3);
    c.stabilize();
  }
  const newLeader = c.leader();
  assert.ok(newLeader && newLeader.id !== 1);
  assert.equal(c.raft(1).state, StateType.Leader, 'node 1 does not know yet');
  c.heal();
  const r = c.propose(1, 'stale');
  assert.ok(r.ok);
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Follower);
  assert.equal(c.raft(1).term, newLeader.term);
  // The stale leader's proposal never commits anywhere.
  c.tick(newLeader.id, 1);
  c.stabilize();
  for (const n of c.nodes.values()) assert.ok(!n.appData.includes('stale'));
});

test('the leader sends heartbeats every heartbeatTick, and they keep followers from campaigning (paper §5.2)', () => {
  // "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
  // followers in order to maintain their authority."
  const c = new TestCluster({ heartbeatTick: 3, electionTick: 10 });
  c.elect(1);
  c.discard();
  const perTick: number[] = [];
  for (let t = 1; t <= 9; t++) {
    c.tick(1);
    perTick.push(c.pending(msg.type(MessageType.Heartbeat)).length);
    c.discard();
  }
  assert.deepEqual(perTick, [0, 0, 2, 0, 0, 2, 0, 0, 2]);
  // Followers ticked along with the heartbeats never start an election.
  for (let t = 0; t < 100; t++) {
    c.tickAll();
    c.stabilize();
  }
  assert.equal(c.raft(1).state, StateType.Leader);
  for (const id of [2, 3]) {
    assert.equal(c.raft(id).state, StateType.Follower);
    assert.equal(c.raft(id).term, 2);
  }
});

test('a single-voter cluster elects itself at once', () => {
  const c = new TestCluster({ voters: [1] });
  c.campaign(1);
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.deepEqual(c.pending(), []);
});
