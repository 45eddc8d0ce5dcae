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
let lastHeaderObject: ResponseHeader | undefined;
let lastHeaderField: Buffer | undefined;

/** The header as WatchResponse's field 1 (tag, length, bytes); the last one is reused. */
function headerField(h: ResponseHeader): Buffer {
  if (h === lastHeaderObject && lastHeaderField !== undefined) return lastHeaderField;
  const l = lastHeader;
  if (l !== undefined && lastHeaderField !== undefined && l.revision === h.revision && l.raftTerm === h.raftTerm && l.memberId === h.memberId && l.clusterId === h.clusterId) {
    lastHeaderObject = h;
    return lastHeaderField;
  }
  const body = encodeResponseHeader(h);
  const w = new ProtoWriter(1 + varint32Size(body.length) + body.length);
  w.tag(1, WireType.LEN);
  w.bytes(body);
  lastHeader = { ...h };
  lastHeaderObject = h;
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

const FIRST_BATCH_BYTES = 16 * 1024;
const MAX_HINT_BYTES = 256 * 1024;

/**
 * One stream's plain event responses of a turn, framed into one buffer: each is the 5-byte gRPC
 * prefix, the header field, the watch_id field and the shared events bytes, copied. (Copying a
 * few hundred bytes per watcher costs less than a Buffer object per part, and the connection
 * would join the parts anyway.) `flushTo` gets the bytes at the end of the turn (a microtask),
 * or earlier through flush() when something else must be written after them.
 */
export class EventFrameBatch {
  private buf: Buffer | undefined;
  private len = 0;
  private scheduled = false;
  /**
   * Size of the last flush: the next batch starts about that big (no growing copies under steady
   * load), up to MAX_HINT_BYTES so that one burst does not make every later buffer big.
   */
  private lastBytes = 0;

  constructor(private readonly flushTo: (bytes: Buffer) => void) {}

  /** Bytes framed and not flushed yet. */
  get bytes(): number {
    return this.len;
  }

  add(watchId: number, header: ResponseHeader, events: Buffer): void {
    const hf = headerField(header);
    const idBytes = watchId !== 0 ? 1 + int64Size(watchId) : 0;
    const n = 5 + hf.length + idBytes + events.length;
    const b = this.reserve(n);
    let p = this.len;
    b[p] = 0;
    b.writeUInt32BE(n - 5, p + 1);
    p += 5;
    p += hf.copy(b, p);
    if (idBytes > 0) {
      const w = new ProtoWriter(idBytes, b, p);
      w.tag(2, WireType.VARINT);
      w.int64(watchId);
      w.finish();
      p += idBytes;
    }
    p += events.copy(b, p);
    this.len = p;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.len === 0) return;
    const out = (this.buf as Buffer).subarray(0, this.len);
    this.lastBytes = this.len;
    this.buf = undefined;
    this.len = 0;
    this.flushTo(out);
  }

  /** Drops what is not flushed (the stream is gone). */
  clear(): void {
    this.buf = undefined;
    this.len = 0;
  }

  private reserve(n: number): Buffer {
    const b = this.buf;
    if (b === undefined) return (this.buf = Buffer.allocUnsafe(Math.max(FIRST_BATCH_BYTES, n, Math.min(MAX_HINT_BYTES, this.lastBytes + (this.lastBytes >> 3)))));
    if (this.len + n <= b.length) return b;
    const bigger = Buffer.allocUnsafe(Math.max(2 * b.length, this.len + n));
    b.copy(bigger, 0, 0, this.len);
    return (this.buf = bigger);
  }
}
