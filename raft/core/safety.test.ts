// Safety (Raft paper §5.4, Figure 3; cited as "paper"): the election restriction, the rule that
// a leader commits only entries of its own term by counting replicas (Figure 8, scripted step by
// step, and shown to lose a committed entry when the rule is switched off from here), leader
// completeness, and a small seeded stress of the Figure 3 properties.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../common/prng.js';
import { RaftLog } from './raft-log.js';
import { TestCluster, msg, text, type TestNode } from './test-cluster.js';
import { MessageType, StateType, type Message } from './types.js';

test('a voter denies a candidate whose log is less up-to-date: last term first, then length (paper §5.4.1)', () => {
  // "Raft determines which of two logs is more up-to-date by comparing the index and term of the
  // last entries in the logs. If the logs have last entries with different terms, then the log
  // with the later term is more up-to-date. If the logs end with the same term, then whichever
  // log is longer is more up-to-date."
  // The voter's log ends at 6@2.
  const cases: { index: number; logTerm: number; grant: boolean; why: string }[] = [
    { index: 9, logTerm: 1, grant: false, why: 'longer, but an older last term' },
    { index: 5, logTerm: 2, grant: false, why: 'same last term, shorter' },
    { index: 6, logTerm: 2, grant: true, why: 'identical' },
    { index: 7, logTerm: 2, grant: true, why: 'same last term, longer' },
    { index: 4, logTerm: 3, grant: true, why: 'shorter, but a later last term' },
  ];
  for (const type of [MessageType.Vote, MessageType.PreVote]) {
    for (const k of cases) {
      const c = new TestCluster({ logs: { 2: [2, 2, 2] } });
      c.inject({ type, from: 1, to: 2, term: 3, index: k.index, logTerm: k.logTerm });
      const resp = c.discard(msg.from(2));
      assert.equal(resp.length, 1);
      assert.equal(!(resp[0] as Message).reject, k.grant, `${MessageType[type]} for ${k.index}@${k.logTerm} (${k.why})`);
      if (type === MessageType.Vote) assert.equal(c.raft(2).vote, k.grant ? 1 : 0);
    }
  }
});

test('a node missing a committed entry cannot become leader; one that has it can (paper §5.4, Leader Completeness)', () => {
  // "If a log entry is committed in a given term, then that entry will be present in the logs of
  // the leaders for all higher-numbered terms."
  const c = new TestCluster();
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'x');
  c.stabilize();
  assert.equal(c.node(1).commit, 5);
  c.crash(1);
  c.heal();
  for (let i = 0; i < 3; i++) {
    c.campaign(3);
    c.stabilize();
    assert.notEqual(c.raft(3).state, StateType.Leader, 'node 3 lacks committed entry 5');
  }
  c.campaign(2);
  c.stabilize();
  assert.equal(c.raft(2).state, StateType.Leader);
  assert.equal(c.node(2).termAt(5), 2);
  c.propose(2, 'y');
  c.stabilize();
  assert.deepEqual(c.node(3).appData, ['x', 'y']);
});

interface Figure8 {
  c: TestCluster;
  /** S1's commit index at the end of step (c), when 6@2 sat on a majority. */
  commitOfS1AfterC: number;
  /** Nodes storing 6@2 at the end of step (c). */
  holdersOf6At2: number[];
}

/**
 * The scenario of Figure 8, with five servers S1..S5. Indexes are shifted: the bootstrap fills
 * 1..5 (term 1), so the paper's "index 2" is 6 here, and each new leader's no-op is its first entry.
 * If `commitFourBeforeCrash`, S1 replicates its own term-4 entry to a majority in step (c) too.
 */
