import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Prng } from '../../common/prng.js';
import { Errors, GrpcCode } from '../api/errors.js';
import { AlarmAction, AlarmType, type RequestOp } from '../api/types.js';
import { StoreStateMachine, type RaftEntryData } from './state-machine.js';
import { newPackr } from './records.js';
import { decodeStoreRequest, encodeStoreRequest, type StoreRequest } from './store-request.js';
import { Harness, b, tempDir } from './test-kit.js';

function entries(reqs: StoreRequest[], first: number): RaftEntryData[] {
  return reqs.map((r, i) => ({ index: first + i, term: 2, data: encodeStoreRequest(r) }));
}

function randomRequests(seed: number, n: number): StoreRequest[] {
  const prng = new Prng(seed);
  const out: StoreRequest[] = [{ leaseGrant: { ID: 7n, TTL: 30 } }];
  for (let i = 0; i < n; i++) {
    const k = `key/${prng.int(30)}`;
    const x = prng.int(10);
    if (x < 6) out.push({ put: { key: b(k), value: b(`v${i}`), ...(prng.chance(0.2) ? { lease: 7n } : {}) } });
    else if (x < 8) out.push({ deleteRange: { key: b(k) } });
    else if (x < 9) {
      const ops: RequestOp[] = [{ requestPut: { key: b(`t/${i}`), value: b('x') } }, { requestDeleteRange: { key: b(k) } }];
      out.push({ txn: { compare: [], success: ops, failure: [] } });
    } else out.push({ compaction: { revision: Math.max(2, i - 20) } });
  }
  return out;
}

test('store requests round-trip with bigints and bytes (protobuf for KV, msgpack for the rest); junk is rejected', () => {
  const req: StoreRequest = {
    txn: {
      compare: [{ key: b('a'), target: 4, result: 0, lease: 0x7fffffffffffffffn }],
      success: [{ requestPut: { key: b('k'), value: Buffer.from([0, 255]), lease: 5n } }],
      failure: [{ requestTxn: { compare: [], success: [], failure: [] } }],
    },
  };
  const back = decodeStoreRequest(encodeStoreRequest(req));
  assert.equal(back.txn?.compare[0]?.lease, 0x7fffffffffffffffn);
  assert.deepEqual(back.txn?.success[0]?.requestPut?.value, Buffer.from([0, 255]));
  assert.equal(back.txn?.success[0]?.requestPut?.lease, 5n);
  assert.deepEqual(back.txn?.failure[0], { requestTxn: { compare: [], success: [], failure: [] } });
  const grant = decodeStoreRequest(encodeStoreRequest({ leaseGrant: { ID: 2n ** 62n, TTL: 5 } }));
  assert.deepEqual(grant, { leaseGrant: { ID: 2n ** 62n, TTL: 5 } });
  const packr = newPackr();
  assert.throws(() => decodeStoreRequest(Buffer.from([0xc1])), /store request/);
  assert.throws(() => decodeStoreRequest(packr.pack({ put: { key: 'k' } })), /put.key is not bytes/);
  assert.throws(() => decodeStoreRequest(encodeStoreRequest({ put: { key: b('a') }, range: { key: b('a') } })), /exactly one/);
  assert.throws(() => decodeStoreRequest(encodeStoreRequest({ toString: 1 } as never)), /unknown field/);
  assert.throws(() => decodeStoreRequest(encodeStoreRequest({ leaseGrant: { ID: 5, TTL: 1 } as never })), /ID is not a 64-bit/);
});

