// The simulator's SafetyChecker, fed hand-built histories: each history that breaks an invariant
// must be reported as a violation of exactly that invariant, and valid histories (including the
// legal look-alikes of each violation) must pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SafetyChecker, type Invariant } from './checker.js';
import { chainHash, hashBytes } from './hash.js';

/** A log as [term, payload] pairs from index 1; returns its prefix hashes by index (0 → 0). */
function prefixHashes(log: [number, string][]): number[] {
  const out = [0];
  let h = 0;
  for (const [term, data] of log) {
    h = chainHash(h, term, hashBytes(new TextEncoder().encode(data)));
    out.push(h);
  }
  return out;
}

const A: [number, string][] = [
  [1, 'a'],
  [1, 'b'],
  [2, 'c'],
];
const phA = prefixHashes(A);

/** Node `node` persists and commits (and applies) the log `log` up to `upTo`. */
function commitLog(k: SafetyChecker, node: number, log: [number, string][], upTo: number): void {
  const ph = prefixHashes(log);
  for (let i = 1; i <= upTo; i++) {
    const [term] = log[i - 1] as [number, string];
    k.onLogEntry(node, i, term, ph[i] as number);
    k.onCommitted(node, i, term, ph[i] as number);
    k.onApply(node, i, term, ph[i] as number);
  }
}

function assertOnly(k: SafetyChecker, invariant: Invariant): void {
  assert.ok(!k.ok, `expected a ${invariant} violation`);
  assert.deepEqual(
    k.violations.map((v) => v.invariant),
    [invariant],
    k.violations.map((v) => v.message).join('\n'),
  );
}

function assertValid(k: SafetyChecker): void {
  assert.deepEqual(k.violations, []);
  assert.ok(k.ok);
}

test('election safety: two leaders in one term are reported', () => {
  const k = new SafetyChecker();
  k.now = 17;
  k.onLeader(2, 1);
  k.onLeader(2, 3);
  assertOnly(k, 'election-safety');
  assert.equal(k.violations[0]?.time, 17, 'the violation carries the time it was seen');
  assert.match(k.violations[0]?.message ?? '', /term 2 has two leaders: 1 and 3/);

  const ok = new SafetyChecker();
  ok.onLeader(2, 1);
  ok.onLeader(2, 1); // the same leader seen again
  ok.onLeader(3, 3);
  ok.onLeader(4, 1);
  assertValid(ok);
});

test('log matching: two entries with the same index and term but different prefixes are reported', () => {
  const k = new SafetyChecker();
  const other = prefixHashes([
    [1, 'a'],
    [1, 'X'], // a different entry 2@1
    [2, 'c'],
  ]);
  k.onLogEntry(1, 3, 2, phA[3] as number);
  k.onLogEntry(2, 3, 2, other[3] as number);
  assertOnly(k, 'log-matching');

  // Divergent suffixes in different terms are legal (an uncommitted tail being replaced).
  const ok = new SafetyChecker();
  const diverged = prefixHashes([
    [1, 'a'],
    [1, 'b'],
    [3, 'd'],
  ]);
  for (let i = 1; i <= 3; i++) {
    ok.onLogEntry(1, i, (A[i - 1] as [number, string])[0], phA[i] as number);
    ok.onLogEntry(2, i, i === 3 ? 3 : 1, diverged[i] as number);
  }
  ok.onLogEntry(3, 2, 1, phA[2] as number); // a third node agreeing with both up to 2
  assertValid(ok);
});

test('leader completeness: a new leader missing a committed entry, or holding a different one, is reported', () => {
  const short = new SafetyChecker();
  commitLog(short, 1, A, 3);
  short.onBecomeLeader(2, 3, 2, 0, (i) => phA[i]);
  assertOnly(short, 'leader-completeness');

  const different = new SafetyChecker();
  commitLog(different, 1, A, 3);
  const B = prefixHashes([
    [1, 'a'],
    [1, 'b'],
    [2, 'Z'],
  ]);
  different.onBecomeLeader(2, 3, 3, 0, (i) => B[i]);
  assertOnly(different, 'leader-completeness');

  const ok = new SafetyChecker();
  commitLog(ok, 1, A, 3);
  const longer = prefixHashes([...A, [3, 'd']]);
  ok.onBecomeLeader(2, 3, 4, 0, (i) => longer[i]); // has the committed log and more
  ok.onBecomeLeader(3, 4, 5, 3, () => undefined); // compacted past the committed index: nothing to compare
  assertValid(ok);
});

test('committed entries are durable: a node considering another entry committed at an index is reported', () => {
  const k = new SafetyChecker();
  const B = prefixHashes([
    [1, 'a'],
    [1, 'b'],
    [3, 'other'],
  ]);
  k.onCommitted(1, 3, 2, phA[3] as number);
  k.onCommitted(2, 3, 3, B[3] as number); // e.g. a node that restarted and lost 3@2
  assertOnly(k, 'committed-durable');

  const ok = new SafetyChecker();
  ok.onCommitted(1, 3, 2, phA[3] as number);
  ok.onCommitted(2, 3, 2, phA[3] as number);
  ok.onCommitted(1, 3, 2, phA[3] as number); // learned again after a restart
  assert.equal(ok.committedIndex, 3);
  assertValid(ok);
});

