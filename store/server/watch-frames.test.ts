// Watch event frames built from shared parts are byte for byte the gRPC frame of
// encodeWatchResponse, for random event batches, headers and watch IDs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../common/prng.js';
import { encodeWatchResponse } from '../api/codec.js';
import { EventType, type Event, type WatchResponse } from '../api/types.js';
import { frameMessage } from './grpc-frames.js';
import { EventFrameBatch, encodedEvents, isPlainEventResponse, pooledChunkReuses } from './watch-frames.js';

function bytes(p: Prng, max: number): Buffer {
  const b = Buffer.alloc(p.int(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = p.int(256);
  return b;
}

function event(p: Prng): Event {
  const kv = () => ({ key: bytes(p, 40), value: bytes(p, 300), createRevision: p.int(1e6), modRevision: p.int(1e9), version: p.int(100), lease: p.chance(0.2) ? BigInt(p.int(1e9)) : 0n });
  const ev: Event = { type: p.chance(0.8) ? EventType.PUT : EventType.DELETE, kv: kv() };
  if (p.chance(0.3)) ev.prevKv = kv();
  return ev;
}

test('event frames from shared parts (one batch per response here) equal encodeWatchResponse framed', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const p = new Prng(seed);
    const events = Array.from({ length: 1 + p.int(5) }, () => event(p));
    const header = { clusterId: BigInt(p.int(2 ** 31)) * 3n, memberId: BigInt(p.int(2 ** 31)), revision: p.chance(0.1) ? 2 ** 40 : p.int(1e7), raftTerm: p.int(50) };
    for (const watchId of [0, 1, 127, 128, p.int(1e6)]) {
      const res: WatchResponse = { header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events };
      assert.ok(isPlainEventResponse(res));
      const want = frameMessage(encodeWatchResponse(res));
      let got = Buffer.alloc(0);
      const batch = new EventFrameBatch((b) => (got = Buffer.from(b)));
      batch.add(watchId, header, encodedEvents(events));
      batch.flush();
      assert.ok(got.equals(want), `seed ${seed} watch ${watchId}`);
    }
  }
});

test('only plain event notifications take the shared path', () => {
  const base: WatchResponse = { header: { clusterId: 1n, memberId: 2n, revision: 3, raftTerm: 4 }, watchId: 1, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [] };
  const ev = event(new Prng(1));
  assert.equal(isPlainEventResponse(base), false, 'no events');
  assert.equal(isPlainEventResponse({ ...base, events: [ev] }), true);
  assert.equal(isPlainEventResponse({ ...base, events: [ev], created: true }), false);
  assert.equal(isPlainEventResponse({ ...base, events: [ev], canceled: true }), false);
  assert.equal(isPlainEventResponse({ ...base, events: [ev], compactRevision: 5 }), false);
  assert.equal(isPlainEventResponse({ ...base, events: [ev], fragment: true }), false);
  assert.equal(isPlainEventResponse({ ...base, events: [ev], watchId: -1 }), false);
});

test('a batch over many turns and past its chunk size: every flushed frame stays intact, in order', async () => {
  const p = new Prng(7);
  const header = { clusterId: 11n, memberId: 12n, revision: 99, raftTerm: 2 };
  const flushed: Buffer[] = [];
  const want: Buffer[] = [];
  const batch = new EventFrameBatch((b) => flushed.push(b));
  // ~3 MB in all: several 256 KB chunks, and one batch of events bigger than a chunk.
  for (let turn = 0; turn < 60; turn++) {
    const events = turn === 30 ? Array.from({ length: 1200 }, () => event(p)) : [event(p)];
    const enc = encodedEvents(events);
    for (let w = 0; w < 1 + p.int(40); w++) {
      const watchId = p.int(1000);
      batch.add(watchId, header, enc);
      want.push(frameMessage(encodeWatchResponse({ header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events })));
    }
    if (p.chance(0.5)) batch.flush();
    else await Promise.resolve(); // the turn ends: the microtask flushes
  }
  batch.flush();
  // Compared only now: a later add must not have written over bytes handed out earlier.
  assert.ok(Buffer.concat(flushed).equals(Buffer.concat(want)));
  assert.ok(flushed.length > 30);
  assert.equal(batch.bytes, 0);
});

