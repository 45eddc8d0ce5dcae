// The protobuf wire format at the lowest level, for the hand-written encoders and decoders of the
// hot messages (KeyValue, Event, WatchResponse, RangeResponse). Encoding is two-pass: the caller
// sums field sizes, allocates one Buffer, then writes into it, so a message costs one allocation.
// 64-bit integers come as JS numbers (revisions, counts: exact below 2^53) or as bigints (IDs).

import { invariant } from './assert.js';

export const enum WireType {
  VARINT = 0,
  I64 = 1,
  LEN = 2,
  I32 = 5,
}

const TWO_32 = 4294967296;

export class ProtoDecodeError extends RangeError {
  override name = 'ProtoDecodeError';
}

// ---- sizes ----

/** Bytes of the varint of an unsigned 32-bit value. */
export function varint32Size(n: number): number {
  n >>>= 0;
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** Bytes of the varint of an int64 given as a safe-integer number (negative: 10 bytes). */
export function int64Size(n: number): number {
  if (n < 0) return 10;
  if (n < 0x10000000) return varint32Size(n);
  let size = 4;
  for (let v = Math.floor(n / 0x10000000); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

/** Bytes of the varint of a 64-bit two's complement value given as a bigint. */
export function bigint64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let size = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    size++;
  }
  return size;
}

// ---- writer ----

export class ProtoWriter {
  readonly buf: Buffer;
  pos = 0;
  private readonly end: number;

  /** A writer of `size` bytes: into a new Buffer, or into `into` from offset `at` (a frame around the message). */
  constructor(size: number, into?: Buffer, at = 0) {
    this.buf = into ?? Buffer.allocUnsafe(size);
    this.pos = at;
    this.end = at + size;
  }

  tag(field: number, wire: WireType): void {
    this.varint32((field << 3) | wire);
  }

  varint32(n: number): void {
    n >>>= 0;
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** An int64 varint from a safe-integer number (negatives as 10-byte two's complement). */
  int64(n: number): void {
    if (n >= 0 && n < TWO_32) {
      this.varint32(n);
      return;
    }
    invariant(Number.isSafeInteger(n), () => `int64 field: ${n} is not a safe integer`);
    const hi = Math.floor(n / TWO_32);
    this.varint64(n - hi * TWO_32, hi >>> 0);
  }

  /** A 64-bit varint from a bigint (two's complement; callers check the signed/unsigned range). */
  bigint64(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  /** Varint of the 64-bit value hi:lo (both unsigned 32-bit). */
  private varint64(lo: number, hi: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (hi > 0 || lo >= 0x80) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  bool(b: boolean): void {
    this.buf[this.pos++] = b ? 1 : 0;
  }

  /** Length-prefixed bytes. */
  bytes(b: Uint8Array): void {
    this.varint32(b.length);
    this.raw(b);
  }

  /** Length-prefixed UTF-8; byteLength must be Buffer.byteLength(s). */
  string(s: string, byteLength: number): void {
    this.varint32(byteLength);
    this.pos += this.buf.write(s, this.pos, byteLength, 'utf8');
  }

  /** Bytes copied as they are (an already-encoded field). */
  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  finish(): Buffer {
    invariant(this.pos === this.end, () => `encoder ended at ${this.pos}, sized to end at ${this.end}`);
    return this.buf;
  }
}

// ---- reader ----

export class ProtoReader {
  private readonly buf: Buffer;
  pos: number;
  end: number;
  // The last 64-bit varint read, as two unsigned 32-bit halves.
  private lo = 0;
  private hi = 0;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
    this.end = end;
  }

  /** Field number and wire type of the next field; call while pos < end. */
  tag(): number {
    return this.varint32();
  }

  varint32(): number {
    const buf = this.buf;
    let result = 0;
    for (let shift = 0; shift < 32; shift += 7) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const b = buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
    }
    // A uint32 may be sent as a 10-byte varint (negative int32): skip the high bytes.
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      if (buf[this.pos++]! < 0x80) return result >>> 0;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  private varint64(): void {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let b = 0;
    let i = 0;
    for (; i < 4; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      b = buf[this.pos++]!;
      lo |= (b & 0x7f) << (i * 7);
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
    b = buf[this.pos++]!;
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (i = 0; i < 5; i++) {
        if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
        b = buf[this.pos++]!;
        hi |= (b & 0x7f) << (i * 7 + 3);
        if (b < 0x80) break;
      }
      if (b >= 0x80) throw new ProtoDecodeError('varint longer than 10 bytes');
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** int64 as a number (exact while |v| < 2^53). */
  int64(): number {
    this.varint64();
    return (this.hi | 0) * TWO_32 + this.lo;
  }

  /** uint64 as a number (exact while v < 2^53). */
  uint64(): number {
    this.varint64();
    return this.hi * TWO_32 + this.lo;
  }

  int64n(): bigint {
    this.varint64();
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  uint64n(): bigint {
    this.varint64();
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  bool(): boolean {
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** The end offset of the length-delimited field that starts here; pos moves to its payload. */
  delimited(): number {
    const len = this.varint32();
    const end = this.pos + len;
    if (end > this.end) throw new ProtoDecodeError(`length ${len} runs past the end of the message`);
    return end;
  }

  /** Length-delimited bytes as a Buffer that shares memory with the input. */
  bytes(): Buffer {
    const end = this.delimited();
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }

  string(): string {
    const end = this.delimited();
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }

  skip(wire: number): void {
    switch (wire) {
      case WireType.VARINT:
        this.varint64();
        return;
      case WireType.I64:
        this.pos += 8;
        break;
      case WireType.LEN:
        this.pos = this.delimited();
        return;
      case WireType.I32:
        this.pos += 4;
        break;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new ProtoDecodeError('truncated fixed-width field');
  }
}

// ---- message readers ----

/** Reads one message (between r.pos and `end`, unknown fields skipped). `arg` is passed through (e.g. a nesting depth). */
export type MessageReader<T, A = undefined> = (r: ProtoReader, end: number, arg: A) => T;

/** Reads the length-delimited sub-message at r.pos with `read`, which cannot read past it. */
export function readSubMessage<T, A>(r: ProtoReader, read: MessageReader<T, A>, arg: A): T {
  const end = r.delimited();
  const outer = r.end;
  r.end = end;
  const v = read(r, end, arg);
  r.end = outer;
  return v;
}

/** Reads all of `buf` as one message. */
export function readMessage<T, A>(buf: Uint8Array, read: MessageReader<T, A>, arg: A): T {
  const r = new ProtoReader(buf);
  const v = read(r, buf.length, arg);
  if (r.pos !== buf.length) throw new ProtoDecodeError('field runs past the end of the message');
  return v;
}
