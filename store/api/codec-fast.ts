// Hand-written encoders and decoders for the messages on the hot paths: every watch event and
// every range result goes through these. They write exactly what the schema-driven codec
// (codec-reflect.ts) writes, field for field, and omit zero values as Go's encoder does;
// codec.test.ts checks both against each other and against protobufjs.
//
// Watch fan-out: encodeWatchEvents() encodes an event batch once as the bytes of the repeated
// `events` field; encodeWatchResponse(res, encodedEvents) then only writes the small per-watcher
// head and copies those bytes, because a protobuf message is the concatenation of its fields.

import { invariant } from '../../common/assert.js';
import { ProtoReader, ProtoWriter, WireType, bigint64Size, int64Size, readMessage, readSubMessage, varint32Size } from '../../common/proto-wire.js';
import type { DeleteRangeResponse, Event, KeyValue, PutResponse, RangeResponse, ResponseHeader, WatchResponse } from './types.js';

const EMPTY = Buffer.alloc(0);
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

function checkU64(v: bigint, field: string): void {
  invariant(v >= 0n && v <= MAX_U64, () => `${field}: ${v} is not a uint64`);
}
function checkI64(v: bigint, field: string): void {
  invariant(v >= MIN_I64 && v <= MAX_I64, () => `${field}: ${v} is not an int64`);
}

// Tags as written on the wire: (field << 3) | wire type.
const T = {
  hdrCluster: (1 << 3) | WireType.VARINT,
  hdrMember: (2 << 3) | WireType.VARINT,
  hdrRevision: (3 << 3) | WireType.VARINT,
  hdrTerm: (4 << 3) | WireType.VARINT,
  kvKey: (1 << 3) | WireType.LEN,
  kvCreate: (2 << 3) | WireType.VARINT,
  kvMod: (3 << 3) | WireType.VARINT,
  kvVersion: (4 << 3) | WireType.VARINT,
  kvValue: (5 << 3) | WireType.LEN,
  kvLease: (6 << 3) | WireType.VARINT,
  evType: (1 << 3) | WireType.VARINT,
  evKv: (2 << 3) | WireType.LEN,
  evPrevKv: (3 << 3) | WireType.LEN,
  wrHeader: (1 << 3) | WireType.LEN,
  wrWatchId: (2 << 3) | WireType.VARINT,
  wrCreated: (3 << 3) | WireType.VARINT,
  wrCanceled: (4 << 3) | WireType.VARINT,
  wrCompact: (5 << 3) | WireType.VARINT,
  wrReason: (6 << 3) | WireType.LEN,
  wrFragment: (7 << 3) | WireType.VARINT,
  wrEvents: (11 << 3) | WireType.LEN,
  rrHeader: (1 << 3) | WireType.LEN,
  rrKvs: (2 << 3) | WireType.LEN,
  rrMore: (3 << 3) | WireType.VARINT,
  rrCount: (4 << 3) | WireType.VARINT,
  prHeader: (1 << 3) | WireType.LEN,
  prPrevKv: (2 << 3) | WireType.LEN,
  drHeader: (1 << 3) | WireType.LEN,
  drDeleted: (2 << 3) | WireType.VARINT,
  drPrevKvs: (3 << 3) | WireType.LEN,
} as const;

// ---- sizes (all single-byte tags) ----

function headerSize(h: ResponseHeader): number {
  let n = 0;
  if (h.clusterId !== 0n) n += 1 + bigint64Size(h.clusterId);
  if (h.memberId !== 0n) n += 1 + bigint64Size(h.memberId);
  if (h.revision !== 0) n += 1 + int64Size(h.revision);
  if (h.raftTerm !== 0) n += 1 + int64Size(h.raftTerm);
  return n;
}

function keyValueSize(kv: KeyValue): number {
  let n = 0;
  if (kv.key.length > 0) n += 1 + varint32Size(kv.key.length) + kv.key.length;
  if (kv.createRevision !== 0) n += 1 + int64Size(kv.createRevision);
  if (kv.modRevision !== 0) n += 1 + int64Size(kv.modRevision);
  if (kv.version !== 0) n += 1 + int64Size(kv.version);
  if (kv.value.length > 0) n += 1 + varint32Size(kv.value.length) + kv.value.length;
  if (kv.lease !== 0n) n += 1 + bigint64Size(kv.lease);
  return n;
}

