// What a benchmark watcher needs from a WatchResponse, read straight off the wire without
// building it: whether it is a creation or cancellation, its watch ID, its events and each
// event's send time (the first 8 bytes of the value, see watch-suites.ts). Decoding every event
// into objects (an Event, a KeyValue and two Buffers each) made the load generator the biggest
// consumer of CPU in a fan-out run; the client is the same for every target, and on a shared
// 2-core machine every cycle it spends is taken from the servers being measured.

import { ProtoReader, WireType } from '../common/proto-wire.js';

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

/**
 * Scans one WatchResponse. `onEvent` gets each event's send time (a float64 read from the
 * start of its value), or NaN when the value is shorter than that. Throws ProtoDecodeError on
 * bytes that are not a WatchResponse.
 */
export function scanWatchResponse(buf: Buffer, onEvent: (sentNs: number) => void): WatchScan {
  const out: WatchScan = { watchId: 0, created: false, canceled: false, events: 0 };
  const r = new ProtoReader(buf);
  const end = buf.length;
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case T_WATCH_ID:
        out.watchId = r.int64();
        break;
      case T_CREATED:
        out.created = r.bool();
        break;
      case T_CANCELED:
        out.canceled = r.bool();
        break;
      case T_EVENTS: {
        const evEnd = r.delimited();
        let sent = NaN;
        while (r.pos < evEnd) {
          const et = r.tag();
          if (et !== T_EVENT_KV) {
            r.skip(et & 7);
            continue;
          }
          const kvEnd = r.delimited();
          while (r.pos < kvEnd) {
            const kt = r.tag();
            if (kt !== T_KV_VALUE) {
              r.skip(kt & 7);
              continue;
            }
            const vEnd = r.delimited();
            if (vEnd - r.pos >= STAMP_BYTES) sent = buf.readDoubleLE(r.pos);
            r.pos = vEnd;
          }
        }
        out.events++;
        onEvent(sent);
        break;
      }
      default:
        r.skip(t & 7);
    }
  }
  return out;
}
