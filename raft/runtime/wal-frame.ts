// One frame of the Raft log on disk, and its payload (LogFrame in proto/raft/wal.proto, encoded
// and decoded by hand on common/proto-wire: every Ready of every member is one frame).
//
//   [payload length u32 LE][checksum u32 LE][payload][zeros up to a multiple of 8 bytes]
//
// The checksum is the CRC-32 of (segment number u64 LE, frame offset u64 LE, payload): a frame
// only verifies at the place where it was written, so neither a stale frame nor frame-shaped
// bytes inside some entry's data can pass for one. Segments are zero-filled ahead of the writer,
// so an all-zero header is where the written part of a segment ends (a real header never is:
// a payload is never empty).

import { crc32 } from 'node:zlib';
import { ProtoDecodeError, ProtoReader, ProtoWriter, WireType, int64Size, readSubMessage, varint32Size } from '../../common/proto-wire.js';
import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '../core/types.js';

export const FRAME_HEADER_BYTES = 8;
export const FRAME_ALIGN = 8;
/** The largest payload accepted: a Ready bigger than this is refused rather than half-written. */
export const MAX_FRAME_PAYLOAD = 512 * 1024 * 1024;

export interface LogPosition {
  index: number;
  term: number;
}

export interface LogIdentity {
  clusterId: string;
  memberId: number;
  name: string;
}

export interface LogFrame {
  identity?: LogIdentity;
  reset?: boolean;
  snapshot?: SnapshotMetadata;
  compacted?: LogPosition;
  /** Consecutive indexes. */
  entries?: readonly Entry[];
  hardState?: HardState;
}

export class WalFormatError extends Error {
  override name = 'WalFormatError';
}

// ------------------------------------------------------------------ sizes

function num(v: number): number {
  return v === 0 ? 0 : 1 + int64Size(v);
}

function delimited(len: number): number {
  return 1 + varint32Size(len) + len;
}

function idsSize(ids: readonly number[]): number {
  let n = 0;
  for (const id of ids) n += int64Size(id);
  return n;
}

function confStateSize(cs: ConfState): number {
  return (cs.voters.length > 0 ? delimited(idsSize(cs.voters)) : 0) + (cs.learners.length > 0 ? delimited(idsSize(cs.learners)) : 0);
}

function metadataSize(md: SnapshotMetadata): number {
  return num(md.index) + num(md.term) + delimited(confStateSize(md.confState));
}

function entrySize(e: Entry): number {
  return num(e.term) + num(e.index) + num(e.type) + (e.data.length > 0 ? delimited(e.data.length) : 0);
}

function positionSize(p: LogPosition): number {
  return num(p.index) + num(p.term);
}

function hardStateSize(h: HardState): number {
  return num(h.term) + num(h.vote) + num(h.commit);
}

function identitySize(id: LogIdentity): number {
  const c = Buffer.byteLength(id.clusterId);
  const n = Buffer.byteLength(id.name);
  return (c > 0 ? delimited(c) : 0) + num(id.memberId) + (n > 0 ? delimited(n) : 0);
}

/** Bytes of the LogFrame message. */
export function payloadSize(f: LogFrame): number {
  let n = 0;
  if (f.identity) n += delimited(identitySize(f.identity));
  if (f.reset) n += 2;
  if (f.snapshot) n += delimited(metadataSize(f.snapshot));
  if (f.compacted) n += delimited(positionSize(f.compacted));
  if (f.entries) for (const e of f.entries) n += delimited(entrySize(e));
  if (f.hardState) n += delimited(hardStateSize(f.hardState));
  return n;
}

/** Bytes a frame with this payload takes in a segment, header and padding included. */
export function frameBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes + ((FRAME_ALIGN - (payloadBytes % FRAME_ALIGN)) % FRAME_ALIGN);
}

// ------------------------------------------------------------------ encoding

const tag = (field: number, wire: WireType): number => (field << 3) | wire;

function writeNum(w: ProtoWriter, field: number, v: number): void {
  if (v === 0) return;
  w.varint32(tag(field, WireType.VARINT));
  w.int64(v);
}

function writeIds(w: ProtoWriter, field: number, ids: readonly number[]): void {
  if (ids.length === 0) return;
  w.varint32(tag(field, WireType.LEN));
  w.varint32(idsSize(ids));
  for (const id of ids) w.int64(id);
}

