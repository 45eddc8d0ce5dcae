// etcd 3.4's KV/Watch/Lease semantics as a node:test suite over the `KV` interface. It runs
// against a real etcd 3.4 through RemoteKV (kv-remote.test.ts), and is meant to run unchanged
// against keelson (in-process KV and its gRPC server): every assertion is etcd 3.4's observed
// behaviour (see /work/notes/etcd-behaviour.md), not our guess. Each test works under its own key
// prefix, so tests share one store; tests run in order.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdError, Errors, GrpcCode } from './api/errors.js';
import {
  CompareResult,
  CompareTarget,
  EventType,
  SortOrder,
  SortTarget,
  WatchFilterType,
  type Compare,
  type RangeResponse,
  type RequestOp,
} from './api/types.js';
import type { KV } from './kv.js';
import { b, prefixEnd, recordWatch, rejectsWith } from './kv-test-support.js';

export interface ConformanceTarget {
  kv: KV;
  cleanup(): Promise<void>;
}

const keys = (r: RangeResponse): string[] => r.kvs.map((kv) => kv.key.toString());
const vals = (r: RangeResponse): string[] => r.kvs.map((kv) => kv.value.toString());

export function describeKVConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(name, () => {
    let target: ConformanceTarget;
    let kv: KV;
    let n = 0;
    /** A fresh key prefix for one test. */
    const fresh = (what: string): string => `/conf/${++n}-${what}/`;
    const putAll = async (prefix: string, names: string[]): Promise<number[]> => {
      const revs: number[] = [];
      for (const k of names) revs.push((await kv.put({ key: b(prefix + k), value: b(`v-${k}`) })).header.revision);
      return revs;
    };
    const prefixRange = (prefix: string) => ({ key: b(prefix), rangeEnd: prefixEnd(b(prefix)) });

    before(async () => {
      target = await setup();
      kv = target.kv;
    });
    after(async () => {
      await target?.cleanup();
    });

    describe('Range', () => {
      test('single key, prefix, from-key, and the response header', async () => {
        const p = fresh('range');
        const revs = await putAll(p, ['a', 'b', 'c', 'd', 'e']);
        const one = await kv.range({ key: b(p + 'c') });
        assert.deepEqual(one.kvs, [
          { key: b(p + 'c'), createRevision: revs[2], modRevision: revs[2], version: 1, value: b('v-c'), lease: 0n },
        ]);
        assert.equal(one.count, 1);
        assert.equal(one.more, false);
        assert.equal(one.header.revision, revs[4]);
        assert.notEqual(one.header.clusterId, 0n);
        assert.notEqual(one.header.memberId, 0n);
        assert.ok(one.header.raftTerm > 0);

        const all = await kv.range(prefixRange(p));
        assert.deepEqual(keys(all), ['a', 'b', 'c', 'd', 'e'].map((k) => p + k));
        assert.equal(all.count, 5);

        const missing = await kv.range({ key: b(p + 'zz') });
        assert.deepEqual(missing.kvs, []);
        assert.equal(missing.count, 0);

        // [key, rangeEnd) with rangeEnd below key is simply empty, not an error.
        const backwards = await kv.range({ key: b(p + 'd'), rangeEnd: b(p + 'a') });
        assert.equal(backwards.count, 0);

        // serializable reads see the same data on a single member.
        assert.deepEqual((await kv.range({ key: b(p + 'c'), serializable: true })).kvs, one.kvs);
      });

      test('from-key ("\\0" range end) returns every key >= key', async () => {
        // Under 0xfe so that no other test's key sorts after these.
        const p = '\xfe-fromkey/';
        await putAll(p, ['a', 'b', 'c']);
        const r = await kv.range({ key: b(p + 'b'), rangeEnd: Buffer.from([0]) });
        assert.deepEqual(keys(r), [p + 'b', p + 'c']);
        assert.equal(r.count, 2);
      });

      test('limit sets more; count is the whole range', async () => {
        const p = fresh('limit');
        await putAll(p, ['a', 'b', 'c', 'd', 'e']);
        const two = await kv.range({ ...prefixRange(p), limit: 2 });
        assert.deepEqual(keys(two), [p + 'a', p + 'b']);
        assert.equal(two.more, true);
        assert.equal(two.count, 5);
        const exact = await kv.range({ ...prefixRange(p), limit: 5 });
        assert.equal(exact.kvs.length, 5);
        assert.equal(exact.more, false);
        const over = await kv.range({ ...prefixRange(p), limit: 50 });
        assert.equal(over.more, false);
        const none = await kv.range({ ...prefixRange(p), limit: 0 });
        assert.equal(none.kvs.length, 5);
      });

      test('sort order and target (a non-KEY target without order sorts ascending)', async () => {
        const p = fresh('sort');
        await putAll(p, ['a', 'b', 'c']);
        await kv.put({ key: b(p + 'a'), value: b('z-last') }); // a: newest mod, version 2, largest value
        const desc = await kv.range({ ...prefixRange(p), sortOrder: SortOrder.DESCEND });
        assert.deepEqual(keys(desc), [p + 'c', p + 'b', p + 'a']);
        const byMod = await kv.range({ ...prefixRange(p), sortTarget: SortTarget.MOD, sortOrder: SortOrder.ASCEND });
        assert.deepEqual(keys(byMod), [p + 'b', p + 'c', p + 'a']);
        const byModNoOrder = await kv.range({ ...prefixRange(p), sortTarget: SortTarget.MOD });
        assert.deepEqual(keys(byModNoOrder), [p + 'b', p + 'c', p + 'a']);
        const byCreateDesc = await kv.range({ ...prefixRange(p), sortTarget: SortTarget.CREATE, sortOrder: SortOrder.DESCEND });
        assert.deepEqual(keys(byCreateDesc), [p + 'c', p + 'b', p + 'a']);
        const byVersionDesc = await kv.range({ ...prefixRange(p), sortTarget: SortTarget.VERSION, sortOrder: SortOrder.DESCEND, limit: 1 });
        assert.deepEqual(keys(byVersionDesc), [p + 'a']);
        assert.equal(byVersionDesc.more, true);
        const byValueDesc = await kv.range({ ...prefixRange(p), sortTarget: SortTarget.VALUE, sortOrder: SortOrder.DESCEND });
        assert.deepEqual(vals(byValueDesc), ['z-last', 'v-c', 'v-b']);
      });

      test('at a past revision', async () => {
        const p = fresh('rev');
        const [r1] = await putAll(p, ['a']);
        await kv.put({ key: b(p + 'a'), value: b('second') });
        await kv.put({ key: b(p + 'b'), value: b('later') });
        const past = await kv.range({ ...prefixRange(p), revision: r1! });
        assert.deepEqual(vals(past), ['v-a']);
        assert.equal(past.count, 1);
        // The header still carries the current revision.
        const now = await kv.range({ key: b(p + 'a') });
        assert.equal(past.header.revision, now.header.revision);
        assert.deepEqual(vals(now), ['second']);
        assert.deepEqual(vals(await kv.range({ key: b(p + 'a'), revision: -1 })), ['second']);
      });

      test('keysOnly and countOnly', async () => {
        const p = fresh('only');
        const revs = await putAll(p, ['a', 'b', 'c']);
        const ko = await kv.range({ ...prefixRange(p), keysOnly: true, limit: 2 });
        assert.deepEqual(ko.kvs[0], { key: b(p + 'a'), createRevision: revs[0], modRevision: revs[0], version: 1, value: b(''), lease: 0n });
        assert.equal(ko.more, true);
        assert.equal(ko.count, 3);
        const co = await kv.range({ ...prefixRange(p), countOnly: true, limit: 1 });
        assert.deepEqual(co.kvs, []);
        assert.equal(co.count, 3);
        assert.equal(co.more, false);
      });

      test('min/max mod/create revision filters: count is unfiltered, more is after filtering', async () => {
        const p = fresh('filter');
        const [ra, rb, rc, rd] = await putAll(p, ['a', 'b', 'c', 'd']);
        const rb2 = (await kv.put({ key: b(p + 'b'), value: b('b2') })).header.revision;
        const minMod = await kv.range({ ...prefixRange(p), minModRevision: rc! });
        assert.deepEqual(keys(minMod), [p + 'b', p + 'c', p + 'd']);
        assert.equal(minMod.count, 4);
        const maxMod = await kv.range({ ...prefixRange(p), maxModRevision: rc! });
        assert.deepEqual(keys(maxMod), [p + 'a', p + 'c']);
        const minCreate = await kv.range({ ...prefixRange(p), minCreateRevision: rb! });
        assert.deepEqual(keys(minCreate), [p + 'b', p + 'c', p + 'd']);
        const maxCreate = await kv.range({ ...prefixRange(p), maxCreateRevision: rb! });
        assert.deepEqual(keys(maxCreate), [p + 'a', p + 'b']);
        const both = await kv.range({ ...prefixRange(p), minModRevision: rd!, maxModRevision: rb2, limit: 1 });
        assert.deepEqual(keys(both), [p + 'b']);
        assert.equal(both.more, true);
        assert.equal(both.count, 4);
        const filteredOut = await kv.range({ ...prefixRange(p), minCreateRevision: rd! + 100 });
        assert.deepEqual(filteredOut.kvs, []);
        assert.equal(filteredOut.more, false);
        assert.equal(filteredOut.count, 4);
        assert.ok(ra! > 0);
      });

      test('errors: empty key, compacted and future revision', async () => {
        await rejectsWith(kv.range({ key: b('') }), Errors.emptyKey());
        const rev = (await kv.range({ key: b('/conf/any') })).header.revision;
        await rejectsWith(kv.range({ key: b('/conf/any'), revision: rev + 1000 }), Errors.futureRev());
      });
    });

    describe('Put', () => {
      test('prevKv, versions and revisions', async () => {
        const p = fresh('put');
        const first = await kv.put({ key: b(p + 'k'), value: b('1'), prevKv: true });
        assert.equal(first.prevKv, undefined);
        const second = await kv.put({ key: b(p + 'k'), value: b('2'), prevKv: true });
        assert.equal(second.header.revision, first.header.revision + 1);
        assert.deepEqual(second.prevKv, {
          key: b(p + 'k'),
          createRevision: first.header.revision,
          modRevision: first.header.revision,
          version: 1,
          value: b('1'),
          lease: 0n,
        });
        const noPrev = await kv.put({ key: b(p + 'k'), value: b('3') });
        assert.equal(noPrev.prevKv, undefined);
        const got = (await kv.range({ key: b(p + 'k') })).kvs[0]!;
        assert.equal(got.version, 3);
        assert.equal(got.createRevision, first.header.revision);
        assert.equal(got.modRevision, noPrev.header.revision);
        // An empty value is a value.
        await kv.put({ key: b(p + 'empty'), value: b('') });
        assert.equal((await kv.range({ key: b(p + 'empty') })).count, 1);
      });

      test('lease, ignoreValue and ignoreLease', async () => {
        const p = fresh('ignore');
        const lease = await kv.leaseGrant({ TTL: 60 });
        await kv.put({ key: b(p + 'k'), value: b('orig'), lease: lease.ID });
        let got = (await kv.range({ key: b(p + 'k') })).kvs[0]!;
        assert.equal(got.lease, lease.ID);
        // ignoreValue: new lease, old value.
        const other = await kv.leaseGrant({ TTL: 60 });
        await kv.put({ key: b(p + 'k'), ignoreValue: true, lease: other.ID });
        got = (await kv.range({ key: b(p + 'k') })).kvs[0]!;
        assert.equal(got.value.toString(), 'orig');
        assert.equal(got.lease, other.ID);
        // ignoreLease: new value, old lease.
        await kv.put({ key: b(p + 'k'), value: b('new'), ignoreLease: true });
        got = (await kv.range({ key: b(p + 'k') })).kvs[0]!;
        assert.equal(got.value.toString(), 'new');
        assert.equal(got.lease, other.ID);
        // A plain put detaches the lease.
        await kv.put({ key: b(p + 'k'), value: b('plain') });
        assert.equal((await kv.range({ key: b(p + 'k') })).kvs[0]!.lease, 0n);
        const ttl = await kv.leaseTimeToLive({ ID: other.ID, keys: true });
        assert.deepEqual(ttl.keys, []);
        await kv.leaseRevoke(lease.ID);
        await kv.leaseRevoke(other.ID);
      });

      test('errors', async () => {
        const p = fresh('puterr');
        await rejectsWith(kv.put({ key: b(''), value: b('x') }), Errors.emptyKey());
        await rejectsWith(kv.put({ key: b(p + 'missing'), ignoreValue: true }), Errors.keyNotFound());
        await rejectsWith(kv.put({ key: b(p + 'missing'), ignoreLease: true, value: b('x') }), Errors.keyNotFound());
        await kv.put({ key: b(p + 'k'), value: b('x') });
        await rejectsWith(kv.put({ key: b(p + 'k'), ignoreValue: true, value: b('y') }), Errors.valueProvided());
        await rejectsWith(kv.put({ key: b(p + 'k'), ignoreLease: true, lease: 5n }), Errors.leaseProvided());
        await rejectsWith(kv.put({ key: b(p + 'k'), value: b('y'), lease: 0x1234_5678n }), Errors.leaseNotFound());
      });
    });

    describe('DeleteRange', () => {
      test('single key and prefix, with and without prevKv', async () => {
        const p = fresh('del');
        const revs = await putAll(p, ['a', 'b', 'c']);
        const one = await kv.deleteRange({ key: b(p + 'a') });
        assert.equal(one.deleted, 1);
        assert.deepEqual(one.prevKvs, []);
        assert.equal(one.header.revision, revs[2]! + 1);
        const rest = await kv.deleteRange({ ...prefixRange(p), prevKv: true });
        assert.equal(rest.deleted, 2);
        assert.equal(rest.header.revision, one.header.revision + 1);
        assert.deepEqual(rest.prevKvs.map((x) => [x.key.toString(), x.value.toString(), x.modRevision]), [
          [p + 'b', 'v-b', revs[1]],
          [p + 'c', 'v-c', revs[2]],
        ]);
        // Deleting nothing does not create a revision.
        const nothing = await kv.deleteRange({ ...prefixRange(p), prevKv: true });
        assert.equal(nothing.deleted, 0);
        assert.equal(nothing.header.revision, rest.header.revision);
        await rejectsWith(kv.deleteRange({ key: b('') }), Errors.emptyKey());
        // A re-created key starts again at version 1 with a new create revision.
        const again = await kv.put({ key: b(p + 'a'), value: b('again') });
        const got = (await kv.range({ key: b(p + 'a') })).kvs[0]!;
        assert.equal(got.version, 1);
        assert.equal(got.createRevision, again.header.revision);
      });
    });

    describe('Txn', () => {
      test('every compare target with every result', async () => {
        const p = fresh('cmp');
        const lease = await kv.leaseGrant({ TTL: 60 });
        const created = (await kv.put({ key: b(p + 'k'), value: b('m') })).header.revision;
        const modded = (await kv.put({ key: b(p + 'k'), value: b('m'), lease: lease.ID })).header.revision;
        // key: version 2, create `created`, mod `modded`, value "m", lease lease.ID
        const base = (target: CompareTarget, result: CompareResult, v: Partial<Compare>): Compare => ({
          key: b(p + 'k'),
          target,
          result,
          ...v,
        });
        const cases: [CompareTarget, (x: number) => Partial<Compare>, number][] = [
          [CompareTarget.VERSION, (x) => ({ version: x }), 2],
          [CompareTarget.CREATE, (x) => ({ createRevision: x }), created],
          [CompareTarget.MOD, (x) => ({ modRevision: x }), modded],
        ];
        for (const [target, field, actual] of cases) {
          const expect: [CompareResult, number, boolean][] = [
            [CompareResult.EQUAL, actual, true],
            [CompareResult.EQUAL, actual + 1, false],
            [CompareResult.NOT_EQUAL, actual, false],
            [CompareResult.NOT_EQUAL, actual - 1, true],
            [CompareResult.GREATER, actual - 1, true],
            [CompareResult.GREATER, actual, false],
            [CompareResult.LESS, actual + 1, true],
            [CompareResult.LESS, actual, false],
          ];
          for (const [result, x, ok] of expect) {
            const r = await kv.txn({ compare: [base(target, result, field(x))], success: [], failure: [] });
            assert.equal(r.succeeded, ok, `target ${CompareTarget[target]} ${CompareResult[result]} ${x} (actual ${actual})`);
          }
        }
        const valueCases: [CompareResult, string, boolean][] = [
          [CompareResult.EQUAL, 'm', true],
          [CompareResult.EQUAL, 'n', false],
          [CompareResult.NOT_EQUAL, 'n', true],
          [CompareResult.GREATER, 'l', true],
          [CompareResult.GREATER, 'm', false],
          [CompareResult.LESS, 'mm', true],
          [CompareResult.LESS, 'a', false],
        ];
        for (const [result, value, ok] of valueCases) {
          const r = await kv.txn({ compare: [base(CompareTarget.VALUE, result, { value: b(value) })], success: [], failure: [] });
          assert.equal(r.succeeded, ok, `VALUE ${CompareResult[result]} ${value}`);
        }
        const leaseCases: [CompareResult, bigint, boolean][] = [
          [CompareResult.EQUAL, lease.ID, true],
          [CompareResult.EQUAL, 0n, false],
          [CompareResult.NOT_EQUAL, 0n, true],
          [CompareResult.GREATER, lease.ID - 1n, true],
          [CompareResult.LESS, lease.ID, false],
        ];
        for (const [result, l, ok] of leaseCases) {
          const r = await kv.txn({ compare: [base(CompareTarget.LEASE, result, { lease: l })], success: [], failure: [] });
          assert.equal(r.succeeded, ok, `LEASE ${CompareResult[result]} ${l}`);
        }
        // A missing key compares as an all-zero key, except that a VALUE compare always fails.
        const missing = (target: CompareTarget, result: CompareResult, v: Partial<Compare>) =>
          kv.txn({ compare: [{ key: b(p + 'nope'), target, result, ...v }], success: [], failure: [] });
        assert.equal((await missing(CompareTarget.VERSION, CompareResult.EQUAL, { version: 0 })).succeeded, true);
        assert.equal((await missing(CompareTarget.MOD, CompareResult.LESS, { modRevision: 1 })).succeeded, true);
        assert.equal((await missing(CompareTarget.VALUE, CompareResult.NOT_EQUAL, { value: b('x') })).succeeded, false);
        assert.equal((await missing(CompareTarget.VALUE, CompareResult.EQUAL, { value: b('') })).succeeded, false);
        // All compares must hold.
        const two = await kv.txn({
          compare: [base(CompareTarget.VERSION, CompareResult.EQUAL, { version: 2 }), base(CompareTarget.VALUE, CompareResult.EQUAL, { value: b('x') })],
          success: [],
          failure: [],
        });
        assert.equal(two.succeeded, false);
        await kv.leaseRevoke(lease.ID);
      });

      test('compare over a range (rangeEnd) must hold for every key in it', async () => {
        const p = fresh('cmprange');
        await putAll(p, ['a', 'b']);
        await kv.put({ key: b(p + 'b'), value: b('b2') });
        const r = (result: CompareResult, version: number) =>
          kv.txn({ compare: [{ ...prefixRange(p), target: CompareTarget.VERSION, result, version }], success: [], failure: [] });
        assert.equal((await r(CompareResult.GREATER, 0)).succeeded, true);
        assert.equal((await r(CompareResult.EQUAL, 1)).succeeded, false);
        assert.equal((await r(CompareResult.LESS, 3)).succeeded, true);
      });

      test('branches, every op kind, nested txn, and the sub-response headers', async () => {
        const p = fresh('txn');
        const ra = (await kv.put({ key: b(p + 'a'), value: b('1') })).header.revision;
        await kv.put({ key: b(p + 'c'), value: b('3') });
        const r0 = ra + 1; // the revision the txn starts from
        const ops: RequestOp[] = [
          { requestRange: { key: b(p + 'a') } },
          { requestPut: { key: b(p + 'a'), value: b('2'), prevKv: true } },
          { requestDeleteRange: { key: b(p + 'c'), prevKv: true } },
          // Nested compares are evaluated with the outer ones, before any op runs: a sees "1".
          {
            requestTxn: {
              compare: [{ key: b(p + 'a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }],
              success: [{ requestRange: { ...prefixRange(p) } }],
              failure: [],
            },
          },
          {
            requestTxn: {
              compare: [{ key: b(p + 'a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('2') }],
              success: [],
              failure: [{ requestRange: { key: b(p + 'a') } }],
            },
          },
        ];
        const res = await kv.txn({
          compare: [{ key: b(p + 'a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }],
          success: ops,
          failure: [],
        });
        assert.equal(res.succeeded, true);
        assert.equal(res.header.revision, r0 + 1);
        assert.equal(res.responses.length, 5);
        const [rr, rp, rd, rt, rt2] = res.responses;
        // Sub-responses carry only a revision in their header (cluster/member/term are 0); a range
        // before any write of the txn sees the txn's start revision, writes the new revision.
        assert.deepEqual(rr!.responseRange!.header, { clusterId: 0n, memberId: 0n, revision: r0, raftTerm: 0 });
        assert.deepEqual(vals(rr!.responseRange!), ['1']);
        assert.deepEqual(rp!.responsePut!.header, { clusterId: 0n, memberId: 0n, revision: r0 + 1, raftTerm: 0 });
        assert.equal(rp!.responsePut!.prevKv!.value.toString(), '1');
        assert.equal(rd!.responseDeleteRange!.deleted, 1);
        assert.equal(rd!.responseDeleteRange!.header.revision, r0 + 1);
        assert.equal(rd!.responseDeleteRange!.prevKvs[0]!.value.toString(), '3');
        // A nested txn's own header is all zero; its ops (unlike its compares) see the outer writes.
        const nested = rt!.responseTxn!;
        assert.deepEqual(nested.header, { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 });
        assert.equal(nested.succeeded, true);
        assert.deepEqual(keys(nested.responses[0]!.responseRange!), [p + 'a']);
        assert.equal(nested.responses[0]!.responseRange!.header.revision, r0 + 1);
        const nested2 = rt2!.responseTxn!;
        assert.equal(nested2.succeeded, false);
        assert.deepEqual(vals(nested2.responses[0]!.responseRange!), ['2']);
        // Every op of one txn has the same mod revision.
        const a = (await kv.range({ key: b(p + 'a') })).kvs[0]!;
        assert.equal(a.modRevision, r0 + 1);

        const failed = await kv.txn({
          compare: [{ key: b(p + 'a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b('1') }],
          success: [{ requestPut: { key: b(p + 'x'), value: b('no') } }],
          failure: [{ requestRange: { key: b(p + 'a') } }],
        });
        assert.equal(failed.succeeded, false);
        assert.equal(failed.header.revision, r0 + 1); // a read-only branch creates no revision
        assert.deepEqual(vals(failed.responses[0]!.responseRange!), ['2']);
        assert.equal((await kv.range({ key: b(p + 'x') })).count, 0);

        const empty = await kv.txn({ compare: [], success: [], failure: [] });
        assert.equal(empty.succeeded, true);
        assert.deepEqual(empty.responses, []);
      });

      test('limits and errors: too many ops, duplicate keys, lease, revisions', async () => {
        const p = fresh('txnerr');
        const puts = (count: number, prefix = p): RequestOp[] =>
          Array.from({ length: count }, (_, i) => ({ requestPut: { key: b(`${prefix}${i}`), value: b('x') } }));
        await rejectsWith(kv.txn({ compare: [], success: puts(129), failure: [] }), Errors.tooManyOps());
        await rejectsWith(kv.txn({ compare: [], success: [], failure: puts(129) }), Errors.tooManyOps());
        // The limit is per list: 128 + 128 is fine.
        const ok = await kv.txn({ compare: [], success: puts(128), failure: puts(128) });
        assert.equal(ok.responses.length, 128);
        const dup: RequestOp = { requestPut: { key: b(p + 'd'), value: b('1') } };
        await rejectsWith(kv.txn({ compare: [], success: [dup, dup], failure: [] }), Errors.duplicateKey());
        await rejectsWith(
          kv.txn({ compare: [], success: [{ requestDeleteRange: prefixRange(p) }, dup], failure: [] }),
          Errors.duplicateKey(),
        );
        await rejectsWith(
          kv.txn({ compare: [], success: [dup, { requestTxn: { compare: [], success: [dup], failure: [] } }], failure: [] }),
          Errors.duplicateKey(),
        );
        // Same key in both branches, or read and written in one branch, is allowed.
        assert.equal((await kv.txn({ compare: [], success: [dup], failure: [dup] })).succeeded, true);
        assert.equal((await kv.txn({ compare: [], success: [{ requestRange: { key: b(p + 'd') } }, dup], failure: [] })).responses.length, 2);
        await rejectsWith(
          kv.txn({ compare: [], success: [{ requestPut: { key: b(p + 'l'), value: b('1'), lease: 0x7777_1234n } }], failure: [] }),
          Errors.leaseNotFound(),
        );
        const rev = ok.header.revision;
        await rejectsWith(kv.txn({ compare: [], success: [{ requestRange: { key: b(p + 'd'), revision: rev + 1000 } }], failure: [] }), Errors.futureRev());
      });
    });

    describe('Watch', () => {
      test('from a past revision: every event in order, DELETE events, prevKv', async () => {
        const p = fresh('watch');
        const r1 = (await kv.put({ key: b(p + 'a'), value: b('1') })).header.revision;
        await kv.put({ key: b(p + 'a'), value: b('2') });
        const rDel = (await kv.deleteRange({ key: b(p + 'a') })).header.revision;
        const w = recordWatch(kv, { key: b(p + 'a'), startRevision: r1, prevKv: true });
        await w.handle.created;
        const evs = await w.waitEvents(3);
        assert.deepEqual(evs.map((e) => [e.type, e.kv.modRevision, e.kv.value.toString()]), [
          [EventType.PUT, r1, '1'],
          [EventType.PUT, r1 + 1, '2'],
          [EventType.DELETE, rDel, ''],
        ]);
        assert.equal(evs[0]!.prevKv, undefined); // created at r1: nothing before
        assert.equal(evs[1]!.prevKv!.value.toString(), '1');
        // A DELETE event's kv is the key and the deletion revision; everything else is zero.
        assert.deepEqual(evs[2]!.kv, { key: b(p + 'a'), createRevision: 0, modRevision: rDel, version: 0, value: b(''), lease: 0n });
        assert.equal(evs[2]!.prevKv!.value.toString(), '2');
        for (const r of w.responses) assert.equal(r.watchId, await w.handle.created);
        // New events after the history.
        const r4 = (await kv.put({ key: b(p + 'a'), value: b('3') })).header.revision;
        const more = await w.waitEvents(4);
        assert.equal(more[3]!.kv.modRevision, r4);
        assert.equal(more[3]!.kv.version, 1);
        w.handle.cancel();
        assert.equal(await w.closed, undefined);
      });

      test('prefix watch from now, event batches per revision, header revision', async () => {
        const p = fresh('wprefix');
        const w = recordWatch(kv, prefixRange(p));
        await w.handle.created;
        const t = await kv.txn({
          compare: [],
          success: [{ requestPut: { key: b(p + 'x'), value: b('1') } }, { requestPut: { key: b(p + 'y'), value: b('2') } }],
          failure: [],
        });
        await kv.put({ key: b(p + 'z'), value: b('3') });
        await kv.put({ key: b(p.slice(0, -1) + '0'), value: b('outside') });
        const evs = await w.waitEvents(3);
        assert.deepEqual(evs.map((e) => e.kv.key.toString()), [p + 'x', p + 'y', p + 'z']);
        // Both events of the txn come in one response, whose header revision is theirs.
        const first = w.responses.find((r) => r.events.length > 0)!;
        assert.equal(first.events.length, 2);
        assert.equal(first.header.revision, t.header.revision);
        assert.equal(first.events[0]!.kv.modRevision, t.header.revision);
        w.handle.cancel();
        await w.closed;
      });

      test('filters NOPUT and NODELETE', async () => {
        const p = fresh('wfilter');
        const noPut = recordWatch(kv, { ...prefixRange(p), filters: [WatchFilterType.NOPUT] });
        const noDel = recordWatch(kv, { ...prefixRange(p), filters: [WatchFilterType.NODELETE] });
        await Promise.all([noPut.handle.created, noDel.handle.created]);
        await kv.put({ key: b(p + 'a'), value: b('1') });
        await kv.deleteRange({ key: b(p + 'a') });
        await kv.put({ key: b(p + 'b'), value: b('2') });
        const dels = await noPut.waitEvents(1);
        const puts = await noDel.waitEvents(2);
        assert.deepEqual(puts.map((e) => e.type), [EventType.PUT, EventType.PUT]);
        // The last revision has reached both watches (same stream order), so noPut saw everything.
        assert.deepEqual(dels.map((e) => e.type), [EventType.DELETE]);
        // Revisions whose events are all filtered out send nothing (no empty responses).
        assert.ok(noPut.responses.every((r) => r.events.length > 0));
        assert.ok(noDel.responses.every((r) => r.events.length > 0));
        noPut.handle.cancel();
        noDel.handle.cancel();
        await Promise.all([noPut.closed, noDel.closed]);
      });

      test('progress request answers with the current revision and no events', async () => {
        const p = fresh('wprogress');
        const w = recordWatch(kv, { key: b(p + 'k') });
        const id = await w.handle.created;
        const rev = (await kv.put({ key: b(p + 'other'), value: b('x') })).header.revision;
        w.handle.requestProgress();
        const progress = await w.waitResponses((r) => r.events.length === 0 && !r.canceled);
        assert.equal(progress.header.revision, rev);
        assert.equal(progress.watchId, id);
        w.handle.cancel();
        await w.closed;
      });

      test('cancel: onClose without error, and no events afterwards', async () => {
        const p = fresh('wcancel');
        const w = recordWatch(kv, { key: b(p + 'k') });
        await w.handle.created;
        w.handle.cancel();
        w.handle.cancel(); // idempotent
        assert.equal(await w.closed, undefined);
        const rev = (await kv.put({ key: b(p + 'k'), value: b('after') })).header.revision;
        // A second watch sees the put; the canceled one never does.
        const w2 = recordWatch(kv, { key: b(p + 'k'), startRevision: rev });
        await w2.waitEvents(1);
        assert.equal(w.events().length, 0);
        w2.handle.cancel();
        await w2.closed;
        // Canceling before the creation is acknowledged also works.
        const early = recordWatch(kv, { key: b(p + 'k') });
        early.handle.cancel();
        assert.equal(await early.closed, undefined);
      });

      test('a watch with an invalid range fails to be created', async () => {
        const w = recordWatch(kv, { key: b('/conf/b'), rangeEnd: b('/conf/a') });
        await assert.rejects(w.handle.created, (e: unknown) => e instanceof EtcdError && e.message === 'mvcc: watcher range is empty');
        assert.ok((await w.closed) instanceof EtcdError);
        assert.deepEqual(w.responses, []);
      });

      test('watches created together get distinct ids on one stream', async () => {
        const p = fresh('wmany');
        const ws = [0, 1, 2].map((i) => recordWatch(kv, { key: b(`${p}${i}`) }));
        const ids = await Promise.all(ws.map((w) => w.handle.created));
        assert.equal(new Set(ids).size, 3);
        await Promise.all([0, 1, 2].map((i) => kv.put({ key: b(`${p}${i}`), value: b(String(i)) })));
        for (const [i, w] of ws.entries()) {
          const [ev] = await w.waitEvents(1);
          assert.equal(ev!.kv.key.toString(), `${p}${i}`);
        }
        for (const w of ws) w.handle.cancel();
        await Promise.all(ws.map((w) => w.closed));
      });
    });

    describe('Lease', () => {
      test('grant (with and without ID), keep-alive, TTL with keys, list, revoke', async () => {
        const p = fresh('lease');
        const g = await kv.leaseGrant({ TTL: 60 });
        assert.notEqual(g.ID, 0n);
        assert.equal(g.TTL, 60);
        assert.equal(g.error, '');
        const wanted = 0x1234_5678_9abcn + BigInt(n);
        const mine = await kv.leaseGrant({ TTL: 30, ID: wanted });
        assert.equal(mine.ID, wanted);
        await rejectsWith(kv.leaseGrant({ TTL: 30, ID: wanted }), Errors.leaseExist());
        await rejectsWith(kv.leaseGrant({ TTL: 9_000_000_001 }), Errors.leaseTTLTooLarge());

        await kv.put({ key: b(p + 'x'), value: b('1'), lease: g.ID });
        await kv.put({ key: b(p + 'y'), value: b('2'), lease: g.ID });
        const ttl = await kv.leaseTimeToLive({ ID: g.ID, keys: true });
        assert.equal(ttl.ID, g.ID);
        assert.equal(ttl.grantedTTL, 60);
        assert.ok(ttl.TTL > 0 && ttl.TTL <= 60, `TTL ${ttl.TTL}`);
        assert.deepEqual(ttl.keys.map((k) => k.toString()).sort(), [p + 'x', p + 'y']);
        const noKeys = await kv.leaseTimeToLive({ ID: g.ID });
        assert.deepEqual(noKeys.keys, []);

        const ka = await kv.leaseKeepAliveOnce(g.ID);
        assert.equal(ka.ID, g.ID);
        assert.equal(ka.TTL, 60);
        const kas = await Promise.all([kv.leaseKeepAliveOnce(g.ID), kv.leaseKeepAliveOnce(mine.ID)]);
        assert.deepEqual(kas.map((k) => [k.ID, k.TTL]), [[g.ID, 60], [mine.ID, 30]]);

        const list = await kv.leaseLeases();
        const ids = list.leases.map((l) => l.ID);
        assert.ok(ids.includes(g.ID) && ids.includes(mine.ID));

        const rev = await kv.leaseRevoke(g.ID);
        assert.ok(rev.header.revision > 0);
        assert.equal((await kv.range(prefixRange(p))).count, 0);
        await rejectsWith(kv.leaseRevoke(g.ID), Errors.leaseNotFound());
        // A gone lease: TimeToLive answers TTL -1, keep-alive answers TTL 0; neither is an error.
        const gone = await kv.leaseTimeToLive({ ID: g.ID, keys: true });
        assert.equal(gone.TTL, -1);
        assert.equal(gone.grantedTTL, 0);
        assert.equal((await kv.leaseKeepAliveOnce(g.ID)).TTL, 0);
        await kv.leaseRevoke(mine.ID);
      });

      test('a lease ID above 2^53 passes through exactly', async () => {
        const p = fresh('bigid');
        for (const id of [2n ** 53n + 1n, 2n ** 63n - 1n]) {
          const g = await kv.leaseGrant({ TTL: 60, ID: id });
          assert.equal(g.ID, id);
          await kv.put({ key: b(p + 'k'), value: b('v'), lease: id });
          assert.equal((await kv.range({ key: b(p + 'k') })).kvs[0]!.lease, id);
          const t = await kv.txn({
            compare: [{ key: b(p + 'k'), target: CompareTarget.LEASE, result: CompareResult.EQUAL, lease: id }],
            success: [],
            failure: [],
          });
          assert.equal(t.succeeded, true);
          assert.equal((await kv.leaseKeepAliveOnce(id)).ID, id);
          assert.equal((await kv.leaseTimeToLive({ ID: id })).ID, id);
          assert.ok((await kv.leaseLeases()).leases.some((l) => l.ID === id));
          await kv.leaseRevoke(id);
        }
      });

      test('expiry deletes the attached keys (as DELETE events)', async () => {
        const p = fresh('expiry');
        const g = await kv.leaseGrant({ TTL: 1 });
        // etcd raises TTLs below its minimum (1.5 x election timeout, rounded up to seconds).
        assert.ok(g.TTL >= 1, `granted ${g.TTL}`);
        const put = await kv.put({ key: b(p + 'k'), value: b('v'), lease: g.ID });
        const w = recordWatch(kv, { key: b(p + 'k'), startRevision: put.header.revision + 1 });
        await w.handle.created;
        const [ev] = await w.waitEvents(1, (g.TTL + 10) * 1000);
        assert.equal(ev!.type, EventType.DELETE);
        assert.equal((await kv.range({ key: b(p + 'k') })).count, 0);
        assert.equal((await kv.leaseTimeToLive({ ID: g.ID })).TTL, -1);
        w.handle.cancel();
        await w.closed;
      });
    });

    describe('Compaction', () => {
      test('compacted revisions are gone for range and watch; the compact revision itself stays', async () => {
        const p = fresh('compact');
        const r1 = (await kv.put({ key: b(p + 'k'), value: b('1') })).header.revision;
        const r2 = (await kv.put({ key: b(p + 'k'), value: b('2') })).header.revision;
        const r3 = (await kv.put({ key: b(p + 'k'), value: b('3') })).header.revision;
        const c = await kv.compact({ revision: r2 });
        assert.equal(c.header.revision, r3);
        await rejectsWith(kv.range({ key: b(p + 'k'), revision: r1 }), Errors.compacted());
        assert.deepEqual(vals(await kv.range({ key: b(p + 'k'), revision: r2 })), ['2']);
        await rejectsWith(kv.compact({ revision: r2 }), Errors.compacted());
        await rejectsWith(kv.compact({ revision: r1 }), Errors.compacted());
        await rejectsWith(kv.compact({ revision: r3 + 1000 }), Errors.futureRev());

        // A watch from a compacted revision is created, then canceled with compactRevision.
        const w = recordWatch(kv, { key: b(p + 'k'), startRevision: r1 });
        await w.handle.created;
        const err = await w.closed;
        assert.ok(err instanceof EtcdError);
        assert.equal(err.code, GrpcCode.OUT_OF_RANGE);
        assert.equal(err.message, Errors.compacted().message);
        const last = w.responses.at(-1)!;
        assert.equal(last.canceled, true);
        assert.equal(last.compactRevision, r2);
        assert.deepEqual(last.events, []);
        // From the compact revision itself the history is complete.
        const ok = recordWatch(kv, { key: b(p + 'k'), startRevision: r2 });
        const evs = await ok.waitEvents(2);
        assert.deepEqual(evs.map((e) => e.kv.value.toString()), ['2', '3']);
        ok.handle.cancel();
        await ok.closed;

        const phys = await kv.put({ key: b(p + 'k'), value: b('4') });
        await kv.compact({ revision: phys.header.revision, physical: true });
        await rejectsWith(kv.range({ key: b(p + 'k'), revision: r3 }), Errors.compacted());
      });
    });

    describe('Fragmented watch responses', () => {
      test('one revision larger than the request limit arrives in fragments only when asked', async () => {
        const p = fresh('frag');
        const big = Buffer.alloc(100 * 1024, 0x61);
        // 30 x 100 KiB deleted in one revision with prevKv: ~3 MiB of events for one revision, over
        // etcd's fragment size (--max-request-bytes 1.5 MiB + 512 KiB gRPC overhead = 2 MiB).
        for (let i = 0; i < 30; i++) await kv.put({ key: b(`${p}${String(i).padStart(2, '0')}`), value: big });
        const frag = recordWatch(kv, { ...prefixRange(p), prevKv: true, fragment: true });
        const whole = recordWatch(kv, { ...prefixRange(p), prevKv: true });
        await Promise.all([frag.handle.created, whole.handle.created]);
        const del = await kv.deleteRange(prefixRange(p));
        assert.equal(del.deleted, 30);
        await frag.waitEvents(30);
        await whole.waitEvents(30);
        const parts = frag.responses.filter((r) => r.events.length > 0);
        assert.ok(parts.length > 1, `expected fragments, got ${parts.length} response(s)`);
        assert.deepEqual(parts.map((r) => r.fragment), [...parts.slice(1).map(() => true), false]);
        for (const r of parts) assert.equal(r.header.revision, del.header.revision);
        const wholeParts = whole.responses.filter((r) => r.events.length > 0);
        assert.equal(wholeParts.length, 1);
        assert.equal(wholeParts[0]!.fragment, false);
        frag.handle.cancel();
        whole.handle.cancel();
        await Promise.all([frag.closed, whole.closed]);
      });
    });

  });
}