test('state machine safety: two nodes applying different entries at one index are reported', () => {
  const k = new SafetyChecker();
  const B = prefixHashes([
    [1, 'a'],
    [1, 'b'],
    [3, 'other'],
  ]);
  k.onApply(1, 3, 2, phA[3] as number);
  k.onApply(2, 3, 3, B[3] as number);
  assertOnly(k, 'state-machine-safety');

  // Same term, different history before it: also caught (through the prefix hash).
  const k2 = new SafetyChecker();
  const C = prefixHashes([
    [1, 'X'],
    [1, 'b'],
    [2, 'c'],
  ]);
  k2.onApply(1, 3, 2, phA[3] as number);
  k2.onApply(2, 3, 2, C[3] as number);
  assertOnly(k2, 'state-machine-safety');

  const ok = new SafetyChecker();
  commitLog(ok, 1, A, 3);
  commitLog(ok, 2, A, 3);
  assertValid(ok);
});

test('state machine safety: a snapshot nobody committed, or whose state differs from the committed log, is reported', () => {
  const unknown = new SafetyChecker();
  commitLog(unknown, 1, A, 2);
  unknown.onSnapshotRestore(2, 3, phA[3] as number);
  assertOnly(unknown, 'state-machine-safety');

  const differs = new SafetyChecker();
  commitLog(differs, 1, A, 3);
  differs.onSnapshotRestore(2, 3, 12345);
  assertOnly(differs, 'state-machine-safety');

  const ok = new SafetyChecker();
  commitLog(ok, 1, A, 3);
  ok.onSnapshotRestore(2, 3, phA[3] as number);
  assertValid(ok);
});

test('acknowledged writes: an acknowledgement for an entry that is not the committed one is reported', () => {
  const wrongTerm = new SafetyChecker();
  commitLog(wrongTerm, 1, A, 3);
  wrongTerm.onWriteAcked(3, 3); // the client was told 3@3, but 3@2 is committed
  assertOnly(wrongTerm, 'acknowledged-write');

  const notCommitted = new SafetyChecker();
  commitLog(notCommitted, 1, A, 2);
  notCommitted.onWriteAcked(3, 2);
  assertOnly(notCommitted, 'acknowledged-write');

  const ok = new SafetyChecker();
  commitLog(ok, 1, A, 3);
  ok.onWriteAcked(3, 2);
  ok.onWriteAcked(2, 1);
  assertValid(ok);
});

test('linearizable reads: a read older than a write acknowledged before it began is reported', () => {
  const k = new SafetyChecker();
  commitLog(k, 1, A, 3);
  k.onWriteAcked(3, 2);
  k.onReadStart('r1');
  k.onReadDone('r1', 2, 2); // served from a state machine at 2: misses the acknowledged write 3
  assertOnly(k, 'linearizable-read');
  assert.match(k.violations[0]?.message ?? '', /read r1 on node 2 saw index 2, older than write 3/);

  const ok = new SafetyChecker();
  commitLog(ok, 1, A, 3);
  ok.onWriteAcked(2, 1);
  ok.onReadStart('concurrent'); // began before write 3 was acknowledged: may miss it
  ok.onWriteAcked(3, 2);
  ok.onReadStart('after');
  ok.onReadStart('abandoned');
  ok.onReadDone('concurrent', 2, 2);
  ok.onReadDone('after', 3, 3);
  ok.onReadAbandoned('abandoned');
  ok.onReadDone('abandoned', 2, 0); // a late answer to an abandoned read is not judged
  ok.onReadDone('never-started', 2, 0);
  assertValid(ok);
});

test('a full valid history of a leader change passes every check', () => {
  const k = new SafetyChecker();
  // Term 2: node 1 leads and commits 1..3 on nodes 1 and 2; node 3 holds an uncommitted 4@2.
  k.onBecomeLeader(1, 2, 0, 0, () => undefined);
  commitLog(k, 1, A, 3);
  commitLog(k, 2, A, 3);
  k.onWriteAcked(3, 2);
  const withTail = prefixHashes([...A, [2, 'tail']]);
  for (let i = 1; i <= 4; i++) k.onLogEntry(3, i, i <= 2 ? 1 : 2, withTail[i] as number);
  // Term 3: node 2 leads (it has the committed log) and replaces the uncommitted tail.
  const B = prefixHashes([...A, [3, 'new']]);
  k.onBecomeLeader(2, 3, 3, 0, (i) => B[i]);
  for (const node of [2, 3]) {
    k.onLogEntry(node, 4, 3, B[4] as number);
    k.onCommitted(node, 4, 3, B[4] as number);
    k.onApply(node, 4, 3, B[4] as number);
  }
  k.onReadStart('r');
  k.onReadDone('r', 3, 4);
  assertValid(k);
  assert.equal(k.committedAt(4)?.term, 3);
});
