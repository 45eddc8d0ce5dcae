// Log replication, one test per rule of the Raft paper §5.3 (cited as "paper"), plus the parts
// of the runtime contract that replication depends on: a leader counts its own copy only once
// it is durable, proposals name their entry by (term, index), and a restart resumes from storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, bytes, msg, type TestNode } from './test-cluster.js';
import { EntryType, MessageType, NONE, StateType, type Entry } from './types.js';

function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: bytes(data) };
}

test('the leader appends a proposal to its log and sends it to every follower (paper §5.3)', () => {
  // "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs
  // in parallel to each of the other servers to replicate the entry."
  const c = new TestCluster();
  c.elect(1); // no-op at 4@2
  const r = c.propose(1, 'x');
  assert.deepEqual(r, { ok: true, index: 5, term: 2 });
  assert.deepEqual(c.node(1).logTerms(), [1, 1, 1, 2, 2]);
  const apps = c.pending(msg.type(MessageType.App));
  assert.deepEqual(
    apps.map((m) => [m.to, m.index, m.logTerm, m.entries.map((e) => `${e.index}@${e.term}`)]),
    [
      [2, 4, 2, ['5@2']],
      [3, 4, 2, ['5@2']],
    ],
  );
});

test('an entry is committed once a majority stored it; the leader then applies it (paper §5.3)', () => {
  // "A log entry is committed once the leader that created the entry has replicated it on a
  // majority of the servers ... The leader ... applies the entry to its state machine."
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.elect(1);
  c.isolate(4);
  c.isolate(5);
  c.propose(1, 'x');
  c.stabilize();
  assert.equal(c.node(1).commit, 7);
  assert.deepEqual(c.node(1).appData, ['x']);
});

test('a minority of replicas does not commit an entry (paper §5.3)', () => {
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
  c.elect(1);
  for (const id of [3, 4, 5]) c.isolate(id);
  c.propose(1, 'x');
  c.stabilize();
  assert.equal(c.node(2).lastIndex, 7, 'follower 2 stored it');
  assert.equal(c.node(1).commit, 6, 'two of five copies do not commit');
  assert.deepEqual(c.node(1).appData, []);
});

test('followers learn the commit index from later messages and apply in log order (paper §5.3)', () => {
  // "The leader keeps track of the highest index it knows to be committed, and it includes that
  // index in future AppendEntries RPCs (including heartbeats) so that the other servers
  // eventually find out. Once a follower learns that a log entry is committed, it applies the
  // entry to its local state machine (in log order)."
  const c = new TestCluster();
  c.elect(1);
  c.propose(1, 'x');
  c.deliver(msg.type(MessageType.App)); // followers store 5
  c.deliver(msg.type(MessageType.AppResp)); // the leader commits 5
  assert.equal(c.node(1).commit, 5);
  assert.equal(c.node(2).commit, 4, 'the follower does not know yet');
  assert.deepEqual(c.node(2).appData, []);
  // Node 3 learns through a heartbeat, node 2 through the leader's next append.
  c.drop(msg.to(2));
  c.tick(1);
  c.deliver(msg.type(MessageType.Heartbeat));
  assert.equal(c.node(3).commit, 5);
  assert.deepEqual(c.node(3).appData, ['x']);
  c.heal();
  c.propose(1, 'y');
  c.stabilize();
  for (const id of [1, 2, 3]) assert.deepEqual(c.node(id).appData, ['x', 'y']);
  for (const id of [2, 3]) assert.deepEqual(c.node(id).appliedIds(), ['1@1', '2@1', '3@1', '4@2', '5@2', '6@2']);
});

test('a heartbeat never tells a follower to commit beyond what it is known to hold (paper §5.3)', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'x');
  c.stabilize();
  assert.equal(c.node(1).commit, 5);
  c.heal();
  c.tick(1);
  const hb = c.pending(msg.and(msg.type(MessageType.Heartbeat), msg.to(3)));
  assert.deepEqual(hb.map((m) => m.commit), [4], 'node 3 holds only up to 4');
});

