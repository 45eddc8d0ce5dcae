// Waiting out an unavailable store: the errors a store gives during an election (converted to
// Status errors the way every request's are) are retried until the deadline; others are not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdError, GrpcCode } from '../store/api/errors.js';
import { storeError } from './resource-store.js';
import { isUnavailable, retryWhileUnavailable } from './storage-retry.js';

const leaderChanged = () => storeError(new EtcdError(GrpcCode.UNAVAILABLE, 'etcdserver: leader changed'));

test('unavailable-store errors are retried until the operation succeeds', async () => {
  assert.equal(isUnavailable(leaderChanged()), true);
  assert.equal(isUnavailable(storeError(new EtcdError(GrpcCode.DEADLINE_EXCEEDED, 'etcdserver: request timed out'))), true);
  let calls = 0;
  const got = await retryWhileUnavailable(async () => {
    if (++calls < 3) throw leaderChanged();
    return 'done';
  }, Date.now() + 10_000);
  assert.equal(got, 'done');
  assert.equal(calls, 3);
});

test('other errors pass at once, and the deadline ends the waiting', async () => {
  let calls = 0;
  const refused = storeError(new EtcdError(GrpcCode.INVALID_ARGUMENT, 'etcdserver: key is not provided'));
  assert.equal(isUnavailable(refused), false);
  await assert.rejects(
    retryWhileUnavailable(async () => {
      calls++;
      throw refused;
    }, Date.now() + 10_000),
    (e) => e === refused,
  );
  assert.equal(calls, 1);
  calls = 0;
  const started = Date.now();
  await assert.rejects(
    retryWhileUnavailable(async () => {
      calls++;
      throw leaderChanged();
    }, Date.now() + 300),
    /leader changed/,
  );
  assert.ok(calls >= 2, `retried (${calls} calls)`);
  assert.ok(Date.now() - started < 3000, 'gave up soon after the deadline');
});