test('pooled chunks are reused only once what was queued before is sent: two streams, a slow reader', async () => {
  const p = new Prng(11);
  const header = { clusterId: 1n, memberId: 2n, revision: 5, raftTerm: 1 };
  // A stream as the connection sees it: views queued until "sent" (copied out, as the kernel
  // does), in order, a random number of bytes at a time.
  const streams = [0, 1].map(() => {
    const st = { queue: [] as Buffer[], queued: 0, sent: [] as Buffer[], want: [] as Buffer[], batch: undefined as unknown as EventFrameBatch };
    st.batch = new EventFrameBatch(
      (b) => {
        st.queue.push(b);
        st.queued += b.length;
      },
      (recent) => st.queued <= recent,
    );
    return st;
  });
  const send = (st: (typeof streams)[number], max: number): void => {
    while (max > 0 && st.queue.length > 0) {
      const head = st.queue[0]!;
      const n = Math.min(max, head.length);
      st.sent.push(Buffer.from(head.subarray(0, n)));
      st.queued -= n;
      max -= n;
      if (n === head.length) st.queue.shift();
      else st.queue[0] = head.subarray(n);
    }
  };
  const reusesBefore = pooledChunkReuses();
  for (let turn = 0; turn < 600; turn++) {
    // Now and then a catch-up sized batch, handed over without a copy, between chunk bytes.
    const events = turn % 97 === 50 ? Array.from({ length: 100 }, () => event(p)) : [event(p)];
    const enc = encodedEvents(events);
    for (const st of streams) {
      for (let w = 0; w < 1 + p.int(200); w++) {
        const watchId = 1 + p.int(50);
        st.batch.add(watchId, header, enc);
        st.want.push(frameMessage(encodeWatchResponse({ header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events })));
      }
    }
    await Promise.resolve();
    // Stream 0 reads fast; stream 1 falls behind by more than a chunk, now and then catches up.
    send(streams[0]!, p.chance(0.8) ? Infinity : 4096);
    send(streams[1]!, p.chance(0.01) ? Infinity : p.int(2000));
  }
  for (const st of streams) {
    st.batch.flush();
    send(st, Infinity);
    assert.ok(Buffer.concat(st.sent).equals(Buffer.concat(st.want)));
  }
  assert.ok(pooledChunkReuses() > reusesBefore, 'chunks were reused');
});

test('a big events batch is not copied per watcher: every frame points at the one encoding, and the bytes are right', async () => {
  const p = new Prng(23);
  const header = { clusterId: 3n, memberId: 4n, revision: 1234, raftTerm: 7 };
  const small = [event(p)];
  const big = Array.from({ length: 200 }, () => event(p));
  const bigEnc = encodedEvents(big);
  assert.ok(bigEnc.length > 16 * 1024, `big enough (${bigEnc.length} bytes)`);
  const flushed: Buffer[] = [];
  const want: Buffer[] = [];
  const batch = new EventFrameBatch((b) => flushed.push(b));
  const res = (watchId: number, events: Event[]): WatchResponse => ({ header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events });
  for (let w = 0; w < 50; w++) {
    const events = w % 3 === 0 ? small : big;
    batch.add(w, header, encodedEvents(events));
    want.push(frameMessage(encodeWatchResponse(res(w, events))));
  }
  await Promise.resolve();
  assert.ok(Buffer.concat(flushed).equals(Buffer.concat(want)), 'the same bytes as encoded one by one, in order');
  const sharedParts = flushed.filter((b) => b.buffer === bigEnc.buffer && b.byteOffset === bigEnc.byteOffset && b.length === bigEnc.length);
  assert.equal(sharedParts.length, 33, 'each big response hands over the shared encoding itself');
  assert.ok(flushed.every((b) => b.length === bigEnc.length || b.length < 16 * 1024), 'nothing big was copied into a chunk');
});
