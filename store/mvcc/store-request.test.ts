// A store request that is not one is refused with a message naming the field, however deep.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, decodeStoreRequest, encodeStoreRequest } from './store-request.js';

function refusal(req: unknown): string {
  try {
    decodeStoreRequest(encodeStoreRequest(req as never));
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
  const ok = decodeStoreRequest(encodeStoreRequest({ put: { key: Buffer.from('k'), value: Buffer.from('v') } }));
  assert.deepEqual(ok, { put: { key: Buffer.from('k'), value: Buffer.from('v') } });
});
