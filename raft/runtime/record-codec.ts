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
