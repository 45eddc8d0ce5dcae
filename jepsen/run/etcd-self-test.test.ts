// The harness must prove it finds bugs: serializable reads are not linearizable, and a member
// cut off from the majority serves stale ones. With --read-mode serializable and a partition
// that isolates a member, the register checker must say so (exit 1). etcd's serializable reads
// from an isolated member are stale too, so this runs against the real etcd.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ISOLATING_SHAPES, partitionShapeFor } from '../nemesis/partition.js';
import { leftovers, readResults, runCli, seedWhere } from './run-test-support.js';

// As in keelson-self-test.test.ts: a stale read needs a client of the cut-off member to read
// between its own blocked writes, so a longer isolation and more clients (an 8 s run with 12
// clients and a 4 s isolation once saw none on a slow machine).
const TIME_SEC = 10;
const CLIENTS = 18;

/** A seed whose first fault isolates a member for at least 4.5 s. */
export const SELF_TEST_SEED = seedWhere(['partition'], TIME_SEC, (plan) => {
  const f = plan[0];
  return f !== undefined && ISOLATING_SHAPES.has(partitionShapeFor(f.seed)) && f.durationMs >= 4500;
});

test('self-test on etcd: serializable reads under a partition are caught as non-linearizable (exit 1)', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'keelson-jepsen-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const r = await runCli(['--time', String(TIME_SEC), '--workload', 'register', '--nemesis', 'partition', '--seed', String(SELF_TEST_SEED), '--out', out, '--target', 'etcd', '--read-mode', 'serializable', '--clients', String(CLIENTS)]);
  assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /INVALID/);
  assert.deepEqual(leftovers(r.stderr), []);
  const results = await readResults(out);
  assert.equal(results.valid, false);
  assert.equal(results.meta.readMode, 'serializable');
  const lin = results.checkers.linearizable!;
  assert.equal(lin.valid, false);
  // Each violation is a read: the stale value came from the member that was cut off.
  for (const v of lin.violations) assert.equal(v.failedOp.f, 'read');
  assert.ok(results.anomalies.every((a) => a.checker === 'linearizable' && a.type === 'nonlinearizable'));
});
