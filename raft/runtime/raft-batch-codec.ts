// The Batch of Raft messages (proto/raft/raft.proto: Batch, Message, Entry, SnapshotMetadata,
// ConfState), encoded and decoded by hand. Every append, acknowledgement and heartbeat goes
// through here on every member, and protobufjs' object conversion (fromObject, Long for each
// uint64) cost the leader several percent of its CPU; this writes the same proto3 wire format
// straight into one buffer. Numbers are JS numbers (terms, indexes and member ids are safe
// integers); the decoder accepts anything a proto3 encoder may send (fields in any order,
// packed or unpacked repeated ids, unknown fields skipped).

import type { ConfState, Entry, Message, SnapshotMetadata } from '../core/types.js';

const EMPTY = new Uint8Array(0);
const TWO_32 = 4294967296;

export class BatchDecodeError extends Error {
  override name = 'BatchDecodeError';
}

// ------------------------------------------------------------------ sizes

function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/** A non-zero varint field: tag byte + value. */
function numField(v: number): number {
  return v === 0 ? 0 : 1 + varintSize(v);
}

function bytesField(len: number): number {
  return 1 + varintSize(len) + len;
}

function entrySize(e: Entry): number {
  return numField(e.term) + numField(e.index) + numField(e.type) + (e.data.length > 0 ? bytesField(e.data.length) : 0);
}

function idsSize(ids: readonly number[]): number {
  let n = 0;
  for (const id of ids) n += varintSize(id);
  return n;
}

function confStateSize(cs: ConfState): number {
  return (cs.voters.length > 0 ? bytesField(idsSize(cs.voters)) : 0) + (cs.learners.length > 0 ? bytesField(idsSize(cs.learners)) : 0);
}

function metaSize(md: SnapshotMetadata): number {
  return numField(md.index) + numField(md.term) + bytesField(confStateSize(md.confState));
}

// ------------------------------------------------------------------ writer

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(v: number): void {
    const b = this.buf;
    if (v < 0x80) {
      b[this.pos++] = v;
      return;
    }
    while (v >= TWO_32) {
      b[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  num(tag: number, v: number): void {
    if (v === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(v);
  }

  bytes(tag: number, data: Uint8Array): void {
    this.buf[this.pos++] = tag;
    this.varint(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  ids(tag: number, ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(idsSize(ids));
    for (const id of ids) this.varint(id);
  }
}

// Tags: (field << 3) | wire type (0 varint, 2 length-delimited).
const T_BATCH_MESSAGE = (1 << 3) | 2;
const T_MSG_TYPE = 1 << 3;
const T_MSG_TO = 2 << 3;
const T_MSG_FROM = 3 << 3;
const T_MSG_TERM = 4 << 3;
const T_MSG_LOGTERM = 5 << 3;
const T_MSG_INDEX = 6 << 3;
const T_MSG_ENTRY = (7 << 3) | 2;
const T_MSG_COMMIT = 8 << 3;
const T_MSG_SNAPSHOT = (9 << 3) | 2;
const T_MSG_REJECT = 10 << 3;
const T_MSG_REJECTHINT = 11 << 3;
const T_MSG_CONTEXT = (12 << 3) | 2;
const T_ENT_TERM = 1 << 3;
const T_ENT_INDEX = 2 << 3;
const T_ENT_TYPE = 3 << 3;
const T_ENT_DATA = (4 << 3) | 2;
const T_MD_INDEX = 1 << 3;
const T_MD_TERM = 2 << 3;
const T_MD_CONFSTATE = (3 << 3) | 2;
const T_CS_VOTERS = (1 << 3) | 2;
const T_CS_LEARNERS = (2 << 3) | 2;

function messageBodySize(m: Message, entrySizes: number[]): number {
  let n =
    numField(m.type) +
    numField(m.to) +
    numField(m.from) +
    numField(m.term) +
    numField(m.logTerm) +
    numField(m.index) +
    numField(m.commit) +
    (m.reject ? 2 : 0) +
    numField(m.rejectHint);
  for (const e of m.entries) {
    const s = entrySize(e);
    entrySizes.push(s);
    n += bytesField(s);
  }
  if (m.snapshot) n += bytesField(metaSize(m.snapshot.metadata));
  if (m.context && m.context.length > 0) n += bytesField(m.context.length);
  return n;
}

export function encodeBatch(msgs: readonly Message[]): Buffer {
  const entrySizes: number[] = [];
  const bodySizes: number[] = [];
  let total = 0;
  for (const m of msgs) {
    const s = messageBodySize(m, entrySizes);
    bodySizes.push(s);
    total += bytesField(s);
  }
  const w = new Writer(Buffer.allocUnsafe(total));
  let ei = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i] as Message;
    w.buf[w.pos++] = T_BATCH_MESSAGE;
    w.varint(bodySizes[i] as number);
    w.num(T_MSG_TYPE, m.type);
    w.num(T_MSG_TO, m.to);
    w.num(T_MSG_FROM, m.from);
    w.num(T_MSG_TERM, m.term);
    w.num(T_MSG_LOGTERM, m.logTerm);
    w.num(T_MSG_INDEX, m.index);
    for (const e of m.entries) {
      w.buf[w.pos++] = T_MSG_ENTRY;
      w.varint(entrySizes[ei++] as number);
      w.num(T_ENT_TERM, e.term);
      w.num(T_ENT_INDEX, e.index);
      w.num(T_ENT_TYPE, e.type);
      if (e.data.length > 0) w.bytes(T_ENT_DATA, e.data);
    }
    w.num(T_MSG_COMMIT, m.commit);
    if (m.snapshot) {
      const md = m.snapshot.metadata;
      w.buf[w.pos++] = T_MSG_SNAPSHOT;
      w.varint(metaSize(md));
      w.num(T_MD_INDEX, md.index);
      w.num(T_MD_TERM, md.term);
      w.buf[w.pos++] = T_MD_CONFSTATE;
      w.varint(confStateSize(md.confState));
      w.ids(T_CS_VOTERS, md.confState.voters);
      w.ids(T_CS_LEARNERS, md.confState.learners);
    }
    if (m.reject) w.num(T_MSG_REJECT, 1);
    w.num(T_MSG_REJECTHINT, m.rejectHint);
    if (m.context && m.context.length > 0) w.bytes(T_MSG_CONTEXT, m.context);
  }
  if (w.pos !== total) throw new Error(`raft batch encoder: wrote ${w.pos} of ${total} bytes`);
  return w.buf;
}

// ------------------------------------------------------------------ reader

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    const b = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new BatchDecodeError('truncated varint');
      const byte = b[this.pos++] as number;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) return result;
      mul *= 128;
    }
    throw new BatchDecodeError('varint longer than 10 bytes');
  }

  /** The bounds of a length-delimited field's payload; advances past it. */
  sub(): Reader {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw new BatchDecodeError('length-delimited field runs past its message');
    this.pos = start + len;
    return new Reader(this.buf, start, start + len);
  }

  bytes(): Uint8Array {
    const r = this.sub();
    return this.buf.subarray(r.pos, r.end);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.sub();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new BatchDecodeError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new BatchDecodeError('truncated field');
  }
}