test('committing an entry commits every entry before it (paper §5.3)', () => {
  // "This also commits all preceding entries in the leader's log, including entries created by previous leaders."
  const c = new TestCluster();
  c.elect(1);
  c.isolate(2);
  c.isolate(3);
  for (const d of ['a', 'b', 'c']) c.propose(1, d);
  c.stabilize();
  assert.equal(c.node(1).commit, 4);
  c.heal();
  c.tick(1); // heartbeats: the followers answer and get the missing entries
  c.stabilize();
  assert.equal(c.node(1).commit, 7);
  assert.deepEqual(c.node(1).appData, ['a', 'b', 'c']);
});

test('a follower rejects an append whose previous entry does not match its log (paper §5.3)', () => {
  // "When sending an AppendEntries RPC, the leader includes the index and term of the entry in
  // its log that immediately precedes the new entries. If the follower does not find an entry in
  // its log with the same index and term, then it refuses the new entries."
  const c = new TestCluster({ logs: { 2: [2, 2] } }); // node 2: 4@2 5@2, term 2
  const before = c.node(2).logTerms();
  // Wrong term at the previous index, then a previous index beyond the end.
  c.inject({ type: MessageType.App, from: 1, to: 2, term: 3, index: 5, logTerm: 3, entries: [entry(6, 3)], commit: 3 });
  c.inject({ type: MessageType.App, from: 1, to: 2, term: 3, index: 7, logTerm: 3, entries: [entry(8, 3)], commit: 3 });
  assert.deepEqual(c.node(2).logTerms(), before);
  const resps = c.discard(msg.from(2));
  assert.deepEqual(
    resps.map((m) => [m.type, m.index, m.reject, m.rejectHint, m.logTerm]),
    [
      // The hint is the last index whose term is <= the leader's term there: the leader can skip back.
      [MessageType.AppResp, 5, true, 5, 2],
      [MessageType.AppResp, 7, true, 5, 2],
    ],
  );
  // A matching previous entry is accepted.
  c.inject({ type: MessageType.App, from: 1, to: 2, term: 3, index: 5, logTerm: 2, entries: [entry(6, 3)], commit: 3 });
  assert.deepEqual(c.node(2).logTerms(), [...before, 3]);
  assert.deepEqual(c.discard(msg.from(2)).map((m) => [m.index, m.reject]), [[6, false]]);
});

test('a follower deletes a conflicting entry and all that follow it, keeping what matches (paper §5.3, Figure 2)', () => {
  // Figure 2, AppendEntries receiver 3: "If an existing entry conflicts with a new one (same
  // index but different terms), delete the existing entry and all that follow it."
  const c = new TestCluster({ logs: { 2: [2, 2, 2, 2] } }); // 4..7 @2
  // Entries 4 and 5 match, 6 conflicts: 6 and 7 go, 6@3 takes their place.
  c.inject({ type: MessageType.App, from: 1, to: 2, term: 3, index: 3, logTerm: 1, entries: [entry(4, 2), entry(5, 2), entry(6, 3)], commit: 3 });
  assert.deepEqual(c.node(2).logTerms(), [1, 1, 1, 2, 2, 3]);
  // An append that is entirely already present (a duplicate) truncates nothing.
  c.inject({ type: MessageType.App, from: 1, to: 2, term: 3, index: 3, logTerm: 1, entries: [entry(4, 2)], commit: 3 });
  assert.deepEqual(c.node(2).logTerms(), [1, 1, 1, 2, 2, 3]);
  // The truncation reached storage too.
  assert.equal(c.node(2).storage.lastIndex(), 6);
  assert.equal(c.node(2).storage.term(6), 3);
});

// Figure 7 of the paper: the leader's log, and followers (a)–(f) that are missing entries, have
// extra uncommitted entries, or both. Indexes here are the paper's + 3 (the bootstrap entries).
const LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const FIGURE7: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