function figure8(commitFourBeforeCrash = false): Figure8 {
  const c = new TestCluster({ voters: [1, 2, 3, 4, 5], maxSizePerMsg: 1 });
  const votesOnly = msg.type(MessageType.Vote, MessageType.VoteResp);

  // (a) S1 is leader of term 2; its entry 6@2 reaches nobody.
  c.campaign(1);
  c.deliver(votesOnly);
  c.deliver(votesOnly);
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).term, 2);
  c.discard();
  assert.equal(c.node(1).termAt(6), 2);

  // (b) S1 crashes; S5 is elected for term 3 with votes from S3 and S4 (and itself) and writes
  // 6@3, which reaches nobody either.
  c.crash(1);
  c.campaign(5);
  c.deliver(msg.and(msg.type(MessageType.Vote), (m) => m.to === 3 || m.to === 4));
  c.deliver(votesOnly);
  assert.equal(c.raft(5).state, StateType.Leader);
  assert.equal(c.raft(5).term, 3);
  c.discard();
  assert.equal(c.node(5).termAt(6), 3);

  // (c) S5 crashes, S1 restarts and is elected for term 4 (a first attempt, in term 3, fails:
  // S3 and S4 voted for S5 in term 3). It writes 7@4 and replicates 6@2 to S2 and S3 only.
  c.crash(5);
  c.restart(1);
  c.campaign(1);
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Follower);
  assert.equal(c.raft(1).term, 3);
  c.campaign(1);
  c.deliver(msg.and(msg.type(MessageType.Vote), (m) => m.to === 2 || m.to === 3));
  c.deliver(votesOnly);
  assert.equal(c.raft(1).state, StateType.Leader);
  assert.equal(c.raft(1).term, 4);
  c.discard(msg.not(msg.and(msg.type(MessageType.App), (m) => m.to === 2 || m.to === 3)));
  // S2 and S3 lack 6: they reject the probe at 6, S1 backs off and sends 6@2 alone (maxSizePerMsg).
  c.deliver(msg.type(MessageType.App));
  c.deliver(msg.type(MessageType.AppResp));
  const sixAlone = c.pending(msg.type(MessageType.App));
  assert.deepEqual(
    sixAlone.map((m) => [m.to, m.entries.map((e) => `${e.index}@${e.term}`)]),
    [
      [2, ['6@2']],
      [3, ['6@2']],
    ],
  );
  c.deliver(msg.type(MessageType.App));
  c.deliver(msg.type(MessageType.AppResp));
  if (commitFourBeforeCrash) {
    c.deliver(msg.type(MessageType.App));
    c.deliver(msg.type(MessageType.AppResp));
  }
  const holdersOf6At2 = [1, 2, 3, 4, 5].filter((id) => c.node(id).storage.lastIndex() >= 6 && c.node(id).storage.term(6) === 2);
  const commitOfS1AfterC = c.node(1).commit;

  // (d) S1 crashes before its next messages leave. S5 comes back and, needing two attempts
  // again, is elected for term 5 by S2, S3 and S4 (its last entry 6@3 beats their 6@2 and 5@1),
  // then replicates its log.
  c.discard();
  c.crash(1);
  c.restart(5);
  c.campaign(5);
  c.stabilize();
  if (!commitFourBeforeCrash) {
    assert.equal(c.raft(5).term, 4);
    c.campaign(5);
    c.stabilize();
  }
  return { c, commitOfS1AfterC, holdersOf6At2 };
}

function appliedTermAt(n: TestNode, index: number): number | undefined {
  return n.applied.find((e) => e.index === index)?.term;
}

test('Figure 8: a leader does not commit an entry of an earlier term by counting replicas, so a later leader may safely overwrite it (paper §5.4.2)', () => {
  // "Raft never commits log entries from previous terms by counting replicas. Only log entries
  // from the leader's current term are committed by counting replicas."
  const { c, commitOfS1AfterC, holdersOf6At2 } = figure8();
  assert.deepEqual(holdersOf6At2, [1, 2, 3], '6@2 is stored on a majority at the end of (c)');
  assert.equal(commitOfS1AfterC, 5, 'yet S1, leader of term 4, does not commit it');
  // (d): S5 won and replaced 6@2 everywhere it reached — which is safe, as nobody committed it.
  assert.equal(c.raft(5).state, StateType.Leader);
  assert.equal(c.raft(5).term, 5);
  for (const id of [2, 3, 4, 5]) {
    assert.equal(c.node(id).termAt(6), 3);
    assert.equal(appliedTermAt(c.node(id), 6), 3);
  }
  assert.equal(appliedTermAt(c.node(1), 6), undefined, 'S1 never applied 6@2');
  // S1 comes back and converges on the committed log.
  c.restart(1);
  c.tick(5);
  c.stabilize();
  for (const id of [1, 2, 3, 4]) assert.deepEqual(c.node(id).appliedIds().slice(-3), c.node(5).appliedIds().slice(-3));
  assert.equal(c.node(1).termAt(6), 3);
});

test('Figure 8 (e): once the leader commits an entry of its own term, the earlier entries are committed too and cannot be lost (paper §5.4.2)', () => {
  const { c, commitOfS1AfterC } = figure8(true);
  assert.equal(commitOfS1AfterC, 7, '7@4 on S1, S2, S3 commits 7, and with it 6@2');
  for (let i = 0; i < 3; i++) {
    assert.notEqual(c.raft(5).state, StateType.Leader, 'S5 (last entry 6@3) cannot win against S2, S3 (7@4)');
    c.campaign(5);
    c.stabilize();
  }
  assert.notEqual(c.raft(5).state, StateType.Leader);
  for (const id of [2, 3]) assert.equal(c.node(id).termAt(6), 2);
});

