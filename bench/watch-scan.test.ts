// The benchmark's lazy WatchResponse reader against the full decoder, on random responses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../common/prng.js';
import { decode, encode } from '../store/api/codec.js';
import type { Event, WatchResponse } from '../store/api/types.js';
import { scanWatchResponse } from './watch-scan.js';

function value(p: Prng): Buffer {
  const v = Buffer.alloc(p.pick([0, 3, 8, 40, 300]), 'v');
  if (v.length >= 8) v.writeDoubleLE(p.int(1e9) * 1000 + 0.5, 0);
  return v;
}

function event(p: Prng): Event {
  const kv = { key: Buffer.from(`k${p.int(100)}`), createRevision: p.int(1000), modRevision: p.int(1000), version: p.int(9), value: value(p), lease: p.chance(0.2) ? 7n : 0n };
  const ev: Event = { type: p.int(2), kv };
  if (p.chance(0.4)) ev.prevKv = { ...kv, value: value(p) };
  return ev;
}

test('scanWatchResponse finds what the full decoder finds: flags, watch ID, events and their send times', () => {
  const p = new Prng(42);
  for (let i = 0; i < 500; i++) {
    const res: WatchResponse = {
      header: { clusterId: 1n, memberId: 2n, revision: p.int(1e6), raftTerm: 3 },
      watchId: p.pick([0, 1, 17, 2 ** 33, -1]),
      created: p.chance(0.1),
      canceled: p.chance(0.1),
      compactRevision: p.chance(0.1) ? 5 : 0,
      cancelReason: p.chance(0.1) ? 'gone' : '',
      fragment: p.chance(0.1),
      events: Array.from({ length: p.int(5) }, () => event(p)),
    };
    const bytes = encode('WatchResponse', res);
    const stamps: number[] = [];
    const scan = scanWatchResponse(bytes, (s) => stamps.push(s));
    const full = decode('WatchResponse', bytes);
    assert.equal(scan.watchId, full.watchId);
    assert.equal(scan.created, full.created);
    assert.equal(scan.canceled, full.canceled);
    assert.equal(scan.events, full.events.length);
    assert.deepEqual(
      stamps,
      full.events.map((e) => (e.kv.value.length >= 8 ? e.kv.value.readDoubleLE(0) : NaN)),
    );
  }
  assert.throws(() => scanWatchResponse(Buffer.from([0x5a, 0x05, 0x01]), () => undefined), /runs past|truncated/);
});
