// Reading the Raft log's segments at start-up (wal.ts writes them): every frame of every
// segment, in order, replayed into the state the log describes.
//
// Where the frames of the last segment end: at an all-zero header (the zero-filled part), at the
// end of the file, or at a torn frame, i.e. one that fails its checksum or runs past the end of
// the file, and has an all-zero sector (512 bytes of the file, or the frame's part of one) or
// runs past the end, with no valid frame after it. Only the last write before a crash can be
// torn, and it was never acknowledged: it is dropped. Any other bad frame (anywhere in an
// earlier segment, or followed by a valid frame) is damage, and the log is refused: dropping it
// could lose entries this member acknowledged.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { keepBytes } from '../../common/byte-slab.js';
import type { Entry, HardState, SnapshotMetadata } from '../core/types.js';
import { FRAME_ALIGN, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, WalFormatError, decodePayload, frameBytes, frameChecksum, type LogFrame, type LogIdentity, type LogPosition } from './wal-frame.js';

const SECTOR = 512;
const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export class WalCorruptError extends Error {
  override name = 'WalCorruptError';
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;
}

export interface SegmentFile {
  seq: number;
  path: string;
}

/** The segment files of `dir`, by sequence number (other files are ignored). */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const out: SegmentFile[] = [];
  for (const name of await fsp.readdir(dir)) {
    const m = SEGMENT_NAME.exec(name);
    if (m) out.push({ seq: parseInt(m[1] as string, 16), path: join(dir, name) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

export interface SegmentScan {
  seq: number;
  path: string;
  /** Where the valid frames end (where the writer goes on, for the last segment). */
  end: number;
  /** The highest entry index written in this segment (0 if none). */
  maxIndex: number;
  /** Set when the last frame was torn (and dropped). */
  torn?: { offset: number; reason: string };
  /** Whether anything but zeros follows the valid frames (a torn frame, or what was after it). */
  dirtyTail: boolean;
}

/** What the frames say of the log besides its entries (every new segment starts with it). */
export interface LogState {
  identity: LogIdentity | undefined;
  hardState: HardState | undefined;
  snapshot: SnapshotMetadata | undefined;
  compacted: LogPosition;
}

/** Applies what frame `f` says of the state (not its entries). */
export function applyToState(st: LogState, f: LogFrame): void {
  if (f.identity) st.identity = f.identity;
  if (f.reset && f.snapshot) st.compacted = { index: f.snapshot.index, term: f.snapshot.term };
  if (f.snapshot) st.snapshot = f.snapshot;
  if (f.compacted && f.compacted.index > st.compacted.index) st.compacted = f.compacted;
  if (f.hardState) st.hardState = f.hardState;
}

/** The log as its frames describe it. */
export class ReplayedLog implements LogState {
  identity: LogIdentity | undefined;
  hardState: HardState | undefined;
  snapshot: SnapshotMetadata | undefined;
  compacted: LogPosition = { index: 0, term: 0 };
  /** Entries from `base` on; entries below it were never seen (deleted segments) or dropped. */
  entries: Entry[] = [];
  base = 0;
  /** The last forward gap seen: entries `missing`..`next`-1 were never written after those before. */
  private hole: { missing: number; next: number } | undefined;

  apply(f: LogFrame): void {
    if (f.reset && f.snapshot) {
      this.hole = undefined;
      this.entries = [];
      this.base = f.snapshot.index + 1;
    }
    applyToState(this, f);
    if (f.entries) this.appendEntries(f.entries);
  }

  private appendEntries(ents: readonly Entry[]): void {
    const first = (ents[0] as Entry).index;
    const last = this.base + this.entries.length - 1;
    if (this.entries.length === 0 || first <= this.base || first > last + 1) {
      // Empty, all replaced, or after a hole: a hole must end up below the compaction point
      // (checked by the caller once every frame is read).
      if (this.entries.length > 0 && first > last + 1) this.hole = { missing: last + 1, next: first };
      this.entries = ents.slice();
      this.base = first;
      return;
    }
    this.entries.length = first - this.base;
    for (const e of ents) this.entries.push(e);
  }

  /** Entries after the compaction point (the caller checks they start right after it). */
  live(): Entry[] {
    const drop = this.compacted.index + 1 - this.base;
    return drop > 0 ? this.entries.slice(drop) : this.entries;
  }

  /** The first live index if entries are missing between the compaction point and it. */
  firstMissing(): { missing: number; next: number } | undefined {
    if (this.entries.length === 0) return undefined;
    const last = this.base + this.entries.length - 1;
    if (last <= this.compacted.index) return undefined;
    if (this.base <= this.compacted.index + 1) return undefined;
    const h = this.hole;
    if (h && h.next === this.base && h.missing > this.compacted.index) return h;
    return { missing: this.compacted.index + 1, next: this.base };
  }
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** Whether buf is all zeros from `from` to its end (compared natively, a chunk at a time). */
function zeroFrom(buf: Buffer, from: number): boolean {
  for (let p = from; p < buf.length; p += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, buf.length - p);
    if (!buf.subarray(p, p + n).equals(n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n))) return false;
  }
  return true;
}

function allZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Whether some sector's share of [start, end) is all zeros: part of the frame never reached the disk. */
function hasZeroSector(buf: Buffer, start: number, end: number): boolean {
  for (let s = start - (start % SECTOR); s < end; s += SECTOR) {
    const from = Math.max(s, start);
    const to = Math.min(s + SECTOR, end, buf.length);
    if (to > from && allZero(buf, from, to)) return true;
  }
  return false;
}

type FrameAt = { kind: 'end' } | { kind: 'frame'; payload: Buffer; next: number } | { kind: 'bad'; reason: string; pastEnd: boolean; end: number };

function frameAt(buf: Buffer, seq: number, pos: number): FrameAt {
  if (pos + FRAME_HEADER_BYTES > buf.length) {
    return allZero(buf, pos, buf.length) ? { kind: 'end' } : { kind: 'bad', reason: 'a frame header runs past the end of the file', pastEnd: true, end: buf.length };
  }
  const len = buf.readUInt32LE(pos);
  const crc = buf.readUInt32LE(pos + 4);
  if (len === 0 && crc === 0) return { kind: 'end' };
  if (len === 0 || len > MAX_FRAME_PAYLOAD) return { kind: 'bad', reason: `bad frame length ${len}`, pastEnd: false, end: pos + FRAME_HEADER_BYTES };
  const start = pos + FRAME_HEADER_BYTES;
  if (start + len > buf.length) return { kind: 'bad', reason: `a frame of ${len} bytes runs past the end of the file`, pastEnd: true, end: buf.length };
  const payload = buf.subarray(start, start + len);
  const got = frameChecksum(seq, pos, payload);
  if (got !== crc) return { kind: 'bad', reason: `checksum mismatch (stored ${crc.toString(16)}, computed ${got.toString(16)})`, pastEnd: false, end: start + len };
  return { kind: 'frame', payload, next: pos + frameBytes(len) };
}

/** Whether a valid frame starts anywhere in `buf` at or after `from`. */
function validFrameAfter(buf: Buffer, seq: number, from: number): boolean {
  for (let p = from + ((FRAME_ALIGN - (from % FRAME_ALIGN)) % FRAME_ALIGN); p + FRAME_HEADER_BYTES <= buf.length; p += FRAME_ALIGN) {
    if (buf.readUInt32LE(p) === 0) continue;
    if (frameAt(buf, seq, p).kind === 'frame') return true;
  }
  return false;
}

/**
 * Reads one segment's frames into `log`. `last`: the newest segment, where a torn frame at the
 * end is dropped; anywhere else a bad frame is damage (WalCorruptError).
 */
export function scanSegment(buf: Buffer, seg: SegmentFile, last: boolean, log: ReplayedLog): SegmentScan {
  const out: SegmentScan = { seq: seg.seq, path: seg.path, end: 0, maxIndex: 0, dirtyTail: false };
  let pos = 0;
  for (;;) {
    const f = frameAt(buf, seg.seq, pos);
    if (f.kind === 'end') break;
    if (f.kind === 'bad') {
      const torn = last && (f.pastEnd || hasZeroSector(buf, pos, f.end)) && !validFrameAfter(buf, seg.seq, pos + FRAME_ALIGN);
      if (!torn) throw new WalCorruptError(`segment ${seg.path}, frame at offset ${pos}: ${f.reason}`);
      out.torn = { offset: pos, reason: f.reason };
      break;
    }
    let frame: LogFrame;
    try {
      frame = decodePayload(f.payload);
    } catch (e) {
      if (e instanceof WalFormatError) throw new WalCorruptError(`segment ${seg.path}, frame at offset ${pos}: ${e.message}`);
      throw e;
    }
    if (frame.entries) {
      out.maxIndex = Math.max(out.maxIndex, (frame.entries[frame.entries.length - 1] as Entry).index);
      // Copied out: a view would keep the whole segment's buffer alive for as long as the entry.
      for (const e of frame.entries) e.data = keepBytes(e.data);
    }
    log.apply(frame);
    pos = f.next;
  }
  out.end = pos;
  out.dirtyTail = !zeroFrom(buf, pos);
  return out;
}

/** Reads every segment of `dir` in order. Segment numbers must follow each other. */
export async function readWal(dir: string): Promise<{ log: ReplayedLog; segments: SegmentScan[] }> {
  const files = await listSegments(dir);
  const log = new ReplayedLog();
  const segments: SegmentScan[] = [];
  for (let i = 0; i < files.length; i++) {
    const seg = files[i] as SegmentFile;
    if (i > 0 && seg.seq !== (files[i - 1] as SegmentFile).seq + 1) {
      throw new WalCorruptError(`segment ${(files[i - 1] as SegmentFile).seq + 1} is missing (the next one is ${seg.path})`);
    }
    const buf = await fsp.readFile(seg.path);
    segments.push(scanSegment(buf, seg, i === files.length - 1, log));
  }
  return { log, segments };
}
