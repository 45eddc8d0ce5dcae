import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../common/prng.js';
import { crc32c } from './crc32c.js';
import { goSortArray } from './go-sort.js';
import { KeyIndex } from './key-index.js';
import { encodeKeyValueProto } from './kv-proto.js';
import { readRevision, revisionBytes } from './revision.js';
import { SortedStringMap } from './sorted-string-map.js';

test('revision bytes: etcd layout, byte order is revision order, tombstone mark', () => {
  const r = revisionBytes(0x0102030405, 7);
  assert.equal(r.toString('hex'), '0000000102030405' + '5f' + '0000000000000007');
  const t = revisionBytes(5, 1, true);
  assert.equal(t.length, 18);
  assert.equal(t[17], 0x74);
  assert.deepEqual(readRevision(t), { main: 5, sub: 1, tombstone: true });
  assert.deepEqual(readRevision(r), { main: 0x0102030405, sub: 7, tombstone: false });
  const big = revisionBytes(2 ** 40 + 3, 0);
  assert.equal(readRevision(big).main, 2 ** 40 + 3);
  const prng = new Prng(1);
  const revs = Array.from({ length: 200 }, () => [prng.int(1e9), prng.int(5)] as const);
  const sortedByBytes = [...revs].sort((a, b) => Buffer.compare(revisionBytes(a[0], a[1]), revisionBytes(b[0], b[1])));
  const sortedByRev = [...revs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  assert.deepEqual(sortedByBytes, sortedByRev);
});

test('crc32c matches the standard check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  // etcd's HashKV of an empty store is crc32c("key") (observed on etcd 3.4.23).
  assert.equal(crc32c(Buffer.from('key')), 1084519789);
});

test('KeyValue protobuf encoding matches gogo/protobuf', () => {
  const enc = encodeKeyValueProto({ key: Buffer.from('foo'), value: Buffer.from('bar'), createRevision: 2, modRevision: 2, version: 1, lease: 0n });
  assert.equal(enc.toString('hex'), '0a03666f6f' + '1002' + '1802' + '2001' + '2a03626172');
  const neg = encodeKeyValueProto({ key: Buffer.from('k'), value: Buffer.alloc(0), createRevision: 0, modRevision: 0, version: 0, lease: -1n });
  assert.equal(neg.toString('hex'), '0a016b' + '30' + 'ffffffffffffffffff01');
});

test('keyIndex follows etcd: get, since, compact, keep (key_index.go example)', () => {
  // put(2);put(4);tombstone(6);put(8);tombstone(10) plus a live generation 12, 14
  const ki = new KeyIndex(Buffer.from('foo'), 'foo');
  ki.put(2, 0);
  ki.put(4, 0);
  assert.ok(ki.tombstone(6, 0));
  ki.put(8, 0);
  ki.put(8, 1);
  assert.ok(ki.tombstone(10, 0));
  assert.equal(ki.tombstone(11, 0), false, 'tombstone of a deleted key');
  ki.put(12, 0);
  ki.put(14, 0);
  assert.equal(ki.get(1), undefined);
  assert.deepEqual(ki.get(3), { modMain: 2, modSub: 0, createdMain: 2, createdSub: 0, ver: 1 });
  assert.deepEqual(ki.get(5), { modMain: 4, modSub: 0, createdMain: 2, createdSub: 0, ver: 2 });
  assert.equal(ki.get(6), undefined);
  assert.equal(ki.get(7), undefined);
  assert.deepEqual(ki.get(9), { modMain: 8, modSub: 1, createdMain: 8, createdSub: 0, ver: 2 });
  assert.equal(ki.get(11), undefined);
  assert.deepEqual(ki.get(100), { modMain: 14, modSub: 0, createdMain: 12, createdSub: 0, ver: 2 });
  assert.deepEqual(ki.since(8), [8, 1, 10, 0, 12, 0, 14, 0], 'same main revision: highest sub only');
  assert.deepEqual(ki.since(0), [2, 0, 4, 0, 6, 0, 8, 1, 10, 0, 12, 0, 14, 0]);

  const kept: string[] = [];
  ki.keep(5, (m, s) => void kept.push(`${m}.${s}`));
  assert.deepEqual(kept, ['4.0']);
  const keptAt6: string[] = [];
  ki.keep(6, (m, s) => void keptAt6.push(`${m}.${s}`));
  assert.deepEqual(keptAt6, [], 'the tombstone is not kept');

  const removed: string[] = [];
  ki.compact(5, (m, s, t) => void removed.push(`${m}.${s}${t ? 't' : ''}`));
  assert.deepEqual(removed, ['2.0']);
  assert.deepEqual(ki.allRevisions(), [4, 0, 6, 0, 8, 0, 8, 1, 10, 0, 12, 0, 14, 0]);
  removed.length = 0;
  ki.compact(6, (m, s, t) => void removed.push(`${m}.${s}${t ? 't' : ''}`));
  assert.deepEqual(removed, ['4.0', '6.0t']);
  removed.length = 0;
  ki.compact(13, (m, s, t) => void removed.push(`${m}.${s}${t ? 't' : ''}`));
  assert.deepEqual(removed, ['8.0', '8.1', '10.0t']);
  assert.deepEqual(ki.allRevisions(), [12, 0, 14, 0]);
  assert.deepEqual(ki.get(13), { modMain: 12, modSub: 0, createdMain: 12, createdSub: 0, ver: 1 });

  const gone = new KeyIndex(Buffer.from('x'), 'x');
  gone.put(3, 0);
  gone.tombstone(4, 0);
  gone.compact(4, () => undefined);
  assert.ok(gone.isEmpty(), 'compacting at the tombstone empties the key');
});

