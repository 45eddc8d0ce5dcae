// Watch event responses as gRPC frames, built from shared parts. A revision batch goes to every
// watcher of a group with the same events and the same header; only the watch ID differs. So
// the events are encoded once (encodeWatchEvents), the header once per revision, and each
// watcher's frame is: 5-byte gRPC prefix, header field, watch_id field (a few bytes of its
// own), then the shared events bytes. The bytes equal encodeWatchResponse's (tested).

import { encodeResponseHeader, encodeWatchEvents } from '../api/codec-fast.js';
import type { Event, ResponseHeader, WatchResponse } from '../api/types.js';

const encodedBatches = new WeakMap<readonly Event[], Buffer>();

/** The events as WatchResponse's repeated field 11, encoded once per shared events array. */
export function encodedEvents(events: readonly Event[]): Buffer {
  let b = encodedBatches.get(events);
  if (!b) {
    b = encodeWatchEvents(events);
    encodedBatches.set(events, b);
  }
  return b;
}

let lastHeader: ResponseHeader | undefined;
let lastHeaderField: Buffer | undefined;

/** The header as WatchResponse's field 1 (tag, length, bytes); the last one is reused. */
function headerField(h: ResponseHeader): Buffer {
  const l = lastHeader;
  if (l !== undefined && lastHeaderField !== undefined && l.revision === h.revision && l.raftTerm === h.raftTerm && l.memberId === h.memberId && l.clusterId === h.clusterId) {
    return lastHeaderField;
  }
  const body = encodeResponseHeader(h);
  const out = Buffer.allocUnsafe(1 + varintSize(body.length) + body.length);
  let pos = 0;
  out[pos++] = 0x0a;
  pos = writeVarint(out, pos, body.length);
  body.copy(out, pos);
  lastHeader = { ...h };
  lastHeaderField = out;
  return out;
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Whether `res` is a plain event notification (the fast path applies). */
export function isPlainEventResponse(res: WatchResponse): boolean {
  return (
    res.events.length > 0 &&
    res.watchId >= 0 &&
    !res.created &&
    !res.canceled &&
    res.compactRevision === 0 &&
    res.cancelReason.length === 0 &&
    !res.fragment
  );
}

/**
 * A plain event response as frame parts: [prefix + header + watch_id] and the shared events
 * bytes. Their concatenation is the gRPC frame of encodeWatchResponse(res).
 */
export function eventFrameParts(res: WatchResponse, events: Buffer): [Buffer, Buffer] {
  const hf = headerField(res.header);
  const idBytes = res.watchId !== 0 ? 1 + varintSize(res.watchId) : 0;
  const bodyLength = hf.length + idBytes + events.length;
  const head = Buffer.allocUnsafe(5 + hf.length + idBytes);
  head[0] = 0;
  head.writeUInt32BE(bodyLength, 1);
  hf.copy(head, 5);
  if (idBytes > 0) {
    head[5 + hf.length] = 0x10;
    writeVarint(head, 6 + hf.length, res.watchId);
  }
  return [head, events];
}
