// What a benchmark watcher needs from a WatchResponse, read straight off the wire without
// building it: whether it is a creation or cancellation, its watch ID, its events and each
// event's send time (the first 8 bytes of the value, see watch-suites.ts). Decoding every event
// into objects (an Event, a KeyValue and two Buffers each) made the load generator the biggest
// consumer of CPU in a fan-out run; the client is the same for every target, and on a shared
// 2-core machine every cycle it spends is taken from the servers being measured.

import { ProtoDecodeError, ProtoReader, WireType } from '../common/proto-wire.js';

export interface WatchScan {
  watchId: number;
  created: boolean;
  canceled: boolean;
  /** Events in the response. */
  events: number;
}

const T_WATCH_ID = (2 << 3) | WireType.VARINT;
const T_CREATED = (3 << 3) | WireType.VARINT;
const T_CANCELED = (4 << 3) | WireType.VARINT;
const T_EVENTS = (11 << 3) | WireType.LEN;
const T_EVENT_KV = (2 << 3) | WireType.LEN;
const T_KV_VALUE = (5 << 3) | WireType.LEN;

/** The send time at the start of every value the watch suites write (a float64, hrtime ns). */
export const STAMP_BYTES = 8;

// The scanner's cursor. A tiny hand-written reader rather than ProtoReader: this runs for every
// event every watcher gets (millions per run), and the general reader's calls per skipped field
// were most of the load generator's CPU in a fan-out run.
let pos = 0;

/** A varint's value (exact below 2^53); moves pos past it. */
function varint(buf: Buffer, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new ProtoDecodeError('truncated varint');
    const b = buf[pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
  throw new ProtoDecodeError('varint longer than 10 bytes');
}

/** The end of the length-delimited field whose length starts at pos; pos moves to its payload. */
function delimited(buf: Buffer, end: number): number {
  const len = varint(buf, end);
  const e = pos + len;
  if (e > end) throw new ProtoDecodeError(`length ${len} runs past the end of the message`);
  return e;
}

/** Moves pos past a field's payload of wire type `wire`. */
function skip(buf: Buffer, end: number, wire: number): void {
  if (wire === WireType.VARINT) varint(buf, end);
  else if (wire === WireType.LEN) pos = delimited(buf, end);
  else if (wire === WireType.I64) pos += 8;
  else if (wire === WireType.I32) pos += 4;
  else throw new ProtoDecodeError(`unsupported wire type ${wire}`);
  if (pos > end) throw new ProtoDecodeError('truncated fixed-width field');
}

/**
 * Scans one WatchResponse. `onEvent` gets each event's send time (a float64 read from the
 * start of its value), or NaN when the value is shorter than that. Throws ProtoDecodeError on
 * bytes that are not a WatchResponse. The result is `into` when given (overwritten).
 */
export function scanWatchResponse(buf: Buffer, onEvent: (sentNs: number) => void, into?: WatchScan): WatchScan {
  // A caller scanning millions of responses passes its own result object (no garbage per call).
  const out: WatchScan = into ?? { watchId: 0, created: false, canceled: false, events: 0 };
  out.watchId = 0;
  out.created = false;
  out.canceled = false;
  out.events = 0;
  const end = buf.length;
  pos = 0;
  while (pos < end) {
    const t = varint(buf, end);
    if (t === T_EVENTS) {
      const evEnd = delimited(buf, end);
      let sent = NaN;
      while (pos < evEnd) {
        const et = varint(buf, evEnd);
        if (et !== T_EVENT_KV) {
          skip(buf, evEnd, et & 7);
          continue;
        }
        const kvEnd = delimited(buf, evEnd);
        while (pos < kvEnd) {
          const kt = varint(buf, kvEnd);
          if (kt !== T_KV_VALUE) {
            skip(buf, kvEnd, kt & 7);
            continue;
          }
          const vEnd = delimited(buf, kvEnd);
          if (vEnd - pos >= STAMP_BYTES) sent = buf.readDoubleLE(pos);
          pos = vEnd;
        }
      }
      out.events++;
      onEvent(sent);
    } else if (t === T_WATCH_ID) {
      const at = pos;
      const v = varint(buf, end);
      // Beyond 2^53 (a negative int64 is sent as 10 bytes) the float sum is inexact: read it again.
      out.watchId = v < 2 ** 53 ? v : new ProtoReader(buf, at).int64();
    } else if (t === T_CREATED) out.created = varint(buf, end) !== 0;
    else if (t === T_CANCELED) out.canceled = varint(buf, end) !== 0;
    else skip(buf, end, t & 7);
  }
  return out;
}
