// The harness's own end-to-end self-test against keelson (issue 6): serializable reads served
// by a member cut off from the majority must be caught as non-linearizable. Needs a working
// `keelson master` in this checkout (node bin/keelson.js master, built into dist/).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ISOLATING_SHAPES, partitionShapeFor } from '../nemesis/partition.js';
import { keelsonMasterAvailable, leftovers, readResults, runCli, seedWhere } from './run-test-support.js';

// A stale read needs a client of the cut-off member to read a key the majority has written
// since, between its own writes (each of which blocks for the 2 s operation timeout there): an
// isolation of at least 4.5 s and 6 clients per member make missing it unlikely (an 8 s run
// with 4 clients per member and a shorter isolation once saw none).
const TIME_SEC = 10;
const CLIENTS = 18;
const SEED = seedWhere(['partition'], TIME_SEC, (plan) => {
  const f = plan[0];
  return f !== undefined && ISOLATING_SHAPES.has(partitionShapeFor(f.seed)) && f.durationMs >= 4500;
});
test('keelson master works in this checkout (the runs below need it)', () => {
  assert.ok(keelsonMasterAvailable(), '`node bin/keelson.js master --help` failed: build with npm run build');
});

test('self-test on keelson: serializable reads under a partition are caught as non-linearizable (exit 1)', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'keelson-jepsen-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const r = await runCli(['--time', String(TIME_SEC), '--workload', 'register', '--nemesis', 'partition', '--seed', String(SEED), '--out', out, '--target', 'keelson', '--read-mode', 'serializable', '--clients', String(CLIENTS)]);
  assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /jepsen register on keelson: INVALID/);
  assert.deepEqual(leftovers(r.stderr), []);
  const results = await readResults(out);
  assert.equal(results.meta.target, 'keelson');
  assert.equal(results.checkers.linearizable?.valid, false);
  assert.ok(results.checkers.linearizable!.violations.some((v) => v.failedOp.f === 'read'));
});

test('keelson with linearizable reads under partitions and kills: valid (exit 0)', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'keelson-jepsen-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const r = await runCli(['--time', '12', '--workload', 'register', '--nemesis', 'partition,kill', '--seed', '6', '--out', out, '--target', 'keelson', '--clients', '12']);
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const results = await readResults(out);
  assert.equal(results.valid, true);
  assert.ok(results.ops.ok > 100, `too few successful operations: ${JSON.stringify(results.ops)}`);
  assert.deepEqual(leftovers(r.stderr), []);
});
