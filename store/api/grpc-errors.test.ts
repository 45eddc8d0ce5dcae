import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdError, Errors, GrpcCode } from './errors.js';
import { fromGrpcError, toGrpcStatus, watchCancelError } from './grpc-errors.js';

const ctx = { method: 'KV.Range', endpoint: '127.0.0.1:2379', timeoutMs: 1500 };

test('every etcd error survives the trip to a gRPC status and back', () => {
  for (const [name, make] of Object.entries(Errors)) {
    const err = make();
    const status = toGrpcStatus(err);
    assert.equal(status.code, err.code, name);
    assert.equal(status.details, err.message, name);
    const back = fromGrpcError({ ...status }, ctx);
    assert.ok(back.is(err), `${name}: ${back.message}`);
  }
  assert.deepEqual(toGrpcStatus(new Error('boom')), { code: GrpcCode.UNKNOWN, details: 'boom' });
});

test('transport failures name the endpoint and say what happened', () => {
  const refused = fromGrpcError(
    { code: GrpcCode.UNAVAILABLE, details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ' },
    ctx,
  );
  assert.equal(refused.code, GrpcCode.UNAVAILABLE);
  assert.equal(
    refused.message,
    'keelson: KV.Range: cannot reach etcd endpoint 127.0.0.1:2379: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379.',
  );
  const late = fromGrpcError({ code: GrpcCode.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 1.501s' }, ctx);
  assert.equal(late.code, GrpcCode.DEADLINE_EXCEEDED);
  assert.equal(late.message, 'keelson: KV.Range on 127.0.0.1:2379: no answer within 1500 ms (outcome unknown)');
  // etcd's own UNAVAILABLE errors keep their message.
  assert.ok(fromGrpcError({ code: GrpcCode.UNAVAILABLE, details: 'etcdserver: no leader' }, ctx).is(Errors.noLeader()));
  // Other statuses pass through; non-status values become UNKNOWN.
  const big = fromGrpcError({ code: GrpcCode.RESOURCE_EXHAUSTED, details: 'grpc: received message larger than max (3 vs. 2)' }, ctx);
  assert.equal(big.message, 'grpc: received message larger than max (3 vs. 2)');
  assert.equal(fromGrpcError(new TypeError('x'), ctx).code, GrpcCode.UNKNOWN);
  const same = new EtcdError(GrpcCode.ABORTED, 'a');
  assert.equal(fromGrpcError(same, ctx), same);
});

test('watch cancel reasons map to errors', () => {
  assert.ok(watchCancelError(42, '').is(Errors.compacted()));
  assert.ok(watchCancelError(0, 'etcdserver: no leader').is(Errors.noLeader()));
  const range = watchCancelError(0, 'mvcc: watcher range is empty');
  assert.equal(range.code, GrpcCode.CANCELLED);
  assert.equal(range.message, 'mvcc: watcher range is empty');
  assert.equal(watchCancelError(0, '').code, GrpcCode.CANCELLED);
});
