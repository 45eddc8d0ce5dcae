// Copies of small byte strings that are kept for long (the Raft log's entries until the next
// compaction, the store's keys and latest values), packed into slabs of their own.
//
// Why: a small Buffer from Node's shared pool, or a view into a request or a network read,
// keeps the whole ArrayBuffer it sits in alive, garbage included. Kept views of 8 KiB pool
// chunks and network buffers pinned ~2.5x the data they held, and every one of those
// ArrayBuffers is swept by the GC. Slabs only hold kept data, so they fill up tightly; a slab
// is freed once everything in it is dropped.

const SLAB_BYTES = 64 * 1024;
/** Bigger than this: a buffer of its own (it would waste a slab's tail, or keep one alive alone). */
const MAX_SLAB_ITEM = 4 * 1024;
const EMPTY = Buffer.alloc(0);

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** A copy of `b` that keeps no other memory alive than its slab's (kept) neighbours. */
export function keepBytes(b: Uint8Array): Buffer {
  const n = b.length;
  if (n === 0) return EMPTY;
  if (n > MAX_SLAB_ITEM) {
    const own = Buffer.allocUnsafeSlow(n);
    own.set(b);
    return own;
  }
  if (used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const out = slab.subarray(used, used + n);
  out.set(b);
  used += n;
  return out;
}