function eventSize(ev: Event): number {
  let n = 0;
  if (ev.type !== 0) n += 1 + varint32Size(ev.type);
  const kv = keyValueSize(ev.kv);
  n += 1 + varint32Size(kv) + kv;
  if (ev.prevKv !== undefined) {
    const p = keyValueSize(ev.prevKv);
    n += 1 + varint32Size(p) + p;
  }
  return n;
}

// ---- writers ----

function writeHeader(w: ProtoWriter, h: ResponseHeader): void {
  if (h.clusterId !== 0n) {
    checkU64(h.clusterId, 'ResponseHeader.clusterId');
    w.varint32(T.hdrCluster);
    w.bigint64(h.clusterId);
  }
  if (h.memberId !== 0n) {
    checkU64(h.memberId, 'ResponseHeader.memberId');
    w.varint32(T.hdrMember);
    w.bigint64(h.memberId);
  }
  if (h.revision !== 0) {
    w.varint32(T.hdrRevision);
    w.int64(h.revision);
  }
  if (h.raftTerm !== 0) {
    w.varint32(T.hdrTerm);
    w.int64(h.raftTerm);
  }
}

function writeKeyValue(w: ProtoWriter, kv: KeyValue): void {
  if (kv.key.length > 0) {
    w.varint32(T.kvKey);
    w.bytes(kv.key);
  }
  if (kv.createRevision !== 0) {
    w.varint32(T.kvCreate);
    w.int64(kv.createRevision);
  }
  if (kv.modRevision !== 0) {
    w.varint32(T.kvMod);
    w.int64(kv.modRevision);
  }
  if (kv.version !== 0) {
    w.varint32(T.kvVersion);
    w.int64(kv.version);
  }
  if (kv.value.length > 0) {
    w.varint32(T.kvValue);
    w.bytes(kv.value);
  }
  if (kv.lease !== 0n) {
    checkI64(kv.lease, 'KeyValue.lease');
    w.varint32(T.kvLease);
    w.bigint64(kv.lease);
  }
}

function writeEvent(w: ProtoWriter, ev: Event): void {
  if (ev.type !== 0) {
    w.varint32(T.evType);
    w.varint32(ev.type);
  }
  w.varint32(T.evKv);
  w.varint32(keyValueSize(ev.kv));
  writeKeyValue(w, ev.kv);
  if (ev.prevKv !== undefined) {
    w.varint32(T.evPrevKv);
    w.varint32(keyValueSize(ev.prevKv));
    writeKeyValue(w, ev.prevKv);
  }
}

/** A response's header field (`size`: headerSize of it); every response has it as field 1. */
function writeHeaderField(w: ProtoWriter, tag: number, h: ResponseHeader, size: number): void {
  w.varint32(tag);
  w.varint32(size);
  writeHeader(w, h);
}

/** Repeated KeyValue fields: each message's size, and the bytes of all of them with tags. */
function keyValueFields(kvs: readonly KeyValue[]): { sizes: number[]; bytes: number } {
  const sizes = new Array<number>(kvs.length);
  let bytes = 0;
  for (let i = 0; i < kvs.length; i++) {
    const s = keyValueSize(kvs[i]!);
    sizes[i] = s;
    bytes += 1 + varint32Size(s) + s;
  }
  return { sizes, bytes };
}

function writeKeyValueFields(w: ProtoWriter, tag: number, kvs: readonly KeyValue[], sizes: readonly number[]): void {
  for (let i = 0; i < kvs.length; i++) {
    w.varint32(tag);
    w.varint32(sizes[i]!);
    writeKeyValue(w, kvs[i]!);
  }
}

export function encodeResponseHeader(h: ResponseHeader): Buffer {
  const w = new ProtoWriter(headerSize(h));
  writeHeader(w, h);
  return w.finish();
}

export function encodeKeyValue(kv: KeyValue): Buffer {
  const w = new ProtoWriter(keyValueSize(kv));
  writeKeyValue(w, kv);
  return w.finish();
}

export function encodeEvent(ev: Event): Buffer {
  const w = new ProtoWriter(eventSize(ev));
  writeEvent(w, ev);
  return w.finish();
}

