// The Raft log's write-ahead log: segment files of frames (wal-frame.ts), appended one frame per
// Ready, each durable when its write returns. Read back by wal-reader.ts.
//
// Why not LevelDB (which held the log before): an entry is written once and deleted after a
// compaction, the worst case for an LSM tree (memtable, level-0 files, compactions and the
// deletes' tombstones, all on two cores shared with the rest of the member), and a synced
// LevelDB batch took ~220 µs here against ~140 µs for one O_DSYNC write into a zero-filled file
// (bench/README.md, performance log entry 10). This is etcd's own design (wal/), reduced:
//
// - Segments `<seq>-<first index>.wal` (16 hex digits each), rolled over at `segmentBytes`.
//   Every segment starts with a frame of the log's state (identity, hard state, snapshot,
//   compaction point), so older segments can be deleted once all their entries are compacted.
// - Frames are written with O_DSYNC at the end of the current segment: one system call makes a
//   frame durable (made from the main thread for all but big frames and frames of many entries,
//   see SYNC_WRITE_BYTES and POOL_WRITE_ENTRIES).
//   Ahead of the writer, a second descriptor zero-fills the segment in chunks and syncs them,
//   so (a) a write is a pure overwrite that needs no file-size update to be durable, and (b)
//   the end of the written frames is an all-zero header. The writer never writes into a chunk
//   whose zero-fill is still in flight.
// - At open, the last segment is cut back to the end of its valid frames (a torn last frame, or
//   leftovers after it), so new frames follow the old ones with nothing in between.

import { constants as C, promises as fsp, close, fdatasync, open, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { invariant } from '../../common/assert.js';
import type { Entry } from '../core/types.js';
import { encodeFrame, frameBytes, payloadSize, type LogFrame } from './wal-frame.js';
import { ReplayedLog, applyToState, readWal, segmentName, type LogState, type SegmentScan } from './wal-reader.js';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Zero-fill this much at a time, when less than half of it is left ahead of the writer. */
const FILL_CHUNK = 1024 * 1024;
const FILL_LOW_WATER = FILL_CHUNK / 2;
const ZEROS = Buffer.alloc(FILL_CHUNK);
/**
 * Frames up to this size are written from the main thread. The Ready loop waits for the write
 * either way; what else waits (a read, a watch delivery) waits for one fsync at most. A round
 * trip through libuv's thread pool instead (wake a worker, then wake the loop when it is done)
 * cost ~9% of put-seq's throughput and much of its tail on this VM, and measured neither
 * better nor worse under 100 concurrent writers. Bigger frames (a follower catching up) go
 * through the pool.
 */
const SYNC_WRITE_BYTES = 256 * 1024;
/**
 * Frames of this many entries or more go through the pool too, whatever their size: that many
 * proposals at once means many clients, and while the write is in flight the loop has their
 * other work to do (acknowledgements, applying what is durable, answers, watch events), which a
 * write from this thread would hold back. Under watch fan-out every frame had 8 or more entries
 * and this was ~5% more events a second; one client writing in turn makes frames of one entry,
 * which stay on this thread (bench/README.md, entry 19).
 */
const POOL_WRITE_ENTRIES = 8;

export interface WalOptions {
  /** Roll over to a new segment once a frame would take the current one past this size. */
  segmentBytes?: number;
}

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, 0o600, (e, fd) => (e ? reject(e) : resolve(fd))));
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (e) => (e ? reject(e) : resolve())));
}

function syncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

function writeFd(fd: number, buf: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buf, offset, buf.length - offset, position, (e, n) => (e ? reject(e) : resolve(n))));
}

async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) done += await writeFd(fd, buf, done, position + done);
}

