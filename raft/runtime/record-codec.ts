// Records on disk: msgpack bodies wrapped with a CRC32, so that a damaged record is detected
// on start-up (and named) instead of being trusted.

import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false });
const VERSION = 1;

export class CorruptRecordError extends Error {
  override name = 'CorruptRecordError';
}

/** [version u8][crc32 u32 BE][msgpack body] */
export function encodeRecord(value: unknown): Buffer {
  const body = packr.pack(value);
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(VERSION, 0);
  out.writeUInt32BE(crc32(body), 1);
  body.copy(out, 5);
  return out;
}

export function decodeRecord<T>(buf: Uint8Array, what: string): T {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 5) throw new CorruptRecordError(`${what}: record too short (${b.length} bytes)`);
  const version = b.readUInt8(0);
  if (version !== VERSION) throw new CorruptRecordError(`${what}: unknown record version ${version}`);
  const body = b.subarray(5);
  const want = b.readUInt32BE(1);
  const got = crc32(body);
  if (want !== got) throw new CorruptRecordError(`${what}: checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  try {
    return packr.unpack(body) as T;
  } catch (e) {
    throw new CorruptRecordError(`${what}: undecodable record: ${(e as Error).message}`);
  }
}

const ENTRY_VERSION = 2;

/** A log entry as stored. */
export interface EntryRecord {
  t: number;
  y: number;
  d: Uint8Array;
}

/**
 * A log entry record without msgpack (every entry is written once per member, so this is hot):
 * [version 2 u8][crc32 u32 BE][term f64 BE][type u8][data]. The crc covers everything after it.
 */
export function encodeEntryRecord(term: number, type: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(14 + data.length);
  out[0] = ENTRY_VERSION;
  out.writeDoubleBE(term, 5);
  out[13] = type;
  out.set(data, 14);
  out.writeUInt32BE(crc32(out.subarray(5)), 1);
  return out;
}

/** Reads an entry record of either version (version 1: a msgpack {t, y, d}). */
export function decodeEntryRecord(buf: Uint8Array, what: string): EntryRecord {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length >= 1 && b[0] === ENTRY_VERSION) {
    if (b.length < 14) throw new CorruptRecordError(`${what}: record too short (${b.length} bytes)`);
    const want = b.readUInt32BE(1);
    const got = crc32(b.subarray(5));
    if (want !== got) throw new CorruptRecordError(`${what}: checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
    const t = b.readDoubleBE(5);
    if (!Number.isSafeInteger(t) || t < 0) throw new CorruptRecordError(`${what}: bad term ${t}`);
    return { t, y: b[13] as number, d: b.subarray(14) };
  }
  const r = decodeRecord<EntryRecord>(b, what);
  if (typeof r !== 'object' || r === null || typeof r.t !== 'number' || typeof r.y !== 'number' || !(r.d instanceof Uint8Array)) {
    throw new CorruptRecordError(`${what}: not a log entry`);
  }
  return r;
}
