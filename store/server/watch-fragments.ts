// etcd's watch response fragmenting: a watch created with `fragment` gets a response larger
// than the limit (max-request-bytes + 512 KiB) split into pieces that fit, all but the last
// marked `fragment`; a response is never split below one event.

import { encodeWatchEvents, encodeWatchResponse } from '../api/codec.js';
import type { Event, WatchResponse } from '../api/types.js';

/** etcd splits above max-request-bytes plus this much. */
export const FRAGMENT_OVERHEAD = 512 * 1024;

export function fragmentLimit(maxRequestBytes: number): number {
  return maxRequestBytes + FRAGMENT_OVERHEAD;
}

/** The response as it goes out: itself, or its fragments when it is too big. */
export function fragmentWatchResponse(res: WatchResponse, limit: number, encodedSize?: number): WatchResponse[] {
  if (res.events.length < 2) return [res];
  const size = encodedSize ?? encodeWatchResponse(res).length;
  if (size <= limit) return [res];
  const out: WatchResponse[] = [];
  let batch: Event[] = [];
  let bytes = 0;
  for (const ev of res.events) {
    const s = encodeWatchEvents([ev]).length;
    if (batch.length > 0 && bytes + s > limit) {
      out.push({ ...res, events: batch, fragment: true });
      batch = [];
      bytes = 0;
    }
    batch.push(ev);
    bytes += s;
  }
  out.push({ ...res, events: batch, fragment: false });
  return out;
}
