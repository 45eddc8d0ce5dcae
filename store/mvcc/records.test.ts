// History records: etcd's protobuf KeyValue bytes (what HashKV hashes), and the msgpack arrays
// earlier releases wrote are still read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { encodeKeyValueProto } from './kv-proto.js';
import { decodeKvRecord, encodeKvRecord, isProtoKvRecord } from './records.js';

const kv = { key: Buffer.from('/registry/pods/ns/a'), value: Buffer.from('v1'), createRevision: 5, modRevision: 9, version: 3, lease: 0x7fff_0000_0000_0001n };

test('a record is the KeyValue exactly as etcd stores it, and reads back', () => {
  const rec = encodeKvRecord(kv, false);
  assert.ok(isProtoKvRecord(rec));
  assert.ok(rec.equals(encodeKeyValueProto(kv)), 'the bytes etcd would store (and hash)');
  assert.deepEqual(decodeKvRecord(rec), kv);
  const tomb = encodeKvRecord(kv, true);
  assert.ok(tomb.equals(encodeKeyValueProto({ key: kv.key, value: Buffer.alloc(0), createRevision: 0, modRevision: 0, version: 0, lease: 0n })));
  assert.deepEqual(decodeKvRecord(tomb, 12), { key: kv.key, value: Buffer.alloc(0), createRevision: 0, modRevision: 12, version: 0, lease: 0n });
});

test('records of the earlier msgpack format are still read', () => {
  const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });
  const old = packr.pack([kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease]);
  assert.equal(isProtoKvRecord(old), false);
  assert.deepEqual(decodeKvRecord(old), kv);
  const oldNoLease = packr.pack([kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, 0]);
  assert.deepEqual(decodeKvRecord(oldNoLease), { ...kv, lease: 0n });
  const oldTomb = packr.pack([kv.key]);
  assert.deepEqual(decodeKvRecord(oldTomb, 7), { key: kv.key, value: Buffer.alloc(0), createRevision: 0, modRevision: 7, version: 0, lease: 0n });
});