test('apply: skips applied indexes, answers bad payloads with an error, persists the index with the data', async (t) => {
  const h = await Harness.open(t);
  const sm = h.sm;
  const batch = entries([{ put: { key: b('a'), value: b('1') } }, { put: { key: b('b'), value: b('2') } }], 1);
  const r1 = await sm.applyBatch([...batch, { index: 3, term: 2, data: new Uint8Array(0) }, { index: 4, term: 2, data: Buffer.from('garbage') }]);
  assert.deepEqual(r1.map((r) => r.kind), ['ok', 'ok', 'noop', 'error']);
  const bad = r1[3];
  assert.ok(bad?.kind === 'error' && bad.error.code === GrpcCode.INVALID_ARGUMENT);
  assert.equal(sm.appliedIndex, 4);
  // Replaying old entries changes nothing.
  const again = await sm.applyBatch(entries([{ put: { key: b('a'), value: b('replayed') } }], 1));
  assert.deepEqual(again.map((r) => r.kind), ['skipped']);
  assert.equal((await sm.range({ key: b('a') })).kvs[0]?.value.toString(), '1');
  await sm.persist({ sync: true });
  assert.equal(sm.persistedIndex, 4);
  // Restart: the applied index comes back with the data; replay from an older index is a no-op.
  await h.reopen(t);
  assert.equal(h.sm.appliedIndex, 4);
  assert.equal(h.sm.appliedTerm, 2);
  const replay = await h.sm.applyBatch(entries([{ put: { key: b('a'), value: b('1') } }, { put: { key: b('b'), value: b('2') } }, { put: { key: b('c'), value: b('3') } }], 3));
  assert.deepEqual(replay.map((r) => r.kind), ['skipped', 'skipped', 'ok']);
  assert.equal(h.sm.currentRevision, 4);
  assert.equal((await h.sm.range({ key: b('a') })).kvs[0]?.version, 1);
});

test('restart recovers data, revisions, compaction, leases and alarms; replay after a crash does not double-apply', async (t) => {
  const dir = await tempDir(t);
  const reqs = randomRequests(11, 300);
  const a = await StoreStateMachine.open({ dir });
  await a.applyBatch(entries(reqs.slice(0, 150), 1));
  await a.applyBatch(entries(reqs.slice(150), 151));
  await a.applyBatch(entries([{ alarm: { action: AlarmAction.ACTIVATE, memberID: 9n, alarm: AlarmType.NOSPACE } }], reqs.length + 1));
  const hashA = await a.hashKV({});
  const stateA = await a.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
  const ttlA = a.leaseTimeToLive({ ID: 7n, keys: true });
  await a.close();

  const b2 = await StoreStateMachine.open({ dir });
  t.after(() => b2.close());
  assert.equal(b2.appliedIndex, reqs.length + 1);
  assert.deepEqual(await b2.hashKV({}), hashA);
  assert.deepEqual(await b2.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) }), stateA);
  assert.deepEqual(b2.leaseTimeToLive({ ID: 7n, keys: true }).keys, ttlA.keys);
  assert.deepEqual(b2.alarms.get(AlarmType.NONE), [{ memberID: 9n, alarm: AlarmType.NOSPACE }]);
  // NOSPACE refuses puts but not deletes.
  const more = await b2.applyBatch(entries([{ put: { key: b('z'), value: b('1') } }, { deleteRange: { key: b('nothing') } }], reqs.length + 2));
  assert.ok(more[0]?.kind === 'error' && more[0].error.is(Errors.noSpace()));
  assert.equal(more[1]?.kind, 'ok');

  // A second copy applying the same log from scratch, in different batch sizes, ends equal.
  const dir2 = await tempDir(t);
  const c = await StoreStateMachine.open({ dir: dir2 });
  t.after(() => c.close());
  const all = entries(reqs, 1);
  for (let i = 0; i < all.length; i += 37) await c.applyBatch(all.slice(i, i + 37));
  assert.equal((await c.hashKV({})).hash, hashA.hash);
});

