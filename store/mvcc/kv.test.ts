import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errors } from '../api/errors.js';
import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type DeleteRangeResponse,
  type PutResponse,
  type RangeResponse,
  type TxnResponse,
} from '../api/types.js';
import { Harness, b, plain } from './test-kit.js';

const keys = (r: RangeResponse): string[] => r.kvs.map((kv) => kv.key.toString('latin1'));

test('revisions start at 1; the first write is revision 2; writes bump one revision each', async (t) => {
  const h = await Harness.open(t);
  const empty = await h.sm.range({ key: b('a') });
  assert.equal(empty.header.revision, 1);
  assert.deepEqual(empty.kvs, []);
  assert.equal(empty.count, 0);
  const p = await h.do<PutResponse>({ put: { key: b('foo'), value: b('bar') } });
  assert.equal(p.header.revision, 2);
  assert.equal(p.prevKv, undefined);
  const p2 = await h.do<PutResponse>({ put: { key: b('foo'), value: b('baz'), prevKv: true } });
  assert.equal(p2.header.revision, 3);
  assert.deepEqual(plain(p2.prevKv), { key: 'foo', value: 'bar', createRevision: 2, modRevision: 2, version: 1, lease: 0n });
  const r = await h.sm.range({ key: b('foo') });
  assert.deepEqual(r.kvs.map(plain), [{ key: 'foo', value: 'baz', createRevision: 2, modRevision: 3, version: 2, lease: 0n }]);
  // Deleting nothing does not make a revision.
  const d0 = await h.do<DeleteRangeResponse>({ deleteRange: { key: b('nope') } });
  assert.deepEqual([d0.deleted, d0.header.revision], [0, 3]);
  const d = await h.do<DeleteRangeResponse>({ deleteRange: { key: b('foo'), prevKv: true } });
  assert.deepEqual([d.deleted, d.header.revision], [1, 4]);
  assert.equal(d.prevKvs[0]?.value.toString(), 'baz');
  const again = await h.do<PutResponse>({ put: { key: b('foo'), value: b('x') } });
  const r2 = await h.sm.range({ key: b('foo') });
  assert.equal(again.header.revision, 5);
  assert.deepEqual([r2.kvs[0]?.createRevision, r2.kvs[0]?.version], [5, 1], 'a new generation starts at version 1');
  // Reading the past.
  const past = await h.sm.range({ key: b('foo'), revision: 3 });
  assert.equal(past.kvs[0]?.value.toString(), 'baz');
  assert.equal(past.header.revision, 5, 'the header carries the current revision');
  assert.deepEqual((await h.sm.range({ key: b('foo'), revision: 4 })).kvs, []);
  await assert.rejects(h.sm.range({ key: b('foo'), revision: 6 }), (e) => Errors.futureRev().is(e as never));
  await assert.rejects(h.sm.range({ key: b('') }), (e) => Errors.emptyKey().is(e as never));
});

