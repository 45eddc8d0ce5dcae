// Hand-written encoders and decoders for the write requests and ranges (RangeRequest,
// PutRequest, DeleteRangeRequest, Compare, RequestOp, TxnRequest): every client request on the
// hot paths is decoded by the gRPC server, and every write is decoded again from its Raft entry
// on each member (store/mvcc/store-request.ts keeps them in this encoding). Same output as the
// schema-driven codec (codec-reflect.ts), checked field for field in codec.test.ts: absent
// fields decode to zero values, oneof members stay absent unless set, zero values are not
// written except oneof members (their presence is the information).

import { ProtoDecodeError, ProtoReader, ProtoWriter, WireType, bigint64Size, int64Size, readMessage, readSubMessage, varint32Size, type MessageReader } from '../../common/proto-wire.js';
import type { Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';

const EMPTY = Buffer.alloc(0);
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

const tag = (field: number, wire: WireType): number => (field << 3) | wire;
const VARINT = WireType.VARINT;
const LEN = WireType.LEN;

// ---- checks (the same errors as the schema-driven codec: TypeError for a wrong type, RangeError out of range) ----

function bytesOk(v: unknown, field: string): Buffer {
  if (v === undefined) return EMPTY;
  if (!Buffer.isBuffer(v)) throw new TypeError(`${field}: expected a Buffer`);
  return v;
}

function numOk(v: unknown, field: string): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${field}: expected a safe integer`);
  return v;
}

function i64Ok(v: unknown, field: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v !== 'bigint') throw new TypeError(`${field}: expected a bigint`);
  if (v < MIN_I64 || v > MAX_I64) throw new RangeError(`${field}: ${v} is not an int64`);
  return v;
}

function boolOk(v: unknown, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new TypeError(`${field}: expected a boolean`);
  return v;
}

// ---- sizes ----

const bytesField = (b: Buffer): number => (b.length > 0 ? 1 + varint32Size(b.length) + b.length : 0);
const numField = (n: number): number => (n !== 0 ? 1 + int64Size(n) : 0);
const boolField = (b: boolean): number => (b ? 2 : 0);
const subField = (field: number, size: number): number => varint32Size(tag(field, LEN)) + varint32Size(size) + size;

function rangeSize(r: RangeRequest): number {
  return (
    bytesField(bytesOk(r.key, 'RangeRequest.key')) +
    bytesField(bytesOk(r.rangeEnd, 'RangeRequest.rangeEnd')) +
    numField(numOk(r.limit, 'RangeRequest.limit')) +
    numField(numOk(r.revision, 'RangeRequest.revision')) +
    numField(numOk(r.sortOrder, 'RangeRequest.sortOrder')) +
    numField(numOk(r.sortTarget, 'RangeRequest.sortTarget')) +
    boolField(boolOk(r.serializable, 'RangeRequest.serializable')) +
    boolField(boolOk(r.keysOnly, 'RangeRequest.keysOnly')) +
    boolField(boolOk(r.countOnly, 'RangeRequest.countOnly')) +
    numField(numOk(r.minModRevision, 'RangeRequest.minModRevision')) +
    numField(numOk(r.maxModRevision, 'RangeRequest.maxModRevision')) +
    numField(numOk(r.minCreateRevision, 'RangeRequest.minCreateRevision')) +
    numField(numOk(r.maxCreateRevision, 'RangeRequest.maxCreateRevision'))
  );
}

function putSize(p: PutRequest): number {
  const lease = i64Ok(p.lease, 'PutRequest.lease');
  return (
    bytesField(bytesOk(p.key, 'PutRequest.key')) +
    bytesField(bytesOk(p.value, 'PutRequest.value')) +
    (lease !== 0n ? 1 + bigint64Size(lease) : 0) +
    boolField(boolOk(p.prevKv, 'PutRequest.prevKv')) +
    boolField(boolOk(p.ignoreValue, 'PutRequest.ignoreValue')) +
    boolField(boolOk(p.ignoreLease, 'PutRequest.ignoreLease'))
  );
}

function deleteSize(d: DeleteRangeRequest): number {
  return bytesField(bytesOk(d.key, 'DeleteRangeRequest.key')) + bytesField(bytesOk(d.rangeEnd, 'DeleteRangeRequest.rangeEnd')) + boolField(boolOk(d.prevKv, 'DeleteRangeRequest.prevKv'));
}

function compareSize(c: Compare): number {
  let n = numField(numOk(c.result, 'Compare.result')) + numField(numOk(c.target, 'Compare.target')) + bytesField(bytesOk(c.key, 'Compare.key'));
  // The oneof member that is set is written even when it is zero.
  if (c.version !== undefined) n += 1 + int64Size(numOk(c.version, 'Compare.version'));
  if (c.createRevision !== undefined) n += 1 + int64Size(numOk(c.createRevision, 'Compare.createRevision'));
  if (c.modRevision !== undefined) n += 1 + int64Size(numOk(c.modRevision, 'Compare.modRevision'));
  if (c.value !== undefined) {
    const v = bytesOk(c.value, 'Compare.value');
    n += 1 + varint32Size(v.length) + v.length;
  }
  if (c.lease !== undefined) n += 1 + bigint64Size(i64Ok(c.lease, 'Compare.lease'));
  const re = bytesOk(c.rangeEnd, 'Compare.rangeEnd');
  if (re.length > 0) n += 2 + varint32Size(re.length) + re.length; // field 64: a 2-byte tag
  return n;
}

function requestOpSize(op: RequestOp, depth: number): number {
  let n = 0;
  if (op.requestRange !== undefined) n += subField(1, rangeSize(op.requestRange));
  if (op.requestPut !== undefined) n += subField(2, putSize(op.requestPut));
  if (op.requestDeleteRange !== undefined) n += subField(3, deleteSize(op.requestDeleteRange));
  if (op.requestTxn !== undefined) n += subField(4, txnSize(op.requestTxn, depth + 1));
  return n;
}

const MAX_DEPTH = 100;

function txnSize(t: TxnRequest, depth = 0): number {
  if (depth > MAX_DEPTH) throw new RangeError('TxnRequest: nested too deeply');
  let n = 0;
  for (const c of t.compare ?? []) n += subField(1, compareSize(c));
  for (const op of t.success ?? []) n += subField(2, requestOpSize(op, depth));
  for (const op of t.failure ?? []) n += subField(3, requestOpSize(op, depth));
  return n;
}

// ---- writers (sizes were computed, and values checked, first) ----

function wBytes(w: ProtoWriter, field: number, b: Buffer | undefined): void {
  if (b === undefined || b.length === 0) return;
  w.varint32(tag(field, LEN));
  w.bytes(b);
}

function wNum(w: ProtoWriter, field: number, n: number | undefined): void {
  if (n === undefined || n === 0) return;
  w.varint32(tag(field, VARINT));
  w.int64(n);
}

function wBool(w: ProtoWriter, field: number, b: boolean | undefined): void {
  if (!b) return;
  w.varint32(tag(field, VARINT));
  w.bool(true);
}

function writeRange(w: ProtoWriter, r: RangeRequest): void {
  wBytes(w, 1, r.key);
  wBytes(w, 2, r.rangeEnd);
  wNum(w, 3, r.limit);
  wNum(w, 4, r.revision);
  wNum(w, 5, r.sortOrder);
  wNum(w, 6, r.sortTarget);
  wBool(w, 7, r.serializable);
  wBool(w, 8, r.keysOnly);
  wBool(w, 9, r.countOnly);
  wNum(w, 10, r.minModRevision);
  wNum(w, 11, r.maxModRevision);
  wNum(w, 12, r.minCreateRevision);
  wNum(w, 13, r.maxCreateRevision);
}

function writePut(w: ProtoWriter, p: PutRequest): void {
  wBytes(w, 1, p.key);
  wBytes(w, 2, p.value);
  if (p.lease !== undefined && p.lease !== 0n) {
    w.varint32(tag(3, VARINT));
    w.bigint64(p.lease);
  }
  wBool(w, 4, p.prevKv);
  wBool(w, 5, p.ignoreValue);
  wBool(w, 6, p.ignoreLease);
}

function writeDelete(w: ProtoWriter, d: DeleteRangeRequest): void {
  wBytes(w, 1, d.key);
  wBytes(w, 2, d.rangeEnd);
  wBool(w, 3, d.prevKv);
}

function writeCompare(w: ProtoWriter, c: Compare): void {
  wNum(w, 1, c.result);
  wNum(w, 2, c.target);
  wBytes(w, 3, c.key);
  if (c.version !== undefined) {
    w.varint32(tag(4, VARINT));
    w.int64(c.version);
  }
  if (c.createRevision !== undefined) {
    w.varint32(tag(5, VARINT));
    w.int64(c.createRevision);
  }
  if (c.modRevision !== undefined) {
    w.varint32(tag(6, VARINT));
    w.int64(c.modRevision);
  }
  if (c.value !== undefined) {
    w.varint32(tag(7, LEN));
    w.bytes(c.value);
  }
  if (c.lease !== undefined) {
    w.varint32(tag(8, VARINT));
    w.bigint64(c.lease);
  }
  wBytes(w, 64, c.rangeEnd);
}

function writeSub<T>(w: ProtoWriter, field: number, v: T, size: (v: T) => number, write: (w: ProtoWriter, v: T) => void): void {
  w.varint32(tag(field, LEN));
  w.varint32(size(v));
  write(w, v);
}

function writeRequestOp(w: ProtoWriter, op: RequestOp, depth: number): void {
  if (op.requestRange !== undefined) writeSub(w, 1, op.requestRange, rangeSize, writeRange);
  if (op.requestPut !== undefined) writeSub(w, 2, op.requestPut, putSize, writePut);
  if (op.requestDeleteRange !== undefined) writeSub(w, 3, op.requestDeleteRange, deleteSize, writeDelete);
  if (op.requestTxn !== undefined) {
    const t = op.requestTxn;
    writeSub(w, 4, t, (x) => txnSize(x, depth + 1), (ww, x) => writeTxn(ww, x, depth + 1));
  }
}

function writeTxn(w: ProtoWriter, t: TxnRequest, depth: number): void {
  for (const c of t.compare ?? []) writeSub(w, 1, c, compareSize, writeCompare);
  for (const op of t.success ?? []) writeSub(w, 2, op, (x) => requestOpSize(x, depth), (ww, x) => writeRequestOp(ww, x, depth));
  for (const op of t.failure ?? []) writeSub(w, 3, op, (x) => requestOpSize(x, depth), (ww, x) => writeRequestOp(ww, x, depth));
}

/**
 * `v` encoded; with `prefix`, that byte comes first and the message after it, in one buffer
 * (the store's Raft entries are a kind byte then the request).
 */
function encodeWith<T>(v: T, size: (v: T) => number, write: (w: ProtoWriter, v: T) => void, prefix?: number): Buffer {
  const n = size(v);
  const at = prefix === undefined ? 0 : 1;
  const out = Buffer.allocUnsafe(at + n);
  if (prefix !== undefined) out[0] = prefix;
  const w = new ProtoWriter(n, out, at);
  write(w, v);
  return w.finish();
}

export const encodeRangeRequest = (r: RangeRequest, prefix?: number): Buffer => encodeWith(r, rangeSize, writeRange, prefix);
export const encodePutRequest = (p: PutRequest, prefix?: number): Buffer => encodeWith(p, putSize, writePut, prefix);
export const encodeDeleteRangeRequest = (d: DeleteRangeRequest, prefix?: number): Buffer => encodeWith(d, deleteSize, writeDelete, prefix);
export const encodeCompare = (c: Compare): Buffer => encodeWith(c, compareSize, writeCompare);
export const encodeRequestOp = (op: RequestOp): Buffer => encodeWith(op, (x) => requestOpSize(x, 0), (w, x) => writeRequestOp(w, x, 0));
export const encodeTxnRequest = (t: TxnRequest, prefix?: number): Buffer => encodeWith(t, (x) => txnSize(x, 0), (w, x) => writeTxn(w, x, 0), prefix);

// ---- readers ----

// Readers take the txn nesting depth as their pass-through argument.
const sub = readSubMessage;

function readRange(r: ProtoReader, end: number): RangeRequest {
  const m: Required<RangeRequest> = {
    key: EMPTY,
    rangeEnd: EMPTY,
    limit: 0,
    revision: 0,
    sortOrder: 0,
    sortTarget: 0,
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0,
    maxModRevision: 0,
    minCreateRevision: 0,
    maxCreateRevision: 0,
  };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, LEN):
        m.key = r.bytes();
        break;
      case tag(2, LEN):
        m.rangeEnd = r.bytes();
        break;
      case tag(3, VARINT):
        m.limit = r.int64();
        break;
      case tag(4, VARINT):
        m.revision = r.int64();
        break;
      case tag(5, VARINT):
        m.sortOrder = r.varint32() | 0;
        break;
      case tag(6, VARINT):
        m.sortTarget = r.varint32() | 0;
        break;
      case tag(7, VARINT):
        m.serializable = r.bool();
        break;
      case tag(8, VARINT):
        m.keysOnly = r.bool();
        break;
      case tag(9, VARINT):
        m.countOnly = r.bool();
        break;
      case tag(10, VARINT):
        m.minModRevision = r.int64();
        break;
      case tag(11, VARINT):
        m.maxModRevision = r.int64();
        break;
      case tag(12, VARINT):
        m.minCreateRevision = r.int64();
        break;
      case tag(13, VARINT):
        m.maxCreateRevision = r.int64();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return m;
}

function readPut(r: ProtoReader, end: number): PutRequest {
  const m: Required<PutRequest> = { key: EMPTY, value: EMPTY, lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, LEN):
        m.key = r.bytes();
        break;
      case tag(2, LEN):
        m.value = r.bytes();
        break;
      case tag(3, VARINT):
        m.lease = r.int64n();
        break;
      case tag(4, VARINT):
        m.prevKv = r.bool();
        break;
      case tag(5, VARINT):
        m.ignoreValue = r.bool();
        break;
      case tag(6, VARINT):
        m.ignoreLease = r.bool();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return m;
}

function readDelete(r: ProtoReader, end: number): DeleteRangeRequest {
  const m: Required<DeleteRangeRequest> = { key: EMPTY, rangeEnd: EMPTY, prevKv: false };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, LEN):
        m.key = r.bytes();
        break;
      case tag(2, LEN):
        m.rangeEnd = r.bytes();
        break;
      case tag(3, VARINT):
        m.prevKv = r.bool();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return m;
}

function readCompare(r: ProtoReader, end: number): Compare {
  const m: Compare = { result: 0, target: 0, key: EMPTY };
  let rangeEnd: Buffer = EMPTY;
  // A oneof: the last member on the wire wins, the others are cleared (as protobufjs does).
  const only = (): void => {
    delete m.version;
    delete m.createRevision;
    delete m.modRevision;
    delete m.value;
    delete m.lease;
  };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, VARINT):
        m.result = r.varint32() | 0;
        break;
      case tag(2, VARINT):
        m.target = r.varint32() | 0;
        break;
      case tag(3, LEN):
        m.key = r.bytes();
        break;
      case tag(4, VARINT):
        only();
        m.version = r.int64();
        break;
      case tag(5, VARINT):
        only();
        m.createRevision = r.int64();
        break;
      case tag(6, VARINT):
        only();
        m.modRevision = r.int64();
        break;
      case tag(7, LEN):
        only();
        m.value = r.bytes();
        break;
      case tag(8, VARINT):
        only();
        m.lease = r.int64n();
        break;
      case tag(64, LEN):
        rangeEnd = r.bytes();
        break;
      default:
        r.skip(t & 7);
    }
  }
  m.rangeEnd = rangeEnd;
  return m;
}

function readRequestOp(r: ProtoReader, end: number, depth: number): RequestOp {
  let op: RequestOp = {};
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, LEN):
        op = { requestRange: sub(r, readRange, depth) };
        break;
      case tag(2, LEN):
        op = { requestPut: sub(r, readPut, depth) };
        break;
      case tag(3, LEN):
        op = { requestDeleteRange: sub(r, readDelete, depth) };
        break;
      case tag(4, LEN):
        op = { requestTxn: sub(r, readTxn, depth + 1) };
        break;
      default:
        r.skip(t & 7);
    }
  }
  return op;
}

function readTxn(r: ProtoReader, end: number, depth: number): TxnRequest {
  if (depth > MAX_DEPTH) throw new ProtoDecodeError('TxnRequest nested too deeply');
  const m: TxnRequest = { compare: [], success: [], failure: [] };
  while (r.pos < end) {
    const t = r.tag();
    switch (t) {
      case tag(1, LEN):
        m.compare.push(sub(r, readCompare, depth));
        break;
      case tag(2, LEN):
        m.success.push(sub(r, readRequestOp, depth));
        break;
      case tag(3, LEN):
        m.failure.push(sub(r, readRequestOp, depth));
        break;
      default:
        r.skip(t & 7);
    }
  }
  return m;
}

const whole = <T>(buf: Uint8Array, read: MessageReader<T, number>): T => readMessage(buf, read, 0);

export const decodeRangeRequest = (b: Uint8Array): RangeRequest => whole(b, readRange);
export const decodePutRequest = (b: Uint8Array): PutRequest => whole(b, readPut);
export const decodeDeleteRangeRequest = (b: Uint8Array): DeleteRangeRequest => whole(b, readDelete);
export const decodeCompare = (b: Uint8Array): Compare => whole(b, readCompare);
export const decodeRequestOp = (b: Uint8Array): RequestOp => whole(b, readRequestOp);
export const decodeTxnRequest = (b: Uint8Array): TxnRequest => whole(b, readTxn);
