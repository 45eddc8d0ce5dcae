// Revisions as etcd's mvcc package lays them out on disk: an 8-byte big-endian main revision,
// '_', an 8-byte big-endian sub revision, and a trailing 't' when the record is a tombstone.
// Byte order of these keys is revision order, so a range scan of the history is a scan by
// revision. HashKV hashes these exact bytes, so they must match etcd's byte for byte.

import { invariant } from '../../common/assert.js';

export interface Revision {
  readonly main: number;
  readonly sub: number;
}

export const REV_BYTES = 17;
export const MARKED_REV_BYTES = 18;
const SEP = 0x5f; // '_'
const TOMBSTONE = 0x74; // 't'
const TWO32 = 0x1_0000_0000;

function writeU64(buf: Buffer, offset: number, n: number): void {
  invariant(Number.isSafeInteger(n) && n >= 0, () => `revision out of range: ${n}`);
  buf.writeUInt32BE(Math.floor(n / TWO32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO32 + buf.readUInt32BE(offset + 4);
}

/** Writes the revision bytes at `offset` of `buf` (which must have room for 17 or 18 bytes). */
export function writeRevision(buf: Buffer, offset: number, main: number, sub: number, tombstone: boolean): void {
  writeU64(buf, offset, main);
  buf[offset + 8] = SEP;
  writeU64(buf, offset + 9, sub);
  if (tombstone) buf[offset + 17] = TOMBSTONE;
}

/** etcd's revToBytes (+ appendMarkTombstone when `tombstone`). */
export function revisionBytes(main: number, sub: number, tombstone = false): Buffer {
  const buf = Buffer.allocUnsafe(tombstone ? MARKED_REV_BYTES : REV_BYTES);
  writeRevision(buf, 0, main, sub, tombstone);
  return buf;
}

export interface DecodedRevision extends Revision {
  readonly tombstone: boolean;
}

/** Reads a revision key (17 or 18 bytes) starting at `offset`. */
export function readRevision(buf: Buffer, offset = 0): DecodedRevision {
  const len = buf.length - offset;
  invariant(len === REV_BYTES || len === MARKED_REV_BYTES, () => `bad revision key length ${len}`);
  invariant(buf[offset + 8] === SEP, 'bad revision key separator');
  const tombstone = len === MARKED_REV_BYTES;
  invariant(!tombstone || buf[offset + 17] === TOMBSTONE, 'bad tombstone mark');
  return { main: readU64(buf, offset), sub: readU64(buf, offset + 9), tombstone };
}

/** a > b in (main, sub) order. */
export function revGreater(aMain: number, aSub: number, bMain: number, bSub: number): boolean {
  return aMain > bMain || (aMain === bMain && aSub > bSub);
}