test('range: prefix, from-key, limit/more/count, sort, filters, keysOnly, countOnly', async (t) => {
  const h = await Harness.open(t);
  for (const [k, v] of [['a', '3'], ['b/1', '1'], ['b/2', '2'], ['b/3', '2'], ['c', '0']]) {
    await h.do({ put: { key: b(k as string), value: b(v as string) } });
  }
  await h.do({ put: { key: b('b/1'), value: b('9') } }); // b/1 at version 2, mod 7
  const pre = await h.sm.range({ key: b('b/'), rangeEnd: b('b0') });
  assert.deepEqual(keys(pre), ['b/1', 'b/2', 'b/3']);
  assert.deepEqual([pre.count, pre.more], [3, false]);
  const lim = await h.sm.range({ key: b('b/'), rangeEnd: b('b0'), limit: 2 });
  assert.deepEqual([keys(lim), lim.count, lim.more], [['b/1', 'b/2'], 3, true]);
  const exact = await h.sm.range({ key: b('b/'), rangeEnd: b('b0'), limit: 3 });
  assert.deepEqual([exact.kvs.length, exact.more], [3, false]);
  const from = await h.sm.range({ key: b('b/2'), rangeEnd: Buffer.from([0]) });
  assert.deepEqual(keys(from), ['b/2', 'b/3', 'c']);
  const all = await h.sm.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });
  assert.deepEqual(keys(all), ['a', 'b/1', 'b/2', 'b/3', 'c']);
  const inverted = await h.sm.range({ key: b('c'), rangeEnd: b('a') });
  assert.deepEqual([inverted.kvs.length, inverted.count], [0, 0]);
  const desc = await h.sm.range({ key: b('a'), rangeEnd: b('z'), sortOrder: SortOrder.DESCEND });
  assert.deepEqual(keys(desc), ['c', 'b/3', 'b/2', 'b/1', 'a']);
  const byValue = await h.sm.range({ key: b('a'), rangeEnd: b('z'), sortTarget: SortTarget.VALUE });
  assert.deepEqual(keys(byValue), ['c', 'b/2', 'b/3', 'a', 'b/1'], 'a target other than KEY sorts ascending by default');
  const byMod = await h.sm.range({ key: b('a'), rangeEnd: b('z'), sortTarget: SortTarget.MOD, sortOrder: SortOrder.DESCEND, limit: 2 });
  assert.deepEqual([keys(byMod), byMod.more, byMod.count], [['b/1', 'c'], true, 5]);
  const byVersion = await h.sm.range({ key: b('a'), rangeEnd: b('z'), sortTarget: SortTarget.VERSION, sortOrder: SortOrder.DESCEND, limit: 1 });
  assert.deepEqual(keys(byVersion), ['b/1']);
  const filtered = await h.sm.range({ key: b('a'), rangeEnd: b('z'), minModRevision: 3, maxModRevision: 5, limit: 1 });
  assert.deepEqual([keys(filtered), filtered.more, filtered.count], [['b/2'], true, 5], 'count is before filtering');
  const filtered2 = await h.sm.range({ key: b('a'), rangeEnd: b('z'), minModRevision: 3, maxModRevision: 5, limit: 2 });
  assert.deepEqual([keys(filtered2), filtered2.more], [['b/2', 'b/3'], false]);
  const created = await h.sm.range({ key: b('a'), rangeEnd: b('z'), minCreateRevision: 4, maxCreateRevision: 5 });
  assert.deepEqual(keys(created), ['b/2', 'b/3']);
  const ko = await h.sm.range({ key: b('a'), rangeEnd: b('z'), keysOnly: true, limit: 1 });
  assert.deepEqual([ko.kvs[0]?.key.toString(), ko.kvs[0]?.value.length, ko.kvs[0]?.version], ['a', 0, 1]);
  const co = await h.sm.range({ key: b('a'), rangeEnd: b('z'), countOnly: true, limit: 1 });
  assert.deepEqual([co.kvs.length, co.count, co.more], [0, 5, false]);
  // Past revision through history (values no longer current).
  const at4 = await h.sm.range({ key: b('b/'), rangeEnd: b('b0'), revision: 4 });
  assert.deepEqual(at4.kvs.map((kv) => [kv.key.toString(), kv.value.toString(), kv.modRevision]), [
    ['b/1', '1', 3],
    ['b/2', '2', 4],
  ]);
});

test('put flags: ignore_value, ignore_lease, lease checks', async (t) => {
  const h = await Harness.open(t);
  assert.ok(Errors.keyNotFound().is(await h.fails({ put: { key: b('k'), ignoreValue: true } })));
  assert.ok(Errors.leaseNotFound().is(await h.fails({ put: { key: b('k'), value: b('v'), lease: 42n } })));
  assert.ok(Errors.valueProvided().is(await h.fails({ put: { key: b('k'), value: b('v'), ignoreValue: true } })));
  assert.ok(Errors.leaseProvided().is(await h.fails({ put: { key: b('k'), lease: 5n, ignoreLease: true } })));
  await h.do({ leaseGrant: { ID: 42n, TTL: 60 } });
  await h.do({ put: { key: b('k'), value: b('v1'), lease: 42n } });
  const r = await h.do<PutResponse>({ put: { key: b('k'), ignoreValue: true, prevKv: true, lease: 42n } });
  assert.equal(r.prevKv?.value.toString(), 'v1');
  const cur = await h.sm.range({ key: b('k') });
  assert.deepEqual([cur.kvs[0]?.value.toString(), cur.kvs[0]?.lease, cur.kvs[0]?.version], ['v1', 42n, 2]);
  await h.do({ put: { key: b('k'), value: b('v3'), ignoreLease: true } });
  assert.equal((await h.sm.range({ key: b('k') })).kvs[0]?.lease, 42n);
  await h.do({ put: { key: b('k'), value: b('v4') } }); // no lease: detached
  assert.deepEqual(h.sm.leaseTimeToLive({ ID: 42n, keys: true }).keys, []);
});

