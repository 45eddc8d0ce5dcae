// Request size limits answered as etcd answers them, side by side with a real etcd 3.4.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdReference } from '../../common/etcd-reference.js';
import { startKeelsonCluster } from '../../common/keelson-cluster.js';
import { EtcdError, Errors, GrpcCode } from '../api/errors.js';
import { RemoteKV } from '../kv-remote.js';

async function errorOf(p: Promise<unknown>): Promise<EtcdError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EtcdError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

test('requests over 1.5 MiB are refused like etcd refuses them, and nothing is stored', async (t) => {
  const [etcd, keelson] = await Promise.all([startEtcdReference({ members: 1 }), startKeelsonCluster({ members: 1 })]);
  const e = new RemoteKV({ endpoints: etcd.endpoints });
  const k = new RemoteKV({ endpoints: keelson.endpoints });
  t.after(async () => {
    await Promise.all([e.close(), k.close()]);
    await Promise.all([etcd.stop(), keelson.stop()]);
  });
  const key = Buffer.from('/big');
  // Just over the limit: etcd's own check.
  const big = Buffer.alloc(1.6 * 1024 * 1024, 1);
  const [ee, ke] = await Promise.all([errorOf(e.put({ key, value: big })), errorOf(k.put({ key, value: big }))]);
  assert.ok(ee.is(Errors.requestTooLarge()), ee.message);
  assert.ok(ke.is(Errors.requestTooLarge()), ke.message);
  // Over gRPC's receive limit (max-request-bytes + 512 KiB): refused before decoding.
  const huge = Buffer.alloc(2.5 * 1024 * 1024, 1);
  const [ee2, ke2] = await Promise.all([errorOf(e.put({ key, value: huge })), errorOf(k.put({ key, value: huge }))]);
  assert.equal(ee2.code, GrpcCode.RESOURCE_EXHAUSTED);
  assert.equal(ke2.code, GrpcCode.RESOURCE_EXHAUSTED);
  assert.equal((await k.range({ key })).count, 0);
  // At the limit's edge a value still fits.
  const ok = Buffer.alloc(1024 * 1024, 2);
  await k.put({ key, value: ok });
  assert.equal((await k.range({ key })).kvs[0]?.value.length, ok.length);
});
