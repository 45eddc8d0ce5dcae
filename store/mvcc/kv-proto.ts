// mvccpb.KeyValue in protobuf wire form, exactly as etcd (gogo/protobuf) marshals it into its
// backend: fields 1..6 in order, zero values omitted, int64 as (two's complement) varints. Only
// HashKV needs these bytes: etcd hashes them, so keelson must produce the same ones.

import type { KeyValue } from '../api/types.js';

function u64(v: number | bigint): bigint {
  return BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(v));
}

function varintLen(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function putVarint(buf: Buffer, pos: number, v: bigint): number {
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

/** The protobuf encoding of a KeyValue (for tombstones etcd stores just { key }). */
export function encodeKeyValueProto(kv: KeyValue): Buffer {
  const ints: Array<[number, bigint]> = [];
  if (kv.createRevision !== 0) ints.push([2, u64(kv.createRevision)]);
  if (kv.modRevision !== 0) ints.push([3, u64(kv.modRevision)]);
  if (kv.version !== 0) ints.push([4, u64(kv.version)]);
  const lease = kv.lease !== 0n ? u64(kv.lease) : undefined;
  const keyLen = BigInt(kv.key.length);
  const valLen = BigInt(kv.value.length);
  let size = 0;
  if (kv.key.length > 0) size += 1 + varintLen(keyLen) + kv.key.length;
  for (const [, v] of ints) size += 1 + varintLen(v);
  if (kv.value.length > 0) size += 1 + varintLen(valLen) + kv.value.length;
  if (lease !== undefined) size += 1 + varintLen(lease);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (kv.key.length > 0) {
    buf[pos++] = (1 << 3) | 2;
    pos = putVarint(buf, pos, keyLen);
    pos += kv.key.copy(buf, pos);
  }
  for (const [f, v] of ints) {
    buf[pos++] = f << 3;
    pos = putVarint(buf, pos, v);
  }
  if (kv.value.length > 0) {
    buf[pos++] = (5 << 3) | 2;
    pos = putVarint(buf, pos, valLen);
    pos += kv.value.copy(buf, pos);
  }
  if (lease !== undefined) {
    buf[pos++] = 6 << 3;
    pos = putVarint(buf, pos, lease);
  }
  return buf;
}
