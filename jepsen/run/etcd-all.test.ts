// A short 'all' run against etcd with every kind of fault: the four workloads and their
// checkers together, kill / pause / member / transfer / partition, and the heal before the
// final reads. etcd must come out valid.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NemesisKind } from '../nemesis/fault-plan.js';
import { leftovers, readResults, runCli, seedWhere } from './run-test-support.js';

const TIME_SEC = 14;
const NEMESIS: NemesisKind[] = ['partition', 'kill', 'pause', 'member', 'transfer'];
/** A seed whose plan removes and re-adds a member, and has at least three kinds of fault. */
const SEED = seedWhere(NEMESIS, TIME_SEC, (plan) => plan.some((f) => f.kind === 'member') && new Set(plan.map((f) => f.kind)).size >= 3);

test("smoke: workload 'all' on etcd under every nemesis is valid", async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'keelson-jepsen-test-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const r = await runCli(['--time', String(TIME_SEC), '--workload', 'all', '--nemesis', NEMESIS.join(','), '--seed', String(SEED), '--out', out, '--target', 'etcd', '--clients', '8']);
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /member n\d added back/, 'the member nemesis did not run');
  assert.deepEqual(leftovers(r.stderr), []);
  const results = await readResults(out);
  assert.equal(results.valid, true);
  const c = results.checkers;
  assert.equal(c.linearizable?.valid, true);
  assert.equal(c.append?.valid, true);
  assert.equal(c.watch?.valid, true);
  assert.equal(c.lease?.valid, true);
  assert.ok(c.append!.txns.ok > 20 && c.watch!.eventsDelivered > 20 && c.lease!.readsChecked > 0 && c.linearizable!.opsChecked > 50);
  // Under load a slow member re-add can push the plan's later faults past the end of the run.
  assert.ok(new Set(results.faults.map((f) => f.kind)).size >= 2, JSON.stringify(results.faults));
});
