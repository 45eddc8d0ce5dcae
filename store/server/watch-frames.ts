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

/** A stream's first chunk; each one it fills makes the next twice as big, up to BIG_CHUNK_BYTES. */
const FIRST_CHUNK_BYTES = 16 * 1024;
/**
 * Busy streams frame into chunks of this size, and these are reused (chunkPool). A fan-out
 * member sends a few hundred MB/s of event frames: a fresh buffer per turn allocated about twice
 * the bytes sent (measured on watch-fanout), and every byte of Buffer memory counts towards the
 * young generation's external limit, which forces a scavenge each time it is reached.
 */
const BIG_CHUNK_BYTES = 256 * 1024;
/**
 * Events bytes from this size on are not copied into the chunk: the frame's own first bytes are
 * flushed, then the shared events Buffer itself, which every watcher's frame can point at (the
 * connection writes such parts as they are). A watcher catching up gets responses of a few
 * hundred KB; copied once per watcher into chunks allocated for them, they were most of a
 * member's time when a stream full of them fell behind (a 0.8 s fan-out stall, traced).
 */
const SHARED_EVENTS_BYTES = 8 * 1024;
/** Free big chunks kept for any stream (1 MiB in all); more go to the garbage collector. */
const POOL_MAX = 4;
const chunkPool: Buffer[] = [];
let chunkReuses = 0;

/** How many times a stream framed into a pooled chunk (this process): for tests. */
export function pooledChunkReuses(): number {
  return chunkReuses;
}

/**
 * One stream's plain event responses of a turn, framed into one buffer: each is the 5-byte gRPC
 * prefix, the header field, the watch_id field and the shared events bytes, copied. (Copying a
 * few hundred bytes per watcher costs less than a Buffer object per part, and the connection
 * would join the parts anyway; big events are not copied, see SHARED_EVENTS_BYTES.) `flushTo`
 * gets the bytes at the end of the turn (a microtask), or earlier through flush() when something
 * else must be written after them, or when the chunk is full.
 *
 * Frames go into a chunk that later turns go on filling: what was handed to `flushTo` is a view
 * of the chunk that is not written again while anything may still read it, so nothing is copied
 * when a turn outgrows a guess and no tail is wasted. A full chunk is retired; once `sentAllBut`
 * says that every byte written to the stream before those flushed since is in the kernel, the
 * retired big chunk goes back to the pool. (Without `sentAllBut`, or while the client's window
 * keeps more than that queued, retired chunks are left to the garbage collector.)
 */
export class EventFrameBatch {
  private chunk: Buffer | undefined;
  /** Start of the bytes not flushed yet. */
  private start = 0;
  /** End of the bytes written. */
  private len = 0;
  private nextChunkBytes = FIRST_CHUNK_BYTES;
  /** The last full big chunk, which views handed out may still be reading. */
  private retired: Buffer | undefined;
  /** Bytes flushed since `retired` was: the stream's queue may hold those and not the chunk's. */
  private flushedSinceRetired = 0;
  private scheduled = false;
  private cleared = false;

  constructor(
    private readonly flushTo: (bytes: Buffer) => void,
    /** Whether all bytes written to the stream before its last `recent` are in the kernel. */
    private readonly sentAllBut: (recent: number) => boolean = () => false,
  ) {}

  /** Bytes framed and not flushed yet. */
  get bytes(): number {
    return this.len - this.start;
  }

  add(watchId: number, header: ResponseHeader, events: Buffer): void {
    const hf = headerField(header);
    const idBytes = watchId !== 0 ? 1 + int64Size(watchId) : 0;
    const n = 5 + hf.length + idBytes + events.length;
    const shared = events.length >= SHARED_EVENTS_BYTES;
    const b = this.reserve(shared ? n - events.length : n);
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
    if (shared) {
      this.len = p;
      this.flush();
      this.flushedSinceRetired += events.length;
      this.flushTo(events);
      return;
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
    if (this.len === this.start) return;
    // Checked before this turn's bytes are handed out; the retired chunk's went before those
    // flushed since, so if only those can still be queued, the chunk is free.
    if (this.retired !== undefined && !this.cleared && this.sentAllBut(this.flushedSinceRetired)) this.release();
    const out = (this.chunk as Buffer).subarray(this.start, this.len);
    this.start = this.len;
    this.flushedSinceRetired += out.length;
    this.flushTo(out);
  }

  /**
   * Drops what is not flushed (the stream is gone) and never pools the retired chunk: a stream
   * that ended may still be sending bytes that later flushes would not have counted.
   */
  clear(): void {
    this.start = this.len;
    this.retired = undefined;
    this.cleared = true;
  }

  private release(): void {
    if (chunkPool.length < POOL_MAX) chunkPool.push(this.retired as Buffer);
    this.retired = undefined;
  }

  /** A chunk with room for n more bytes at `len`; what was written before goes out first. */
  private reserve(n: number): Buffer {
    const c = this.chunk;
    if (c !== undefined && this.len + n <= c.length) return c;
    if (this.len > this.start) this.flush();
    if (c !== undefined && c.length === BIG_CHUNK_BYTES && !this.cleared) {
      // The one retired before is dropped if still unconfirmed: at most one waits per stream.
      this.retired = c;
      this.flushedSinceRetired = 0;
    }
    const size = this.nextChunkBytes;
    this.nextChunkBytes = Math.min(BIG_CHUNK_BYTES, size * 2);
    const next = n <= size && size === BIG_CHUNK_BYTES ? chunkPool.pop() : undefined;
    if (next !== undefined) chunkReuses++;
    this.chunk = next ?? Buffer.allocUnsafe(Math.max(size, n));
    this.start = 0;
    this.len = 0;
    return this.chunk;
  }
}
