// The simulator as a test: a short sweep must find no violation, a seed must replay exactly,
// and — the proof that the sweep can fail — deliberate defects switched into the core from here
// must be reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from '../core/raft-log.js';
import { Raft } from '../core/raft.js';
import { MemoryStorage } from '../core/memory-storage.js';
import type { HardState, Message } from '../core/types.js';
import { runSeed } from './simulation.js';
import { runSweep } from './sweep.js';

test('a short sweep of 3-node clusters finds no violation and exercises every fault kind', () => {
  const { summary, failures } = runSweep({ seeds: 150, start: 1, nodes: 3, steps: 4000 });
  assert.deepEqual(
    failures.map((f) => ({ seed: f.seed, v: f.violations[0] })),
    [],
  );
  for (const k of ['elections', 'partitions', 'crashes', 'snapshots', 'confChanges', 'leaderTransfers', 'reads', 'committed'] as const) {
    assert.ok(summary[k] > 0, `${k} was never exercised`);
  }
});

test('a short sweep of 5-node clusters finds no violation', () => {
  const { summary, failures } = runSweep({ seeds: 100, start: 10_001, nodes: 5, steps: 4000 });
  assert.deepEqual(
    failures.map((f) => ({ seed: f.seed, v: f.violations[0] })),
    [],
  );
  assert.ok(summary.committed > 1000);
});

test('a seed replays exactly', () => {
  const a = runSeed({ seed: 4242, nodes: 5, steps: 3000 });
  const b = runSeed({ seed: 4242, nodes: 5, steps: 3000 });
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.trace, b.trace);
  assert.equal(a.endTime, b.endTime);
  const c = runSeed({ seed: 4243, nodes: 5, steps: 3000 });
  assert.notDeepEqual(a.trace, c.trace);
});

/** Runs seeds until one reports a violation of `invariant` (bounded); returns that seed. */
function findViolation(invariant: string, maxSeeds: number, nodes = 3): number | undefined {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const r = runSeed({ seed, nodes, steps: 4000 });
    if (r.violations.some((v) => v.invariant === invariant)) return seed;
  }
  return undefined;
}

function withPatch<T extends object, K extends keyof T>(proto: T, key: K, impl: T[K], f: () => void): void {
  const orig = proto[key];
  proto[key] = impl;
  try {
    f();
  } finally {
    proto[key] = orig;
  }
}

test('defect: granting votes without the log up-to-date check is caught (leader completeness)', () => {
  withPatch(RaftLog.prototype, 'isUpToDate', () => true, () => {
    const seed = findViolation('leader-completeness', 150);
    assert.ok(seed !== undefined, 'the simulator did not notice votes granted to out-of-date candidates');
  });
});

test('defect: serving ReadIndex without confirming leadership is caught (linearizable read)', () => {
  const proto = Raft.prototype as unknown as Record<string, unknown>;
  const orig = proto['leaderReadIndex'];
  proto['leaderReadIndex'] = function (this: { respondToReadIndex(m: Message, i: number): void; raftLog: RaftLog }, m: Message) {
    this.respondToReadIndex(m, this.raftLog.committed);
  };
  try {
    const seed = findViolation('linearizable-read', 150);
    assert.ok(seed !== undefined, 'the simulator did not notice stale reads from a deposed leader');
  } finally {
    proto['leaderReadIndex'] = orig;
  }
});

test('defect: a vote that is not persisted (forgotten across a crash) is caught (election safety)', () => {
  const orig = MemoryStorage.prototype.setHardState;
  MemoryStorage.prototype.setHardState = function (this: MemoryStorage, hs: HardState) {
    orig.call(this, { ...hs, vote: 0 });
  };
  try {
    const seed = findViolation('election-safety', 300);
    assert.ok(seed !== undefined, 'the simulator did not notice a node voting twice in one term after a restart');
  } finally {
    MemoryStorage.prototype.setHardState = orig;
  }
});