function writeMetadata(w: ProtoWriter, md: SnapshotMetadata): void {
  writeNum(w, 1, md.index);
  writeNum(w, 2, md.term);
  w.varint32(tag(3, WireType.LEN));
  w.varint32(confStateSize(md.confState));
  writeIds(w, 1, md.confState.voters);
  writeIds(w, 2, md.confState.learners);
}

function writeString(w: ProtoWriter, field: number, s: string): void {
  const len = Buffer.byteLength(s);
  if (len === 0) return;
  w.varint32(tag(field, WireType.LEN));
  w.string(s, len);
}

function writePayload(w: ProtoWriter, f: LogFrame): void {
  if (f.identity) {
    w.varint32(tag(1, WireType.LEN));
    w.varint32(identitySize(f.identity));
    writeString(w, 1, f.identity.clusterId);
    writeNum(w, 2, f.identity.memberId);
    writeString(w, 3, f.identity.name);
  }
  if (f.reset) {
    w.varint32(tag(2, WireType.VARINT));
    w.bool(true);
  }
  if (f.snapshot) {
    w.varint32(tag(3, WireType.LEN));
    w.varint32(metadataSize(f.snapshot));
    writeMetadata(w, f.snapshot);
  }
  if (f.compacted) {
    w.varint32(tag(4, WireType.LEN));
    w.varint32(positionSize(f.compacted));
    writeNum(w, 1, f.compacted.index);
    writeNum(w, 2, f.compacted.term);
  }
  if (f.entries) {
    for (const e of f.entries) {
      w.varint32(tag(5, WireType.LEN));
      w.varint32(entrySize(e));
      writeNum(w, 1, e.term);
      writeNum(w, 2, e.index);
      writeNum(w, 3, e.type);
      if (e.data.length > 0) {
        w.varint32(tag(4, WireType.LEN));
        w.bytes(e.data);
      }
    }
  }
  if (f.hardState) {
    w.varint32(tag(6, WireType.LEN));
    w.varint32(hardStateSize(f.hardState));
    writeNum(w, 1, f.hardState.term);
    writeNum(w, 2, f.hardState.vote);
    writeNum(w, 3, f.hardState.commit);
  }
}

/** Just the LogFrame message (for tests and tools). */
export function encodePayload(f: LogFrame): Buffer {
  const w = new ProtoWriter(payloadSize(f));
  writePayload(w, f);
  return w.finish();
}

const place = Buffer.alloc(16);
const TWO_32 = 4294967296;

/** The checksum of a payload written at `offset` of segment `segment`. */
export function frameChecksum(segment: number, offset: number, payload: Uint8Array): number {
  place.writeUInt32LE(segment % TWO_32, 0);
  place.writeUInt32LE(Math.floor(segment / TWO_32), 4);
  place.writeUInt32LE(offset % TWO_32, 8);
  place.writeUInt32LE(Math.floor(offset / TWO_32), 12);
  return crc32(payload, crc32(place));
}

/** The whole frame, ready to be written at `offset` of segment `segment`. */
export function encodeFrame(f: LogFrame, segment: number, offset: number): Buffer {
  const size = payloadSize(f);
  if (size === 0) throw new WalFormatError('an empty log frame');
  if (size > MAX_FRAME_PAYLOAD) throw new WalFormatError(`a log frame of ${size} bytes is over the limit of ${MAX_FRAME_PAYLOAD}`);
  const total = frameBytes(size);
  const buf = Buffer.allocUnsafe(total);
  const w = new ProtoWriter(size, buf, FRAME_HEADER_BYTES);
  writePayload(w, f);
  w.finish();
  buf.fill(0, FRAME_HEADER_BYTES + size);
  buf.writeUInt32LE(size, 0);
  buf.writeUInt32LE(frameChecksum(segment, offset, buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + size)), 4);
  return buf;
}

// ------------------------------------------------------------------ decoding

function readIds(r: ProtoReader, wire: number, out: number[]): void {
  if (wire === WireType.VARINT) {
    out.push(r.uint64());
    return;
  }
  readSubMessage(
    r,
    (rr, end) => {
      while (rr.pos < end) out.push(rr.uint64());
    },
    undefined,
  );
}