for (const [name, follower] of Object.entries(FIGURE7)) {
  test(`the leader brings follower (${name}) of Figure 7 in line with its own log, backing off a term at a time (paper §5.3)`, () => {
    // "the leader must find the latest log entry where the two logs agree, delete any entries in
    // the follower's log after that point, and send the follower all of the leader's entries
    // after that point." And the optimisation: "the follower can include the term of the
    // conflicting entry and the first index it stores for that term ... one AppendEntries RPC
    // will be required for each term with conflicting entries, rather than one RPC per entry."
    const c = new TestCluster({ logs: { 1: LEADER, 2: LEADER, 3: follower }, terms: { 1: 7, 2: 7, 3: 7 } });
    c.elect(1);
    assert.equal(c.raft(1).term, 8);
    const leaderLog = c.node(1).logTerms();
    assert.deepEqual(c.node(3).logTerms(), leaderLog);
    assert.equal(c.node(3).commit, c.node(1).commit);
    assert.equal(c.node(1).commit, leaderLog.length, 'the no-op of term 8 committed everything');
    const rejections = c.sent.filter((s) => s.msg.from === 3 && s.msg.type === MessageType.AppResp && s.msg.reject).length;
    // Count entries the follower lacked or had wrong: a naive leader needs one round trip each.
    let agree = 0;
    while (agree < follower.length && agree < LEADER.length && follower[agree] === LEADER[agree]) agree++;
    const naive = Math.max(follower.length, LEADER.length) - agree;
    assert.ok(rejections <= 2, `(${name}) took ${rejections} rejected appends`);
    assert.ok(naive <= 1 || rejections < naive, `(${name}) back-off is not faster than one entry per round trip`);
    // The follower's extra entries (if any) are gone from its storage as well.
    assert.equal(c.node(3).storage.lastIndex(), leaderLog.length);
  });
}

test('the leader never overwrites or deletes entries in its own log (paper §5.3, Figure 3 "Leader Append-Only")', () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'a');
  c.propose(1, 'b');
  const snap = (): string[] => c.node(1).logEntries().map((e) => `${e.index}@${e.term}:${Buffer.from(e.data).toString()}`);
  let prev = snap();
  const checkAppendOnly = (): void => {
    const now = snap();
    assert.deepEqual(now.slice(0, prev.length), prev, 'the leader log is only ever extended');
    prev = now;
  };
  // A stale append (older term) with conflicting entries changes nothing.
  c.inject({ type: MessageType.App, from: 3, to: 1, term: 1, index: 3, logTerm: 1, entries: [entry(4, 1, 'z')], commit: 3 });
  checkAppendOnly();
  // Rejections, stale votes, heartbeat answers: still only appends.
  c.inject({ type: MessageType.AppResp, from: 2, to: 1, term: 2, index: 4, reject: true, rejectHint: 2, logTerm: 1 });
  checkAppendOnly();
  c.inject({ type: MessageType.Vote, from: 3, to: 1, term: 2, index: 99, logTerm: 99 });
  checkAppendOnly();
  for (let i = 0; i < 10; i++) {
    c.propose(1, `p${i}`);
    c.deliver(i % 2 === 0 ? msg.type(MessageType.App) : () => true);
    c.tick(1);
    checkAppendOnly();
  }
  assert.equal(c.raft(1).state, StateType.Leader);
});

test('a leader counts its own copy only once it is durable (the Ready contract: advance)', () => {
  // Single voter: the proposal commits after advance reports it durable, not before.
  const solo = new TestCluster({ voters: [1] });
  solo.campaign(1);
  const n = solo.node(1);
  n.hold = true;
  n.node.propose(bytes('x'));
  const rd = n.node.ready();
  assert.deepEqual(rd.entries.map((e) => e.index), [3]);
  assert.deepEqual(rd.committedEntries, []);
  n.persist(rd);
  assert.equal(n.commit, 2, 'persisted but not yet reported: not committed');
  n.apply(rd);
  n.node.advance(rd);
  assert.equal(n.commit, 3);
  const rd2 = n.node.ready();
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [3]);

  // Three voters, one down: the one follower's ack is not a majority until the leader's own
  // write is reported done.
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  const l = c.node(1);
  l.hold = true;
  l.node.propose(bytes('y'));
  const rd3 = l.node.ready();
  l.persist(rd3);
  c.send(l, rd3.messages);
  c.deliver(msg.to(2));
  c.deliver(msg.and(msg.from(2), msg.type(MessageType.AppResp)));
  assert.equal(c.node(2).lastIndex, 5);
  assert.equal(l.commit, 4, "node 2's ack alone is one of three");
  l.apply(rd3);
  l.node.advance(rd3);
  assert.equal(l.commit, 5, 'with its own durable copy the leader has two of three');
  l.hold = false;
  c.process(1);
  assert.deepEqual(l.appData, ['y']);
});