/** The events as the bytes of WatchResponse's repeated field 11, to share between watchers. */
export function encodeWatchEvents(events: readonly Event[]): Buffer {
  let size = 0;
  const sizes = new Array<number>(events.length);
  for (let i = 0; i < events.length; i++) {
    const s = eventSize(events[i]!);
    sizes[i] = s;
    size += 1 + varint32Size(s) + s;
  }
  const w = new ProtoWriter(size);
  for (let i = 0; i < events.length; i++) {
    w.varint32(T.wrEvents);
    w.varint32(sizes[i]!);
    writeEvent(w, events[i]!);
  }
  return w.finish();
}

/**
 * A WatchResponse. With `encodedEvents` (from encodeWatchEvents) `res.events` is ignored and
 * those bytes are used instead, so one batch is encoded once for many watchers.
 */
export function encodeWatchResponse(res: WatchResponse, encodedEvents?: Buffer): Buffer {
  const h = headerSize(res.header);
  const reasonBytes = res.cancelReason.length > 0 ? Buffer.byteLength(res.cancelReason) : 0;
  let size = 1 + varint32Size(h) + h;
  if (res.watchId !== 0) size += 1 + int64Size(res.watchId);
  if (res.created) size += 2;
  if (res.canceled) size += 2;
  if (res.compactRevision !== 0) size += 1 + int64Size(res.compactRevision);
  if (reasonBytes > 0) size += 1 + varint32Size(reasonBytes) + reasonBytes;
  if (res.fragment) size += 2;
  let eventSizes: number[] | undefined;
  if (encodedEvents !== undefined) {
    size += encodedEvents.length;
  } else {
    eventSizes = new Array<number>(res.events.length);
    for (let i = 0; i < res.events.length; i++) {
      const s = eventSize(res.events[i]!);
      eventSizes[i] = s;
      size += 1 + varint32Size(s) + s;
    }
  }

  const w = new ProtoWriter(size);
  writeHeaderField(w, T.wrHeader, res.header, h);
  if (res.watchId !== 0) {
    w.varint32(T.wrWatchId);
    w.int64(res.watchId);
  }
  if (res.created) {
    w.varint32(T.wrCreated);
    w.bool(true);
  }
  if (res.canceled) {
    w.varint32(T.wrCanceled);
    w.bool(true);
  }
  if (res.compactRevision !== 0) {
    w.varint32(T.wrCompact);
    w.int64(res.compactRevision);
  }
  if (reasonBytes > 0) {
    w.varint32(T.wrReason);
    w.string(res.cancelReason, reasonBytes);
  }
  if (res.fragment) {
    w.varint32(T.wrFragment);
    w.bool(true);
  }
  if (encodedEvents !== undefined) {
    w.raw(encodedEvents);
  } else {
    for (let i = 0; i < res.events.length; i++) {
      w.varint32(T.wrEvents);
      w.varint32(eventSizes![i]!);
      writeEvent(w, res.events[i]!);
    }
  }
  return w.finish();
}

export function encodeRangeResponse(res: RangeResponse): Buffer {
  const h = headerSize(res.header);
  const kvs = keyValueFields(res.kvs);
  let size = 1 + varint32Size(h) + h + kvs.bytes;
  if (res.more) size += 2;
  if (res.count !== 0) size += 1 + int64Size(res.count);

  const w = new ProtoWriter(size);
  writeHeaderField(w, T.rrHeader, res.header, h);
  writeKeyValueFields(w, T.rrKvs, res.kvs, kvs.sizes);
  if (res.more) {
    w.varint32(T.rrMore);
    w.bool(true);
  }
  if (res.count !== 0) {
    w.varint32(T.rrCount);
    w.int64(res.count);
  }
  return w.finish();
}

/** The answer to every put: a header and, when asked for, the previous key-value. */
export function encodePutResponse(res: PutResponse): Buffer {
  const h = headerSize(res.header);
  const prev = keyValueFields(res.prevKv !== undefined ? [res.prevKv] : []);
  const w = new ProtoWriter(1 + varint32Size(h) + h + prev.bytes);
  writeHeaderField(w, T.prHeader, res.header, h);
  if (res.prevKv !== undefined) writeKeyValueFields(w, T.prPrevKv, [res.prevKv], prev.sizes);
  return w.finish();
}

export function encodeDeleteRangeResponse(res: DeleteRangeResponse): Buffer {
  const h = headerSize(res.header);
  const prev = keyValueFields(res.prevKvs);
  let size = 1 + varint32Size(h) + h + prev.bytes;
  if (res.deleted !== 0) size += 1 + int64Size(res.deleted);
  const w = new ProtoWriter(size);
  writeHeaderField(w, T.drHeader, res.header, h);
  if (res.deleted !== 0) {
    w.varint32(T.drDeleted);
    w.int64(res.deleted);
  }
  writeKeyValueFields(w, T.drPrevKvs, res.prevKvs, prev.sizes);
  return w.finish();
}

