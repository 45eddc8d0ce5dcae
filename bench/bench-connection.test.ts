// The load generator's gRPC client (over its own HTTP/2 client, h2-client.ts) against the real
// etcd 3.4 and against keelson: unary calls, errors as each server sends them, the watch and
// keep-alive streams, messages bigger than the HTTP/2 windows both ways, gRPC message framing
// split and packed any way, and HTTP/2 frames cut anywhere by the client's reads.

import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { Prng } from '../common/prng.js';
import { EventType, type LeaseKeepAliveResponse, type WatchResponse } from '../store/api/types.js';
import { BenchConnection, MAX_MESSAGE_BYTES } from './bench-connection.js';
import { FrameReader, frameMessage } from '../store/server/grpc-frames.js';
import type { TargetName } from './results.js';
import { startTarget } from './target-cluster.js';

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
  // A reader told that chunks are reused copies what it keeps: the same wire through one buffer
  // overwritten after every push still gives the messages.
  for (const size of [1, 3, 7, 4096]) {
    const r = new FrameReader(MAX_MESSAGE_BYTES, false);
    const got: Buffer[] = [];
    const shared = Buffer.alloc(size);
    for (let i = 0; i < wire.length; i += size) {
      const n = wire.copy(shared, 0, i, Math.min(wire.length, i + size));
      r.push(shared.subarray(0, n), (m) => got.push(Buffer.from(m)));
      shared.fill(0xee);
    }
    assert.deepEqual(got, msgs, `reused chunks of ${size}`);
  }
  // ... and joins split messages in one buffer it reuses: nothing allocated per message.
  const small = Array.from({ length: 20 }, (_, i) => Buffer.alloc(100, i));
  const smallWire = Buffer.concat(small.map(frameMessage));
  const r = new FrameReader(MAX_MESSAGE_BYTES, false);
  const places = new Set<string>();
  const copies: Buffer[] = [];
  const ids = new Map<ArrayBufferLike, number>();
  for (let i = 0; i < smallWire.length; i += 64) {
    r.push(Buffer.from(smallWire.subarray(i, i + 64)), (m) => {
      if (!ids.has(m.buffer)) ids.set(m.buffer, ids.size);
      places.add(`${ids.get(m.buffer)}:${m.byteOffset}`);
      copies.push(Buffer.from(m));
    });
  }
  assert.deepEqual(copies, small);
  assert.equal(places.size, 1, 'every split message was joined in the same place');
  const compressed = frameMessage(Buffer.from('x'));
  compressed[0] = 1;
  assert.throws(() => new FrameReader(MAX_MESSAGE_BYTES).push(compressed, () => undefined), /compressed/);
});

for (const target of ['etcd', 'keelson'] as TargetName[]) {
  test(`BenchConnection talks to ${target}: unary, errors, watch and keep-alive streams, flow control`, { timeout: 90_000 }, async (t) => {
    const server = await startTarget(target, 1);
    t.after(() => server.stop());
    const conn = new BenchConnection(server.endpoints[0]!);
    t.after(() => conn.close());
    await conn.connect();
    await exercise(conn);
  });
}

test('BenchConnection reads frames that reads cut anywhere (keelson through a re-chunking proxy)', { timeout: 90_000 }, async (t) => {
  const server = await startTarget('keelson', 1);
  t.after(() => server.stop());
  const [host, port] = server.endpoints[0]!.split(':') as [string, string];
  // Server-to-client bytes are forwarded in pieces of random size (a third of them under 10
  // bytes), one write per turn, so the client's reads end inside frame headers and payloads.
  const prng = new Prng(11);
  const proxy = createServer((down) => {
    const up = connect(Number(port), host);
    down.setNoDelay(true);
    let chain = Promise.resolve();
    up.on('data', (data: Buffer) => {
      up.pause();
      chain = chain.then(async () => {
        for (let i = 0; i < data.length && !down.destroyed; ) {
          const n = Math.min(data.length - i, prng.chance(0.33) ? 1 + prng.int(9) : 1 + prng.int(4000));
          down.write(data.subarray(i, i + n));
          i += n;
          await tick();
        }
        up.resume();
      });
    });
    down.pipe(up);
    const end = (): void => {
      up.destroy();
      down.destroy();
    };
    up.on('error', end).on('close', end);
    down.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => proxy.close(() => r())));
  const conn = new BenchConnection(`127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  t.after(() => conn.close());
  await conn.connect();
  await exercise(conn);
});

async function exercise(conn: BenchConnection): Promise<void> {
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

  // Bigger than the windows: 1 MiB puts (the server's stream window is 64 KiB until it says
  // otherwise) and an 18 MiB range answer (ours are 16 MiB), bytes intact both ways.
  const BIG = 18;
  const big = (i: number) => Buffer.alloc(1 << 20, 97 + i);
  await Promise.all(Array.from({ length: BIG }, (_, i) => conn.put({ key: Buffer.from(`big/${String(i).padStart(2, '0')}`), value: big(i) })));
  const all = await conn.range({ key: Buffer.from('big/'), rangeEnd: Buffer.from('big0') });
  assert.deepEqual(
    all.kvs.map((kv) => [kv.key.toString(), kv.value.equals(big(Number(kv.key.toString().slice(4))))]),
    Array.from({ length: BIG }, (_, i) => [`big/${String(i).padStart(2, '0')}`, true]),
  );
  // Many calls at once on the one connection, each answered with its own response.
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => conn.put({ key: Buffer.from(`m/${i}`), value: Buffer.from(String(i)), prevKv: true })));
  const revs = many.map((r) => r.header.revision);
  assert.equal(new Set(revs).size, 200, 'one revision per put');
  const back = await conn.range({ key: Buffer.from('m/'), rangeEnd: Buffer.from('m0') });
  assert.equal(back.kvs.length, 200);
  for (const kv of back.kvs) assert.equal(kv.value.toString(), kv.key.toString().slice(2));
  // Header blocks are remembered decoded (h2-client.ts): an error after hundreds of OKs is still one.
  await assert.rejects(conn.range({ key: Buffer.alloc(0) }), /grpc status 3: etcdserver: key is not provided/);
  assert.equal((await conn.range({ key: Buffer.from('m/7') })).kvs[0]?.value.toString(), '7');

  // After close, calls fail instead of hanging.
  conn.close();
  await assert.rejects(conn.put({ key: Buffer.from('k'), value: Buffer.from('v') }), /not connected/);
}