test('a proposal on a follower is refused with the leader as a hint', () => {
  const c = new TestCluster();
  c.elect(1);
  assert.deepEqual(c.propose(2, 'x'), { ok: false, reason: 'not-leader', leader: 1 });
  c.campaign(3); // a candidate knows no leader
  assert.deepEqual(c.propose(3, 'x'), { ok: false, reason: 'not-leader', leader: NONE });
  assert.deepEqual(c.node(2).logTerms(), [1, 1, 1, 2]);
});

/** The fate of an accepted proposal as seen from node n's applied log. */
function outcome(n: TestNode, p: { index: number; term: number }): 'committed' | 'superseded' | 'pending' {
  const e = n.applied.find((x) => x.index === p.index);
  if (!e) return 'pending';
  return e.term === p.term ? 'committed' : 'superseded';
}

test("a proposal's (term, index) tells its fate: committed, or superseded when a new leader overwrote it", () => {
  const c = new TestCluster();
  c.elect(1);
  c.isolate(1);
  const lost = c.propose(1, 'lost');
  assert.ok(lost.ok);
  assert.deepEqual([lost.index, lost.term], [5, 2]);
  // Node 2 takes over in term 3; its no-op lands at index 5, where 'lost' sat on node 1.
  c.elect(2);
  const kept = c.propose(2, 'kept');
  assert.ok(kept.ok);
  assert.deepEqual([kept.index, kept.term], [6, 3]);
  c.stabilize();
  c.heal();
  c.tick(2); // a heartbeat reaches node 1, which steps down and takes node 2's log
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Follower);
  for (const id of [1, 2, 3]) {
    assert.equal(outcome(c.node(id), lost), 'superseded', `node ${id}`);
    assert.equal(outcome(c.node(id), kept), 'committed', `node ${id}`);
    assert.deepEqual(c.node(id).appData, ['kept']);
  }
});

test('a restarted node keeps term, vote and commit from storage and applies again what follows the applied index (paper §5.1, Figure 2)', () => {
  const c = new TestCluster();
  c.elect(1);
  for (const d of ['a', 'b', 'c']) c.propose(1, d);
  c.stabilize();
  const n = c.node(2);
  const hs = n.storage.getHardState();
  assert.deepEqual(hs, { term: 2, vote: 1, commit: 7 });
  const appliedBefore = n.appliedIds();
  c.crash(2);
  c.restart(2);
  assert.deepEqual([n.raft.term, n.raft.vote, n.commit], [2, 1, 7]);
  // Nothing was snapshotted: the state machine starts empty and every committed entry is applied again.
  assert.deepEqual(n.appliedIds(), appliedBefore);
  assert.deepEqual(n.appData, ['a', 'b', 'c']);

  // With a snapshot at the applied index, only what follows it is applied again.
  const snap = c.snapshotAndCompact(2);
  assert.equal(snap.metadata.index, 7);
  c.propose(1, 'd');
  c.stabilize();
  c.crash(2);
  c.restart(2);
  assert.deepEqual(n.appliedIds(), ['8@2']);
  assert.deepEqual(n.appData, ['a', 'b', 'c', 'd']);
  assert.deepEqual(n.confState, { voters: [1, 2, 3], learners: [] });
  // And it rejoins as a normal follower.
  c.propose(1, 'e');
  c.stabilize();
  assert.deepEqual(n.appData, ['a', 'b', 'c', 'd', 'e']);

  // An application whose state is durable up to 9 (beyond the snapshot at 7) restarts with
  // applied = 9: only what follows is handed out again.
  c.propose(1, 'f');
  c.stabilize();
  c.crash(2);
  c.restart(2, 9);
  assert.deepEqual(n.appliedIds(), ['10@2']);
  assert.deepEqual(n.appData, ['a', 'b', 'c', 'd', 'e', 'f']);
});

test('entries still unpersisted when a node crashes are lost, and the leader sends them again', () => {
  const c = new TestCluster();
  c.elect(1);
  const n = c.node(2);
  n.hold = true;
  c.propose(1, 'x');
  c.deliver(msg.to(2)); // stepped, but the Ready was never persisted
  assert.equal(n.lastIndex, 5);
  c.crash(2);
  n.hold = false;
  c.restart(2);
  assert.equal(n.lastIndex, 4, 'the unpersisted entry is gone');
  c.tick(1);
  c.stabilize();
  assert.equal(n.lastIndex, 5);
  assert.deepEqual(n.appData, ['x']);
});
