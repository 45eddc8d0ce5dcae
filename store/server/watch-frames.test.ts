// Watch event frames built from shared parts are byte for byte the gRPC frame of
// encodeWatchResponse, for random event batches, headers and watch IDs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../common/prng.js';
import { encodeWatchResponse } from '../api/codec.js';
import { EventType, type Event, type WatchResponse } from '../api/types.js';
import { frameMessage } from './grpc-frames.js';
import { EventFrameBatch, encodedEvents, isPlainEventResponse } from './watch-frames.js';

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
