// Entry payloads: KV requests as a kind byte and etcd's protobuf message, the rest (and every
// entry of earlier releases) as msgpack; a payload that is not a request is refused with a
// message naming the field, however deep.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPackr } from './records.js';
import { BadRequestError, decodeStoreRequest, encodeStoreRequest } from './store-request.js';

/** A payload as the msgpack path (and earlier releases) writes it, whatever its shape. */
const msgpack = (req: unknown): Buffer => newPackr().pack(req);

function refusal(req: unknown): string {
  try {
    decodeStoreRequest(msgpack(req));
  } catch (e) {
    assert.ok(e instanceof BadRequestError);
    return e.message;
  }
  assert.fail('the request was accepted');
}

test('a bad field is named by its path in the request', () => {
  assert.equal(
    refusal({ txn: { compare: [], success: [{ requestPut: { key: Buffer.from('a') } }, { requestPut: { value: Buffer.from('x') } }], failure: [] } }),
    'store request: txn.success[1].requestPut.key is missing',
  );
  assert.equal(refusal({ txn: { compare: [{ result: 0, target: 'x', key: Buffer.from('k') }], success: [], failure: [] } }), 'store request: txn.compare[0].target is not an integer');
  assert.equal(
    refusal({ txn: { compare: [], success: [], failure: [{ requestTxn: { compare: [], success: [{ requestRange: { key: Buffer.from('k'), limit: 'x' } }], failure: [] } }] } }),
    'store request: txn.failure[0].requestTxn.success[0].requestRange.limit is not an integer',
  );
  assert.equal(refusal({ put: { key: Buffer.from('k'), prevKv: 1 } }), 'store request: put.prevKv is not a boolean');
  const ok = decodeStoreRequest(msgpack({ put: { key: Buffer.from('k'), value: Buffer.from('v') } }));
  assert.deepEqual(ok, { put: { key: Buffer.from('k'), value: Buffer.from('v') } });
});

test('KV requests are written as protobuf and read back with proto3 zero values; msgpack ones are still read', () => {
  const put = encodeStoreRequest({ put: { key: Buffer.from('k'), value: Buffer.from('v'), lease: 7n } });
  assert.equal(put[0], 0x01);
  assert.deepEqual(decodeStoreRequest(put), { put: { key: Buffer.from('k'), value: Buffer.from('v'), lease: 7n, prevKv: false, ignoreValue: false, ignoreLease: false } });
  const txn = decodeStoreRequest(encodeStoreRequest({ txn: { compare: [{ result: 0, target: 2, key: Buffer.from('a'), modRevision: 0 }], success: [{ requestDeleteRange: { key: Buffer.from('a') } }], failure: [] } }));
  assert.equal(txn.txn?.compare[0]?.modRevision, 0, 'a oneof member at its zero value is kept');
  assert.deepEqual(txn.txn?.success[0], { requestDeleteRange: { key: Buffer.from('a'), rangeEnd: Buffer.alloc(0), prevKv: false } });
  assert.equal(encodeStoreRequest({ deleteRange: { key: Buffer.from('x') } })[0], 0x02);
  assert.equal(encodeStoreRequest({ range: { key: Buffer.from('x') } })[0], 0x04);
  // Not KV requests: msgpack, as before.
  const grant = encodeStoreRequest({ leaseGrant: { ID: 5n, TTL: 10 } });
  assert.ok(grant[0] === 0xde || grant[0]! >> 4 === 0x8, 'a msgpack map');
  assert.deepEqual(decodeStoreRequest(grant), { leaseGrant: { ID: 5n, TTL: 10 } });
  // A put of an earlier release.
  assert.deepEqual(decodeStoreRequest(msgpack({ put: { key: Buffer.from('old') } })), { put: { key: Buffer.from('old') } });
  // A damaged protobuf body is refused, not applied.
  assert.throws(() => decodeStoreRequest(Buffer.concat([Buffer.from([0x01]), Buffer.from([0x0a, 0x09, 0x61])])), (e: Error) => e instanceof BadRequestError && /undecodable/.test(e.message));
  assert.throws(() => encodeStoreRequest({ put: { key: 'k' as never } }), TypeError);
});