function writeAllSync(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/** Makes the directory entries of `dir` (new and removed files) durable. */
export async function syncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

interface Segment {
  seq: number;
  path: string;
  /** Where the next frame goes. */
  end: number;
  /** The end of the segment's first frame (the state), written when it was created. */
  headerEnd: number;
  /** Everything below this is zeros or frames, and durable. */
  zeroedEnd: number;
  maxIndex: number;
  /** O_DSYNC, for frames. */
  fd: number;
  /** Plain, for zero-filling ahead. */
  fillFd: number;
}

export class Wal {
  private cur: Segment;
  /** Older segments, oldest first, with the highest entry index each holds. */
  private readonly older: { seq: number; path: string; maxIndex: number }[];
  private fill: { start: number; done: Promise<void> } | undefined;
  private appending = false;
  private failed: Error | undefined;
  private closed = false;
  private deleting: Promise<void> = Promise.resolve();
  /** The last zero-fill or segment deletion failure (space only; for logs and tests). */
  backgroundError: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    cur: Segment,
    older: { seq: number; path: string; maxIndex: number }[],
    /** The state every new segment starts with (a frame of its own). */
    private readonly head: LogState,
  ) {
    this.cur = cur;
    this.older = older;
    this.maybeFill();
  }

  /** Opens the log in `dir` (created if missing), replaying every frame; see wal-reader.ts. */
  static async open(dir: string, o: WalOptions = {}): Promise<{ wal: Wal; log: ReplayedLog; torn: SegmentScan['torn'] }> {
    const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    invariant(segmentBytes >= 4096, () => `WAL segment size ${segmentBytes} is below 4096 bytes`);
    await fsp.mkdir(dir, { recursive: true });
    const { log, segments } = await readWal(dir);
    const head: LogState = { identity: log.identity, hardState: log.hardState, snapshot: log.snapshot, compacted: log.compacted };
    const last = segments[segments.length - 1];
    let cur: Segment;
    if (!last) {
      const path = join(dir, segmentName(0, 0));
      cur = await Wal.createSegment(path, 0);
      await syncDir(dir);
    } else {
      const fd = await openFd(last.path, C.O_WRONLY | C.O_DSYNC);
      const fillFd = await openFd(last.path, C.O_WRONLY);
      const size = (await fsp.stat(last.path)).size;
      if (last.dirtyTail) {
        // Whatever follows the last valid frame (a torn frame) goes, so new frames come right after.
        await fsp.truncate(last.path, last.end);
        await syncFd(fd);
      }
      cur = { seq: last.seq, path: last.path, end: last.end, headerEnd: 0, zeroedEnd: last.dirtyTail ? last.end : size, maxIndex: last.maxIndex, fd, fillFd };
    }
    const older = segments.slice(0, -1).map((s) => ({ seq: s.seq, path: s.path, maxIndex: s.maxIndex }));
    const wal = new Wal(dir, segmentBytes, cur, older, head);
    wal.lastIndexWritten = log.entries.length > 0 ? log.base + log.entries.length - 1 : log.compacted.index;
    return { wal, log, torn: last?.torn };
  }

  private static async createSegment(path: string, seq: number): Promise<Segment> {
    const fd = await openFd(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_DSYNC);
    const fillFd = await openFd(path, C.O_WRONLY);
    return { seq, path, end: 0, headerEnd: 0, zeroedEnd: 0, maxIndex: 0, fd, fillFd };
  }

  /** The highest entry index written so far (0 if none), for naming the next segment. */
  private lastIndexWritten = 0;

  /** An append has not finished its write yet (appends of small frames finish inside the call). */
  get isAppending(): boolean {
    return this.appending;
  }

  /** Appends one frame; it is durable when this resolves. One append at a time. */
  async append(f: LogFrame): Promise<void> {
    if (this.failed) throw new Error(`raft log ${this.dir} failed earlier: ${this.failed.message}`);
    invariant(!this.closed, 'append on a closed WAL');
    invariant(!this.appending, 'WAL appends must not overlap');
    this.appending = true;
    try {
      const size = frameBytes(payloadSize(f));
      if (this.cur.end > this.cur.headerEnd && this.cur.end + size > this.segmentBytes) await this.roll(f);
      const seg = this.cur;
      const buf = encodeFrame(f, seg.seq, seg.end);
      const fill = this.fill;
      if (fill && seg.end + buf.length > fill.start) await fill.done;
      if (buf.length <= SYNC_WRITE_BYTES && (f.entries?.length ?? 0) < POOL_WRITE_ENTRIES) writeAllSync(seg.fd, buf, seg.end);
      else await writeAll(seg.fd, buf, seg.end);
      seg.end += buf.length;
      if (f.entries && f.entries.length > 0) {
        const last = (f.entries[f.entries.length - 1] as Entry).index;
        seg.maxIndex = Math.max(seg.maxIndex, last);
        this.lastIndexWritten = last;
      }
      applyToState(this.head, f);
      this.maybeFill();
    } catch (e) {
      this.failed = e as Error;
      throw e;
    } finally {
      this.appending = false;
    }
  }

  /** Starts the next segment with the state as its first frame. */
  private async roll(next: LogFrame): Promise<void> {
    const old = this.cur;
    const first = next.entries && next.entries.length > 0 ? (next.entries[0] as Entry).index : this.lastIndexWritten + 1;
    const seg = await Wal.createSegment(join(this.dir, segmentName(old.seq + 1, first)), old.seq + 1);
    const h = this.head;
    const state: LogFrame = {};
    if (h.identity) state.identity = h.identity;
    if (h.snapshot) state.snapshot = h.snapshot;
    if (h.compacted.index > 0) state.compacted = h.compacted;
    if (h.hardState) state.hardState = h.hardState;
    if (payloadSize(state) > 0) {
      const buf = encodeFrame(state, seg.seq, 0);
      await writeAll(seg.fd, buf, 0);
      seg.end = buf.length;
      seg.headerEnd = buf.length;
    }
    await syncDir(this.dir);
    if (this.fill) await this.fill.done;
    this.cur = seg;
    this.older.push({ seq: old.seq, path: old.path, maxIndex: old.maxIndex });
    await closeFd(old.fd);
    await closeFd(old.fillFd);
  }

  /** Keeps FILL_CHUNK of zeros ahead of the writer (up to the segment size). */
  private maybeFill(): void {
    if (this.fill || this.closed || this.failed) return;
    const seg = this.cur;
    if (seg.zeroedEnd - seg.end >= FILL_LOW_WATER) return;
    const start = Math.max(seg.zeroedEnd, seg.end);
    const end = Math.min(start + FILL_CHUNK, Math.max(this.segmentBytes, start));
    if (end <= start) return;
    const done = (async () => {
      await writeAll(seg.fillFd, ZEROS.subarray(0, end - start), start);
      await syncFd(seg.fillFd);
      seg.zeroedEnd = Math.max(seg.zeroedEnd, end);
    })().catch((e: unknown) => {
      // Only the speed of later writes is at stake (they extend the file instead).
      this.backgroundError = e as Error;
    });
    this.fill = { start, done };
    void done.then(() => {
      this.fill = undefined;
      if (!this.backgroundError) this.maybeFill();
    });
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `index` (the compaction point,
   * already durable in a frame), in the background.
   */
  releaseTo(index: number): void {
    const gone: string[] = [];
    while (this.older.length > 0 && (this.older[0] as { maxIndex: number }).maxIndex <= index) gone.push((this.older.shift() as { path: string }).path);
    if (gone.length === 0) return;
    this.deleting = this.deleting
      .then(async () => {
        for (const p of gone) await fsp.rm(p, { force: true });
      })
      .catch((e: unknown) => {
        this.backgroundError = e as Error;
      });
  }

  /** Segment files in use, oldest first (for tests and tools). */
  segmentPaths(): string[] {
    return [...this.older.map((s) => s.path), this.cur.path];
  }

  /** Resolves when background work started so far (zero-fill, deletions) is done. */
  async settled(): Promise<void> {
    while (this.fill) await this.fill.done;
    await this.deleting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.settled();
    await closeFd(this.cur.fd);
    await closeFd(this.cur.fillFd);
  }
}