function readConfState(r: ProtoReader, end: number): ConfState {
  const cs: ConfState = { voters: [], learners: [] };
  while (r.pos < end) {
    const t = r.tag();
    if (t >>> 3 === 1) readIds(r, t & 7, cs.voters);
    else if (t >>> 3 === 2) readIds(r, t & 7, cs.learners);
    else r.skip(t & 7);
  }
  return cs;
}

function readMetadata(r: ProtoReader, end: number): SnapshotMetadata {
  const md: SnapshotMetadata = { index: 0, term: 0, confState: { voters: [], learners: [] } };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, WireType.VARINT):
        md.index = r.uint64();
        break;
      case tag(2, WireType.VARINT):
        md.term = r.uint64();
        break;
      case tag(3, WireType.LEN):
        md.confState = readSubMessage(r, readConfState, undefined);
        break;
      default:
        r.skip(t & 7);
    }
  }
  return md;
}

function readEntry(r: ProtoReader, end: number): Entry {
  const e: Entry = { term: 0, index: 0, type: 0 as EntryType, data: EMPTY };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, WireType.VARINT):
        e.term = r.uint64();
        break;
      case tag(2, WireType.VARINT):
        e.index = r.uint64();
        break;
      case tag(3, WireType.VARINT):
        e.type = r.varint32() as EntryType;
        break;
      case tag(4, WireType.LEN):
        e.data = r.bytes();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return e;
}

const EMPTY = new Uint8Array(0);

function readPair(r: ProtoReader, end: number): [number, number, number] {
  // Fields 1, 2, 3 as numbers (LogPosition, HardState).
  const v: [number, number, number] = [0, 0, 0];
  while (r.pos < end) {
    const t = r.tag();
    const field = t >>> 3;
    if ((t & 7) === WireType.VARINT && field >= 1 && field <= 3) v[field - 1] = r.uint64();
    else r.skip(t & 7);
  }
  return v;
}

function readIdentity(r: ProtoReader, end: number): LogIdentity {
  const id: LogIdentity = { clusterId: '', memberId: 0, name: '' };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, WireType.LEN):
        id.clusterId = r.string();
        break;
      case tag(2, WireType.VARINT):
        id.memberId = r.uint64();
        break;
      case tag(3, WireType.LEN):
        id.name = r.string();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return id;
}

/**
 * Decodes a LogFrame. Entry data shares memory with `payload`. Throws WalFormatError when the
 * bytes are not one (they passed their checksum, so this means a bug or a foreign file).
 */
export function decodePayload(payload: Uint8Array): LogFrame {
  const r = new ProtoReader(payload);
  const f: LogFrame = {};
  const entries: Entry[] = [];
  try {
    while (r.pos < r.end) {
      const t = r.tag();
      switch (t) {
        case tag(1, WireType.LEN):
          f.identity = readSubMessage(r, readIdentity, undefined);
          break;
        case tag(2, WireType.VARINT):
          f.reset = r.bool();
          break;
        case tag(3, WireType.LEN):
          f.snapshot = readSubMessage(r, readMetadata, undefined);
          break;
        case tag(4, WireType.LEN): {
          const [index, term] = readSubMessage(r, readPair, undefined);
          f.compacted = { index, term };
          break;
        }
        case tag(5, WireType.LEN):
          entries.push(readSubMessage(r, readEntry, undefined));
          break;
        case tag(6, WireType.LEN): {
          const [term, vote, commit] = readSubMessage(r, readPair, undefined);
          f.hardState = { term, vote, commit };
          break;
        }
        default:
          r.skip(t & 7);
      }
    }
  } catch (e) {
    if (e instanceof ProtoDecodeError) throw new WalFormatError(`undecodable log frame: ${e.message}`);
    throw e;
  }
  if (r.pos !== r.end) throw new WalFormatError('undecodable log frame: a field runs past its end');
  for (let i = 1; i < entries.length; i++) {
    if ((entries[i] as Entry).index !== (entries[i - 1] as Entry).index + 1) throw new WalFormatError(`log frame: entry ${(entries[i] as Entry).index} does not follow entry ${(entries[i - 1] as Entry).index}`);
  }
  if (entries.length > 0) f.entries = entries;
  return f;
}