test('txn: compares, branches, nested txns, own writes, one revision with sub revisions', async (t) => {
  const h = await Harness.open(t);
  await h.do({ put: { key: b('a'), value: b('1') } }); // rev 2
  await h.do({ put: { key: b('b'), value: b('2') } }); // rev 3
  const cmp = async (c: object): Promise<boolean> =>
    (await h.sm.readTxn({ compare: [{ key: b('a'), ...c } as never], success: [], failure: [] })).succeeded;
  assert.equal(await cmp({ target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }), true);
  assert.equal(await cmp({ target: CompareTarget.VALUE, result: CompareResult.GREATER, value: b('0') }), true);
  assert.equal(await cmp({ target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 1 }), true);
  assert.equal(await cmp({ target: CompareTarget.CREATE, result: CompareResult.LESS, createRevision: 3 }), true);
  assert.equal(await cmp({ target: CompareTarget.MOD, result: CompareResult.NOT_EQUAL, modRevision: 2 }), false);
  assert.equal(await cmp({ target: CompareTarget.LEASE, result: CompareResult.EQUAL, lease: 0n }), true);
  const missing = { key: b('zz') };
  const c2 = async (c: object): Promise<boolean> =>
    (await h.sm.readTxn({ compare: [{ ...missing, ...c } as never], success: [], failure: [] })).succeeded;
  assert.equal(await c2({ target: CompareTarget.VALUE, result: CompareResult.NOT_EQUAL, value: b('x') }), false, 'value compare on a missing key fails');
  assert.equal(await c2({ target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 0 }), true);
  assert.equal(await c2({ target: CompareTarget.CREATE, result: CompareResult.EQUAL }), true);
  // range compare: every key in [a, c) must satisfy it
  assert.equal(await cmp({ rangeEnd: b('c'), target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 1 }), true);
  assert.equal(await cmp({ rangeEnd: b('c'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }), false);

  const resp = await h.do<TxnResponse>({
    txn: {
      compare: [{ key: b('a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }],
      success: [
        { requestRange: { key: b('a') } },
        { requestPut: { key: b('a'), value: b('10'), prevKv: true } },
        { requestRange: { key: b('a') } },
        { requestRange: { key: b('a'), revision: 3 } },
        { requestDeleteRange: { key: b('b'), prevKv: true } },
        {
          requestTxn: {
            // Nested compares see the state before the outer txn's writes.
            compare: [{ key: b('a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }],
            success: [{ requestPut: { key: b('n'), value: b('nested') } }],
            failure: [{ requestPut: { key: b('f'), value: b('no') } }],
          },
        },
        { requestDeleteRange: { key: b('nothing') } },
      ],
      failure: [],
    },
  });
  assert.equal(resp.succeeded, true);
  assert.equal(resp.header.revision, 4);
  const [r0, p1, r2, r3, d4, t5, d6] = resp.responses;
  assert.equal(r0?.responseRange?.header.revision, 3, 'before the first write: the txn start revision');
  assert.equal(r0?.responseRange?.kvs[0]?.value.toString(), '1');
  assert.equal(p1?.responsePut?.header.revision, 4);
  assert.equal(p1?.responsePut?.prevKv?.value.toString(), '1');
  assert.equal(r2?.responseRange?.kvs[0]?.value.toString(), '10', 'reads see the txn’s own writes');
  assert.equal(r2?.responseRange?.header.revision, 4);
  assert.equal(r3?.responseRange?.kvs[0]?.value.toString(), '1');
  assert.equal(r3?.responseRange?.header.revision, 4);
  assert.deepEqual([d4?.responseDeleteRange?.deleted, d4?.responseDeleteRange?.prevKvs[0]?.value.toString()], [1, '2']);
  assert.equal(t5?.responseTxn?.succeeded, true);
  assert.equal(t5?.responseTxn?.header.revision, 0, 'nested txn headers are empty, as etcd');
  assert.equal(t5?.responseTxn?.responses[0]?.responsePut?.header.revision, 4);
  assert.deepEqual([d6?.responseDeleteRange?.deleted, d6?.responseDeleteRange?.header.revision], [0, 4]);
  // Every write of the txn is at revision 4; sub revisions order them.
  const n = await h.sm.range({ key: b('n') });
  assert.deepEqual([n.kvs[0]?.modRevision, n.kvs[0]?.createRevision], [4, 4]);
  assert.equal(h.sm.currentRevision, 4);
  const events = h.sm.kv.history.get(4)?.events.map((e) => `${e.type}:${e.kv.key.toString()}`);
  assert.deepEqual(events, ['0:a', '1:b', '0:n']);

  // A txn that writes nothing does not make a revision.
  const ro = await h.do<TxnResponse>({
    txn: { compare: [{ key: b('a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('x') }], success: [], failure: [{ requestRange: { key: b('a') } }] },
  });
  assert.deepEqual([ro.succeeded, ro.header.revision, ro.responses[0]?.responseRange?.kvs.length], [false, 4, 1]);
  // Checks made before anything is applied.
  const err = await h.fails({ txn: { compare: [], success: [{ requestPut: { key: b('z'), value: b('1'), lease: 77n } }], failure: [] } });
  assert.ok(Errors.leaseNotFound().is(err));
  const fut = await h.fails({ txn: { compare: [], success: [{ requestRange: { key: b('a'), revision: 99 } }, { requestPut: { key: b('q') } }], failure: [] } });
  assert.ok(Errors.futureRev().is(fut));
  assert.equal(h.sm.currentRevision, 4);
});

test('txn validation: too many ops (shared with nested txns), duplicate keys, empty ops', async (t) => {
  const h = await Harness.open(t, { maxTxnOps: 4 });
  const put = (k: string): object => ({ requestPut: { key: b(k), value: b('v') } });
  const del = (k: string, end?: string): object => ({ requestDeleteRange: end === undefined ? { key: b(k) } : { key: b(k), rangeEnd: b(end) } });
  const txn = (success: object[], failure: object[] = []): object => ({ compare: [], success, failure });
  const is = async (tx: object, e: ReturnType<typeof Errors.duplicateKey>): Promise<void> => {
    assert.ok(e.is(await h.fails({ txn: tx as never })), JSON.stringify(tx));
  };
  await is(txn([put('a'), put('b'), put('c'), put('d'), put('e')]), Errors.tooManyOps());
  await is(txn([put('a'), put('b'), { requestTxn: txn([put('c'), put('d')]) }]), Errors.tooManyOps());
  await is(txn([put('a'), put('a')]), Errors.duplicateKey());
  await is(txn([del('a', 'c'), put('b')]), Errors.duplicateKey());
  await is(txn([put('b'), { requestTxn: txn([del('a', 'c')]) }]), Errors.duplicateKey());
  await is(txn([put('b'), { requestTxn: txn([put('b')]) }]), Errors.duplicateKey());
  await is(txn([{ requestTxn: txn([put('x')]) }, { requestTxn: txn([], [put('x')]) }]), Errors.duplicateKey());
  await is(txn([{}]), Errors.keyNotFound());
  await is(txn([put('')]), Errors.emptyKey());
  // Allowed: then/else of one nested txn may put the same key; deletes may overlap deletes.
  await h.do({ txn: txn([{ requestTxn: txn([put('x')], [put('x')]) }, del('a', 'c'), del('b')]) as never });
  // etcd 3.4 lets a from-key delete and a put of the same key through (adt affine intervals).
  await h.do({ put: { key: b('m'), value: b('old') } });
  const r = await h.do<TxnResponse>({ txn: txn([{ requestDeleteRange: { key: b('a'), rangeEnd: Buffer.from([0]) } }, put('m')]) as never });
  assert.equal(r.succeeded, true);
  const m = await h.sm.range({ key: b('m') });
  assert.deepEqual([m.kvs[0]?.version, m.kvs[0]?.createRevision], [1, r.header.revision]);
});

test('compaction: errors, reads, physical deletion of superseded revisions', async (t) => {
  const h = await Harness.open(t);
  assert.ok(Errors.futureRev().is(await h.fails({ compaction: { revision: 2 } })));
  await h.do({ put: { key: b('a'), value: b('1') } }); // 2
  await h.do({ put: { key: b('a'), value: b('2') } }); // 3
  await h.do({ put: { key: b('b'), value: b('1') } }); // 4
  await h.do({ deleteRange: { key: b('b') } }); // 5
  await h.do({ put: { key: b('a'), value: b('3') } }); // 6
  const c = await h.do({ compaction: { revision: 4 } });
  assert.equal(c.header.revision, 6);
  assert.equal(h.sm.compactRevision, 4);
  assert.ok(Errors.compacted().is(await h.fails({ compaction: { revision: 4 } })));
  assert.ok(Errors.compacted().is(await h.fails({ compaction: { revision: 3 } })));
  await assert.rejects(h.sm.range({ key: b('a'), revision: 3 }), (e) => Errors.compacted().is(e as never));
  const at4 = await h.sm.range({ key: b('a'), rangeEnd: b('c'), revision: 4 });
  assert.deepEqual(at4.kvs.map((kv) => `${kv.key}=${kv.value}`), ['a=2', 'b=1'], 'the compaction revision itself is readable');
  await h.sm.persist();
  // On disk: a@3 (visible at 4), b@4, b's tombstone@5, a@6; a@2 is gone.
  const revs: string[] = [];
  for await (const k of h.sm.kv.backend.db.keys({ gte: Buffer.from('k'), lt: Buffer.from('l') })) {
    revs.push(`${k.readUInt32BE(5)}${k.length === 19 ? 't' : ''}`);
  }
  assert.deepEqual(revs, ['3', '4', '5t', '6']);
  await h.do({ compaction: { revision: 5 } });
  await h.sm.persist();
  const after: string[] = [];
  for await (const k of h.sm.kv.backend.db.keys({ gte: Buffer.from('k'), lt: Buffer.from('l') })) after.push(`${k.readUInt32BE(5)}`);
  assert.deepEqual(after, ['3', '6'], 'a deleted key disappears entirely');
  assert.equal(h.sm.kv.index.get('b'), undefined);
  assert.equal(h.sm.kv.index.size, 1);
});

test('HashKV equals etcd 3.4 for the same history (values observed on etcd 3.4.23)', async (t) => {
  const h = await Harness.open(t);
  assert.deepEqual(await h.sm.hashKV({}), { header: { clusterId: 0n, memberId: 0n, revision: 1, raftTerm: 0 }, hash: 1084519789, compactRevision: -1 });
  await h.do({ put: { key: b('foo'), value: b('bar') } });
  assert.equal((await h.sm.hashKV({})).hash, 3305255506);
  await h.do({ put: { key: b('foo'), value: b('baz') } });
  await h.do({ deleteRange: { key: b('foo') } });
  await h.do({ put: { key: b('a'), value: b('1') } });
  await h.do({ put: { key: b('b'), value: b('2') } });
  await h.do({ put: { key: b('a'), value: b('3') } });
  assert.equal((await h.sm.hashKV({})).hash, 3283506540);
  assert.equal((await h.sm.hashKV({ revision: 5 })).hash, 1967179850);
  await h.do({ compaction: { revision: 4 } });
  assert.deepEqual([(await h.sm.hashKV({})).hash, (await h.sm.hashKV({})).compactRevision], [2658151140, 4]);
  assert.equal((await h.sm.hashKV({ revision: 5 })).hash, 2007788419);
  await assert.rejects(h.sm.hashKV({ revision: 4 }), (e) => Errors.compacted().is(e as never));
  await assert.rejects(h.sm.hashKV({ revision: 9 }), (e) => Errors.futureRev().is(e as never));
  await h.do({ leaseGrant: { ID: 0x390da207aab3de0cn, TTL: 100 } });
  await h.do({ put: { key: b('l'), value: b('v'), lease: 0x390da207aab3de0cn } });
  assert.equal((await h.sm.hashKV({})).hash, 4220754105);
});

test('ranges at old revisions read level, inside write and read-only txns too, at one consistent revision', async (t) => {
  const h = await Harness.open(t, { history: { maxEvents: 2, maxBytes: 1 << 20 } });
  for (let i = 0; i < 20; i++) await h.do({ put: { key: b(`k${i % 3}`), value: b(`v${i}`) } });
  await h.sm.persist();
  assert.equal(h.sm.kv.history.get(3), undefined, 'revision 3 is only on disk');
  const old = { requestRange: { key: b('k'), rangeEnd: b('l'), revision: 4 } };
  const ro = await h.sm.readTxn({ compare: [], success: [old, { requestRange: { key: b('k0') } }], failure: [] });
  assert.deepEqual(ro.responses[0]?.responseRange?.kvs.map((kv) => kv.value.toString()), ['v0', 'v1', 'v2']);
  assert.equal(ro.responses[1]?.responseRange?.kvs[0]?.value.toString(), 'v18');
  assert.deepEqual([ro.header.revision, ro.responses[0]?.responseRange?.header.revision], [21, 21]);
  const w = await h.do<TxnResponse>({ txn: { compare: [], success: [{ requestPut: { key: b('k0'), value: b('new') } }, old], failure: [] } });
  assert.deepEqual(w.responses[1]?.responseRange?.kvs.map((kv) => kv.value.toString()), ['v0', 'v1', 'v2']);
  assert.equal(w.responses[1]?.responseRange?.header.revision, 22);
  assert.deepEqual((await h.sm.range({ key: b('k1'), revision: 5 })).kvs.map((kv) => kv.value.toString()), ['v1']);
  await h.do({ compaction: { revision: 10 } });
  await assert.rejects(h.sm.readTxn({ compare: [], success: [old], failure: [] }), (e) => Errors.compacted().is(e as never));
});
