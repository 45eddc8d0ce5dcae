// The lean gRPC server against a real gRPC client (grpc-js): statuses and their messages,
// etcd's receive limit, unknown methods, backpressure on a stream, and a client's cancel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { EtcdError, GrpcCode } from '../api/errors.js';
import { KVService, WatchService } from '../api/grpc-services.js';
import type { PutRequest, PutResponse, WatchRequest, WatchResponse } from '../api/types.js';
import { GrpcHttp2Server, type StreamCall } from './grpc-http2-server.js';

const MAX = 64 * 1024;
const header = { clusterId: 1n, memberId: 2n, revision: 3, raftTerm: 4 };

async function serve(t: { after: (f: () => Promise<void> | void) => void }, setup: (s: GrpcHttp2Server) => void): Promise<grpc.Client> {
  const wire = new GrpcHttp2Server({ maxReceiveBytes: MAX, streamBufferBytes: 64 * 1024 });
  setup(wire);
  const net: Server = createServer((socket) => wire.connection(socket));
  const port = await new Promise<number>((resolve) => net.listen(0, '127.0.0.1', () => resolve((net.address() as { port: number }).port)));
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    wire.close();
    await new Promise<void>((r) => net.close(() => r()));
  });
  return client;
}

function put(client: grpc.Client, req: PutRequest, path = KVService.Put.path): Promise<PutResponse> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, KVService.Put.requestSerialize, KVService.Put.responseDeserialize, req, (err, res) => (err ? reject(err) : resolve(res as PutResponse)));
  });
}

test('unary answers and errors: status codes and messages as sent, etcd receive limit, unknown methods', async (t) => {
  const handled: number[] = [];
  const client = await serve(t, (s) =>
    s.unary(
      KVService.Put,
      (req) => {
        const k = req.key.toString();
        if (k === 'fail') throw new EtcdError(GrpcCode.FAILED_PRECONDITION, 'etcdserver: 100% wrong — é\nnext line');
        if (k === 'reject') return Promise.reject(new EtcdError(GrpcCode.NOT_FOUND, 'etcdserver: requested lease not found'));
        return { header: { ...header, revision: req.value?.length ?? 0 } };
      },
      (code) => handled.push(code),
    ),
  );
  assert.equal((await put(client, { key: Buffer.from('k'), value: Buffer.alloc(1000) })).header.revision, 1000);
  await assert.rejects(put(client, { key: Buffer.from('fail'), value: Buffer.alloc(0) }), (e: grpc.ServiceError) => {
    assert.equal(e.code, GrpcCode.FAILED_PRECONDITION);
    assert.equal(e.details, 'etcdserver: 100% wrong — é\nnext line');
    return true;
  });
  await assert.rejects(put(client, { key: Buffer.from('reject'), value: Buffer.alloc(0) }), (e: grpc.ServiceError) => Number(e.code) === GrpcCode.NOT_FOUND);
  // Over the limit: refused from the frame header, with grpc-go's message (what etcd sends).
  await assert.rejects(put(client, { key: Buffer.from('k'), value: Buffer.alloc(MAX + 10) }), (e: grpc.ServiceError) => {
    assert.equal(e.code, GrpcCode.RESOURCE_EXHAUSTED);
    assert.match(e.details, /^grpc: received message larger than max \(\d+ vs\. 65536\)$/);
    return true;
  });
  await assert.rejects(put(client, { key: Buffer.from('k'), value: Buffer.alloc(0) }, '/etcdserverpb.KV/Nope'), (e: grpc.ServiceError) => {
    assert.equal(e.code, GrpcCode.UNIMPLEMENTED);
    assert.match(e.details, /unknown method Nope for service etcdserverpb\.KV/);
    return true;
  });
  // The connection is still good after all that.
  assert.equal((await put(client, { key: Buffer.from('k'), value: Buffer.alloc(7) })).header.revision, 7);
  assert.deepEqual(handled, [GrpcCode.OK, GrpcCode.FAILED_PRECONDITION, GrpcCode.NOT_FOUND, GrpcCode.RESOURCE_EXHAUSTED, GrpcCode.OK]);
});

test('a stream reports full while the client does not read, drains when it does, and sees the cancel', async (t) => {
  let call: StreamCall<WatchRequest, WatchResponse> | undefined;
  let fullAfter = -1;
  let drained = false;
  let cancelled = false;
  const event = { type: 0, kv: { key: Buffer.from('k'), value: Buffer.alloc(4096, 1), createRevision: 1, modRevision: 2, version: 1, lease: 0n } };
  const client = await serve(t, (s) =>
    s.bidi(
      WatchService.Watch,
      (c) => {
        call = c;
        c.onMessage = () => {
          // Write until full (bounded), as the watch hub does.
          for (let i = 0; i < 10_000; i++) {
            const ok = c.write({ header, watchId: i, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [event] });
            if (!ok) {
              fullAfter = i;
              return;
            }
          }
        };
        c.onDrain = () => {
          drained = true;
        };
        c.onCancel = () => {
          cancelled = true;
        };
      },
      () => undefined,
    ),
  );
  const stream = client.makeBidiStreamRequest(WatchService.Watch.path, WatchService.Watch.requestSerialize, WatchService.Watch.responseDeserialize);
  stream.on('error', () => undefined);
  stream.pause();
  stream.write({ progressRequest: {} });
  const deadline = Date.now() + 10_000;
  while (fullAfter < 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fullAfter >= 0 && fullAfter < 10_000, 'write() never reported full');
  let got = 0;
  stream.on('data', () => got++);
  stream.resume();
  while (!drained && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(drained, 'no drain after the client read');
  while (got < fullAfter + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got, fullAfter + 1, 'every response written reached the client, in one piece');
  stream.cancel();
  while (!cancelled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cancelled, 'the cancel was not seen');
  assert.ok(call?.ended);
});