test('sorted string map: random operations against a sorted array', () => {
  const prng = new Prng(42);
  const m = new SortedStringMap<number>();
  const ref = new Map<string, number>();
  const key = (): string => String.fromCharCode(...Array.from({ length: 1 + prng.int(3) }, () => 97 + prng.int(6), 0));
  for (let i = 0; i < 20000; i++) {
    const k = key();
    const op = prng.int(10);
    if (op < 6) {
      m.set(k, i);
      ref.set(k, i);
    } else {
      assert.equal(m.delete(k), ref.delete(k));
    }
    if (i % 500 === 0) {
      m.checkInvariants();
      const sorted = [...ref.keys()].sort();
      const got: string[] = [];
      m.forEach((kk, v) => {
        got.push(kk);
        assert.equal(v, ref.get(kk));
      });
      assert.deepEqual(got, sorted);
      const lo = key();
      const hi = key();
      const inRange: string[] = [];
      m.forRange(lo, hi, (kk) => void inRange.push(kk));
      assert.deepEqual(inRange, sorted.filter((x) => x >= lo && x < hi));
    }
    assert.equal(m.size, ref.size);
  }
  // Large sequential inserts and deletes keep the tree balanced.
  const big = new SortedStringMap<number>();
  for (let i = 0; i < 50000; i++) big.set(String(i).padStart(6, '0'), i);
  for (let i = 0; i < 50000; i += 2) big.delete(String(i).padStart(6, '0'));
  big.checkInvariants();
  assert.equal(big.size, 25000);
  assert.equal(big.get('000001'), 1);
  assert.equal(big.get('000002'), undefined);
});

test('go sort: sorts; ties in the exact order of Go 1.19 sort.Sort (as etcd 3.4)', () => {
  const prng = new Prng(3);
  for (let n = 0; n < 300; n += 7) {
    const arr = Array.from({ length: n }, (_, i) => ({ v: prng.int(10), i }));
    goSortArray(arr, (a, b) => a.v < b.v);
    for (let i = 1; i < arr.length; i++) assert.ok((arr[i - 1] as { v: number }).v <= (arr[i] as { v: number }).v);
  }
  const small = Array.from({ length: 12 }, (_, i) => ({ v: i % 3, i }));
  goSortArray(small, (a, b) => a.v < b.v);
  assert.deepEqual(small.map((x) => x.i), [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
  // Beyond 12 elements ties come out in pdqsort's order. Observed on etcd 3.4.23 (Go 1.19):
  // 30 keys s/k00..s/k29 with value v(i % 3), `etcdctl get s/ --prefix --sort-by=VALUE`.
  const mk = (): Array<{ k: string; v: string }> =>
    Array.from({ length: 30 }, (_, i) => ({ k: `k${String(i).padStart(2, '0')}`, v: `v${i % 3}` }));
  const asc = mk();
  goSortArray(asc, (x, y) => x.v < y.v);
  assert.equal(
    asc.map((x) => x.k.slice(1)).join(' '),
    '12 27 24 03 21 18 06 00 15 09 07 04 10 13 28 01 16 25 22 19 08 20 05 23 02 17 26 11 14 29',
  );
  const desc = mk();
  goSortArray(desc, (x, y) => y.v < x.v); // sort.Reverse
  assert.equal(
    desc.map((x) => x.k.slice(1)).join(' '),
    '11 29 02 26 23 05 20 17 08 14 07 04 01 13 28 25 16 10 22 19 06 21 18 00 24 15 03 27 09 12',
  );
});