test('Figure 8 with commit-by-counting patched in from the test: a committed entry is lost (the rule matters)', () => {
  // Switch the defect in: commit whatever index a majority stores, whatever its term.
  const original = RaftLog.prototype.maybeCommit;
  RaftLog.prototype.maybeCommit = function (this: RaftLog, maxIndex: number): boolean {
    if (maxIndex <= this.committed) return false;
    this.commitTo(maxIndex);
    return true;
  };
  let result: Figure8;
  try {
    result = figure8();
  } finally {
    RaftLog.prototype.maybeCommit = original;
  }
  const { c, commitOfS1AfterC } = result;
  assert.equal(commitOfS1AfterC, 6, 'the defective S1 committed 6@2 by counting replicas');
  // S1 applied 6@2; S5, elected in (d), committed and applied 6@3 at the same index: the entry
  // S1 committed was lost and two state machines diverged.
  assert.equal(appliedTermAt(c.node(1), 6), 2);
  assert.equal(c.raft(5).state, StateType.Leader);
  for (const id of [2, 3, 4, 5]) assert.equal(appliedTermAt(c.node(id), 6), 3, `node ${id}`);
});

// ---------------------------------------------------------------- a seeded stress of Figure 3

const checkedApplied = new WeakMap<TestNode, number>();

/** Checks Figure 3's properties over the cluster as it is now; leaders maps term -> leader. */
function checkFigure3(c: TestCluster, leaders: Map<number, number>, committed: Map<number, number>): void {
  const nodes = [...c.nodes.values()];
  for (const n of nodes) {
    // Election Safety: at most one leader can be elected in a given term.
    if (n.raft.state === StateType.Leader) {
      const prev = leaders.get(n.term);
      assert.ok(prev === undefined || prev === n.id, `term ${n.term} has leaders ${prev} and ${n.id}`);
      if (prev === undefined) {
        leaders.set(n.term, n.id);
        // Leader Completeness: a new leader holds every entry committed so far.
        for (const [i, t] of committed) assert.equal(n.termAt(i), t, `leader ${n.id} of term ${n.term} lacks committed ${i}@${t}`);
      }
    }
    // State Machine Safety: no two servers apply different entries at one index.
    const from = checkedApplied.get(n) ?? 0;
    checkedApplied.set(n, n.applied.length);
    for (const e of n.applied.slice(from <= n.applied.length ? from : 0)) {
      const t = committed.get(e.index);
      assert.ok(t === undefined || t === e.term, `node ${n.id} applied ${e.index}@${e.term}, but ${e.index}@${t} was applied elsewhere`);
      committed.set(e.index, e.term);
    }
  }
}

/** Log Matching: if two logs contain an entry with the same index and term, they are identical up to it. */
function checkLogMatching(c: TestCluster): void {
  const nodes = [...c.nodes.values()];
  const logs = nodes.map((n) => {
    const byIndex = new Map<number, string>();
    for (const e of n.logEntries()) byIndex.set(e.index, `${e.term}:${text(e.data)}`);
    return byIndex;
  });
  for (let a = 0; a < nodes.length; a++) {
    for (let b = a + 1; b < nodes.length; b++) {
      const la = logs[a] as Map<number, string>;
      const lb = logs[b] as Map<number, string>;
      let matchedAt = 0;
      for (const [i, k] of la) if (i > matchedAt && lb.get(i)?.split(':')[0] === k.split(':')[0]) matchedAt = i;
      for (const [i, k] of la) {
        const other = lb.get(i);
        if (i > matchedAt || other === undefined) continue; // beyond the match, or compacted on one side
        assert.equal(other, k, `nodes ${(nodes[a] as TestNode).id} and ${(nodes[b] as TestNode).id} share an entry at ${matchedAt} but differ at ${i}`);
      }
    }
  }
}

test('seeded stress: elections, drops and partitions never break the Figure 3 properties (paper §5.2–§5.4)', () => {
  for (let seed = 1; seed <= 8; seed++) {
    const prng = new Prng(seed);
    const c = new TestCluster({ voters: [1, 2, 3, 4, 5], seed, preVote: seed % 2 === 0, checkQuorum: seed % 3 === 0 });
    const leaders = new Map<number, number>();
    const committed = new Map<number, number>();
    for (let step = 0; step < 300; step++) {
      const r = prng.float();
      if (r < 0.05) {
        c.heal();
        if (prng.chance(0.5)) c.isolate(prng.range(1, 5));
      } else if (r < 0.25) {
        const l = c.leader();
        if (l) c.propose(l.id, `s${seed}-${step}`);
      } else {
        c.tickAll();
      }
      // Deliver one round, losing some messages.
      const lost = new Set(c.pending().filter(() => prng.chance(0.15)));
      c.discard((m) => lost.has(m));
      c.deliver();
      checkFigure3(c, leaders, committed);
      if (step % 10 === 0) checkLogMatching(c);
    }
    c.heal();
    for (let i = 0; i < 100 && !c.leader(); i++) {
      c.tickAll();
      c.stabilize();
    }
    const l = c.leader();
    assert.ok(l, `seed ${seed}: a leader after healing`);
    c.propose(l.id, 'final');
    c.stabilize();
    checkFigure3(c, leaders, committed);
    checkLogMatching(c);
    assert.ok(committed.size > 10, `seed ${seed}: progress was made`);
  }
});