// ---- readers ----
// Each reads one message between r.pos and `end`, skipping unknown fields as proto3 requires.

function zeroHeader(): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
}

function readSub<T>(r: ProtoReader, read: (r: ProtoReader, end: number) => T): T {
  return readSubMessage(r, read, undefined);
}

function readHeader(r: ProtoReader, end: number): ResponseHeader {
  const h = zeroHeader();
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case T.hdrCluster:
        h.clusterId = r.uint64n();
        break;
      case T.hdrMember:
        h.memberId = r.uint64n();
        break;
      case T.hdrRevision:
        h.revision = r.int64();
        break;
      case T.hdrTerm:
        h.raftTerm = r.uint64();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return h;
}

function readKeyValue(r: ProtoReader, end: number): KeyValue {
  const kv: KeyValue = { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case T.kvKey:
        kv.key = r.bytes();
        break;
      case T.kvCreate:
        kv.createRevision = r.int64();
        break;
      case T.kvMod:
        kv.modRevision = r.int64();
        break;
      case T.kvVersion:
        kv.version = r.int64();
        break;
      case T.kvValue:
        kv.value = r.bytes();
        break;
      case T.kvLease:
        kv.lease = r.int64n();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return kv;
}

function zeroKeyValue(): KeyValue {
  return { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };
}

function readEvent(r: ProtoReader, end: number): Event {
  let type = 0;
  let kv: KeyValue | undefined;
  let prevKv: KeyValue | undefined;
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case T.evType:
        type = r.varint32() | 0;
        break;
      case T.evKv:
        kv = readSub(r, readKeyValue);
        break;
      case T.evPrevKv:
        prevKv = readSub(r, readKeyValue);
        break;
      default:
        r.skip(t & 7);
    }
  }
  const ev: Event = { type, kv: kv ?? zeroKeyValue() };
  if (prevKv !== undefined) ev.prevKv = prevKv;
  return ev;
}

function whole<T>(buf: Uint8Array, read: (r: ProtoReader, end: number) => T): T {
  return readMessage(buf, read, undefined);
}

export function decodeResponseHeader(buf: Uint8Array): ResponseHeader {
  return whole(buf, readHeader);
}

export function decodeKeyValue(buf: Uint8Array): KeyValue {
  return whole(buf, readKeyValue);
}

export function decodeEvent(buf: Uint8Array): Event {
  return whole(buf, readEvent);
}

export function decodeWatchResponse(buf: Uint8Array): WatchResponse {
  return whole(buf, (r, end) => {
    const res: WatchResponse = {
      header: zeroHeader(),
      watchId: 0,
      created: false,
      canceled: false,
      compactRevision: 0,
      cancelReason: '',
      fragment: false,
      events: [],
    };
    while (r.pos < end) {
      const t = r.tag();
      switch (t) {
        case T.wrHeader:
          res.header = readSub(r, readHeader);
          break;
        case T.wrWatchId:
          res.watchId = r.int64();
          break;
        case T.wrCreated:
          res.created = r.bool();
          break;
        case T.wrCanceled:
          res.canceled = r.bool();
          break;
        case T.wrCompact:
          res.compactRevision = r.int64();
          break;
        case T.wrReason:
          res.cancelReason = r.string();
          break;
        case T.wrFragment:
          res.fragment = r.bool();
          break;
        case T.wrEvents:
          res.events.push(readSub(r, readEvent));
          break;
        default:
          r.skip(t & 7);
      }
    }
    return res;
  });
}

export function decodeRangeResponse(buf: Uint8Array): RangeResponse {
  return whole(buf, (r, end) => {
    const res: RangeResponse = { header: zeroHeader(), kvs: [], more: false, count: 0 };
    while (r.pos < end) {
      const t = r.tag();
      switch (t) {
        case T.rrHeader:
          res.header = readSub(r, readHeader);
          break;
        case T.rrKvs:
          res.kvs.push(readSub(r, readKeyValue));
          break;
        case T.rrMore:
          res.more = r.bool();
          break;
        case T.rrCount:
          res.count = r.int64();
          break;
        default:
          r.skip(t & 7);
      }
    }
    return res;
  });
}
