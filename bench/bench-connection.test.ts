// The load generator's gRPC client against the real etcd 3.4: unary calls, errors as etcd sends
// them, the watch and keep-alive streams, and gRPC message framing split and packed any way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEtcdReference } from '../common/etcd-reference.js';
import { EventType, type LeaseKeepAliveResponse, type WatchResponse } from '../store/api/types.js';
import { BenchConnection, MAX_MESSAGE_BYTES } from './bench-connection.js';
import { FrameReader, frameMessage } from '../store/server/grpc-frames.js';

test('frames reassemble across any chunking', () => {
  const msgs = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')];
  const wire = Buffer.concat(msgs.map(frameMessage));
  for (const size of [1, 2, 5, 6, 1000, wire.length]) {
    const r = new FrameReader(MAX_MESSAGE_BYTES);
    const got: Buffer[] = [];
    for (let i = 0; i < wire.length; i += size) r.push(wire.subarray(i, i + size), (m) => got.push(m));
    assert.deepEqual(got, msgs, `chunks of ${size}`);
    assert.equal(r.buffered, 0);
  }
  const compressed = frameMessage(Buffer.from('x'));
  compressed[0] = 1;
  assert.throws(() => new FrameReader(MAX_MESSAGE_BYTES).push(compressed, () => undefined), /compressed/);
});

test('BenchConnection talks to etcd 3.4: unary, errors, watch and keep-alive streams', { timeout: 60_000 }, async (t) => {
  const etcd = await startEtcdReference({ members: 1, dirPrefix: 'keelson-bench-conn-' });
  t.after(() => etcd.stop());
  const conn = new BenchConnection(etcd.endpoints[0]!);
  t.after(() => conn.close());
  await conn.connect();

  const put = await conn.put({ key: Buffer.from('k'), value: Buffer.from('v1') });
  assert.ok(put.header.revision > 1);
  const got = await conn.range({ key: Buffer.from('k'), serializable: true });
  assert.equal(got.kvs[0]?.value.toString(), 'v1');
  await assert.rejects(conn.range({ key: Buffer.alloc(0) }), /grpc status 3: etcdserver: key is not provided/);
  const txn = await conn.txn({ compare: [], success: [{ requestPut: { key: Buffer.from('a'), value: Buffer.from('1') } }, { requestPut: { key: Buffer.from('b'), value: Buffer.from('2') } }], failure: [] });
  assert.equal(txn.succeeded, true);

  // Watch: created, then one response per revision, in order.
  const watch = conn.watchStream();
  const seen: WatchResponse[] = [];
  let created!: () => void;
  const createdP = new Promise<void>((r) => (created = r));
  let two!: () => void;
  const twoP = new Promise<void>((r) => (two = r));
  watch.handle(
    (res) => {
      if (res.created) created();
      else seen.push(res);
      if (seen.length === 2) two();
    },
    (err) => assert.fail(`watch ended: ${err?.message}`),
  );
  watch.write({ createRequest: { key: Buffer.from('w/'), rangeEnd: Buffer.from('w0') } });
  await createdP;
  await conn.put({ key: Buffer.from('w/1'), value: Buffer.from('x') });
  await conn.txn({ compare: [], success: [{ requestPut: { key: Buffer.from('w/2'), value: Buffer.from('y') } }, { requestPut: { key: Buffer.from('w/3'), value: Buffer.from('z') } }], failure: [] });
  await twoP;
  assert.deepEqual(seen.map((r) => r.events.map((e) => [e.type, e.kv.key.toString()])), [
    [[EventType.PUT, 'w/1']],
    [[EventType.PUT, 'w/2'], [EventType.PUT, 'w/3']],
  ]);
  watch.cancel();

  // Keep-alive: one answer per request with the lease's TTL; TTL 0 once it is gone.
  const lease = await conn.leaseGrant({ TTL: 30 });
  const ka = conn.keepAliveStream();
  const answers: LeaseKeepAliveResponse[] = [];
  let next: (() => void) | undefined;
  ka.handle(
    (r) => {
      answers.push(r);
      next?.();
    },
    (err) => assert.fail(`keep-alive ended: ${err?.message}`),
  );
  const ask = (id: bigint) =>
    new Promise<void>((r) => {
      next = r;
      ka.write({ ID: id });
    });
  await ask(lease.ID);
  await conn.leaseRevoke(lease.ID);
  await ask(lease.ID);
  assert.deepEqual(answers.map((a) => [a.ID, a.TTL]), [[lease.ID, 30], [lease.ID, 0]]);
  ka.cancel();

  // After close, calls fail instead of hanging.
  conn.close();
  await assert.rejects(conn.put({ key: Buffer.from('k'), value: Buffer.from('v') }), /not connected/);
});