test('snapshot and restore: equal HashKV, leases and index; a damaged stream changes nothing', async (t) => {
  const src = await Harness.open(t);
  const reqs = randomRequests(5, 400);
  await src.sm.applyBatch(entries(reqs, 1));
  const snap = await src.sm.snapshot();
  assert.equal(snap.index, reqs.length);
  const chunks: Buffer[] = [];
  for await (const c of snap.chunks) chunks.push(c);
  assert.ok(chunks.length >= 3);

  const dst = await Harness.open(t);
  await dst.do({ put: { key: b('old'), value: b('state') } });
  const before = await dst.sm.hashKV({});
  // Truncated and corrupted streams are refused; the old state stays.
  await assert.rejects(dst.sm.restore(chunks.slice(0, -1)), /ended early/);
  const flipped = chunks.map((c) => Buffer.from(c));
  const mid = flipped[1] as Buffer;
  mid[mid.length - 1] = (mid[mid.length - 1] as number) ^ 1;
  await assert.rejects(dst.sm.restore(flipped), /checksum|undecodable|not bytes/);
  assert.deepEqual(await dst.sm.hashKV({}), before);
  assert.deepEqual((await readdir(dst.dir)).filter((f) => f.startsWith('db-')).length, 1);

  const got = await dst.sm.restore(chunks);
  assert.deepEqual(got, { index: reqs.length, term: 2 });
  assert.equal(dst.sm.appliedIndex, reqs.length);
  assert.deepEqual(await dst.sm.hashKV({}), await src.sm.hashKV({}));
  assert.deepEqual(await dst.sm.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) }), await src.sm.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) }));
  assert.deepEqual(dst.sm.leaseTimeToLive({ ID: 7n, keys: true }).keys, src.sm.leaseTimeToLive({ ID: 7n, keys: true }).keys);
  assert.equal(dst.sm.compactRevision, src.sm.compactRevision);
  // Both go on identically.
  const next = entries([{ put: { key: b('after'), value: b('1') } }, { leaseRevoke: { ID: 7n } }], reqs.length + 1);
  await src.sm.applyBatch(next);
  await dst.sm.applyBatch(next);
  assert.deepEqual(await dst.sm.hashKV({}), await src.sm.hashKV({}));
  // ...and the restored state survives a restart.
  dst.index = dst.sm.appliedIndex;
  await dst.reopen(t);
  assert.deepEqual(await dst.sm.hashKV({}), await src.sm.hashKV({}));
  assert.equal(dst.sm.appliedIndex, reqs.length + 2);
});

test('a crashed restore (a half-written folder) is discarded on open', async (t) => {
  const h = await Harness.open(t);
  await h.do({ put: { key: b('k'), value: b('v') } });
  await h.sm.close();
  await writeFile(join(h.dir, 'db-7'), 'junk');
  const sm = await StoreStateMachine.open({ dir: h.dir });
  t.after(() => sm.close());
  assert.equal((await sm.range({ key: b('k') })).kvs[0]?.value.toString(), 'v');
  assert.deepEqual((await readdir(h.dir)).sort(), ['CURRENT', 'db-1']);
});

test('leases through the log: grant limits, revoke deletes all keys in one revision', async (t) => {
  const h = await Harness.open(t, { lessor: { minTTL: 5 } });
  const g = await h.do({ leaseGrant: { ID: 100n, TTL: 1 } });
  assert.deepEqual([(g as { ID: bigint }).ID, (g as { TTL: number }).TTL], [100n, 5], 'TTL raised to the minimum');
  assert.ok(Errors.leaseExist().is(await h.fails({ leaseGrant: { ID: 100n, TTL: 10 } })));
  assert.ok(Errors.leaseTTLTooLarge().is(await h.fails({ leaseGrant: { ID: 101n, TTL: 9_000_000_001 } })));
  assert.ok(Errors.leaseNotFound().is(await h.fails({ leaseGrant: { ID: 0n, TTL: 10 } })));
  for (const k of ['c', 'a', 'b']) await h.do({ put: { key: b(k), value: b('v'), lease: 100n } });
  await h.do({ put: { key: b('other'), value: b('v') } });
  const rev = h.sm.currentRevision;
  const r = await h.do({ leaseRevoke: { ID: 100n } });
  assert.equal(r.header.revision, rev + 1);
  const evs = h.sm.kv.history.get(rev + 1)?.events.map((e) => `${e.type}:${e.kv.key.toString()}`);
  assert.deepEqual(evs, ['1:a', '1:b', '1:c'], 'keys deleted in byte order, one revision');
  assert.ok(Errors.leaseNotFound().is(await h.fails({ leaseRevoke: { ID: 100n } })));
  assert.equal(h.sm.leaseTimeToLive({ ID: 100n }).TTL, -1);
  // Revoking a lease without keys makes no revision.
  await h.do({ leaseGrant: { ID: 102n, TTL: 10 } });
  const r2 = await h.do({ leaseRevoke: { ID: 102n } });
  assert.equal(r2.header.revision, rev + 1);
  // Checkpoints are replicated state (survive a restart).
  await h.do({ leaseGrant: { ID: 103n, TTL: 100 } });
  await h.do({ leaseCheckpoint: { checkpoints: [{ ID: 103n, remainingTTL: 42 }, { ID: 999n, remainingTTL: 1 }] } });
  await h.reopen(t);
  assert.equal(h.sm.lessor.lookup(103n)?.remainingTTL, 42);
});
