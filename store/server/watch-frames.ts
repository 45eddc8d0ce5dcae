// Watch event responses as gRPC frames, built from shared parts. A revision batch goes to every
// watcher of a group with the same events and the same header; only the watch ID differs. So
// the events are encoded once (encodeWatchEvents), the header once per revision, and each
// watcher's frame is: 5-byte gRPC prefix, header field, watch_id field (a few bytes of its
// own), then the shared events bytes. The bytes equal encodeWatchResponse's (tested).

import { encodeResponseHeader, encodeWatchEvents } from '../api/codec-fast.js';
import { ProtoWriter, WireType, int64Size, varint32Size } from '../../common/proto-wire.js';
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
  const w = new ProtoWriter(1 + varint32Size(body.length) + body.length);
  w.tag(1, WireType.LEN);
  w.bytes(body);
  lastHeader = { ...h };
  lastHeaderField = w.finish();
  return lastHeaderField;
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
  const idBytes = res.watchId !== 0 ? 1 + int64Size(res.watchId) : 0;
  const w = new ProtoWriter(5 + hf.length + idBytes);
  w.buf[0] = 0;
  w.buf.writeUInt32BE(hf.length + idBytes + events.length, 1);
  w.pos = 5;
  w.raw(hf);
  if (idBytes > 0) {
    w.tag(2, WireType.VARINT);
    w.int64(res.watchId);
  }
  return [w.finish(), events];
}