function readIds(r: Reader, wireType: number, out: number[]): void {
  if (wireType === 0) {
    out.push(r.varint());
    return;
  }
  const s = r.sub();
  while (s.pos < s.end) out.push(s.varint());
}

function readConfState(r: Reader): ConfState {
  const cs: ConfState = { voters: [], learners: [] };
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 1) readIds(r, wt, cs.voters);
    else if (field === 2) readIds(r, wt, cs.learners);
    else r.skip(wt);
  }
  return cs;
}

function readMeta(r: Reader): SnapshotMetadata {
  const md: SnapshotMetadata = { index: 0, term: 0, confState: { voters: [], learners: [] } };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === T_MD_INDEX) md.index = r.varint();
    else if (tag === T_MD_TERM) md.term = r.varint();
    else if (tag === T_MD_CONFSTATE) md.confState = readConfState(r.sub());
    else r.skip(tag & 7);
  }
  return md;
}

function readEntry(r: Reader): Entry {
  const e: Entry = { term: 0, index: 0, type: 0, data: EMPTY };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === T_ENT_TERM) e.term = r.varint();
    else if (tag === T_ENT_INDEX) e.index = r.varint();
    else if (tag === T_ENT_TYPE) e.type = r.varint();
    else if (tag === T_ENT_DATA) e.data = r.bytes();
    else r.skip(tag & 7);
  }
  return e;
}

function readMessage(r: Reader): Message {
  const m: Message = { type: 0, to: 0, from: 0, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag) {
      case T_MSG_TYPE:
        m.type = r.varint();
        break;
      case T_MSG_TO:
        m.to = r.varint();
        break;
      case T_MSG_FROM:
        m.from = r.varint();
        break;
      case T_MSG_TERM:
        m.term = r.varint();
        break;
      case T_MSG_LOGTERM:
        m.logTerm = r.varint();
        break;
      case T_MSG_INDEX:
        m.index = r.varint();
        break;
      case T_MSG_ENTRY:
        m.entries.push(readEntry(r.sub()));
        break;
      case T_MSG_COMMIT:
        m.commit = r.varint();
        break;
      case T_MSG_SNAPSHOT:
        m.snapshot = { metadata: readMeta(r.sub()), data: EMPTY };
        break;
      case T_MSG_REJECT:
        m.reject = r.varint() !== 0;
        break;
      case T_MSG_REJECTHINT:
        m.rejectHint = r.varint();
        break;
      case T_MSG_CONTEXT: {
        const c = r.bytes();
        if (c.length > 0) m.context = c;
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  return m;
}

/** Decoded entries' data and contexts share memory with `buf`. */
export function decodeBatch(buf: Uint8Array): Message[] {
  const r = new Reader(buf, 0, buf.length);
  const out: Message[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === T_BATCH_MESSAGE) out.push(readMessage(r.sub()));
    else r.skip(tag & 7);
  }
  return out;
}
