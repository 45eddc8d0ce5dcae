// On-disk records (history records as etcd's protobuf KeyValue, the rest msgpackr) and the key layout of the store's level database. Each "bucket" of
// etcd's bolt backend is a one-byte key prefix here:
//   'k' + revision bytes (17, or 18 for a tombstone)  -> KeyValue record   (etcd's "key" bucket)
//   'l' + 8-byte big-endian lease ID                   -> lease record      ("lease")
//   'a' + 8-byte member ID + alarm type byte           -> empty             ("alarm")
//   'm' + name                                         -> meta value        ("meta")

import { Packr } from 'msgpackr';
import { decodeKeyValue, encodeKeyValue } from '../api/codec-fast.js';
import { invariant } from '../../common/assert.js';
import type { AlarmType, KeyValue, Member } from '../api/types.js';
import { MARKED_REV_BYTES, REV_BYTES, writeRevision } from './revision.js';

export const PREFIX_KEY = 0x6b; // 'k'
export const PREFIX_LEASE = 0x6c; // 'l'
export const PREFIX_ALARM = 0x61; // 'a'
export const PREFIX_META = 0x6d; // 'm'
export const PREFIX_MEMBER = 0x70; // 'p' (peers)

export const EMPTY = Buffer.alloc(0);

const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });

/**
 * A record of the history: a put (the full KeyValue) or a tombstone (just the key), as etcd
 * stores them: mvccpb.KeyValue in protobuf form (so HashKV can hash the stored bytes as etcd
 * does). Records of earlier releases are msgpack arrays; decodeKvRecord reads both (a protobuf
 * KeyValue starts with its key field, 0x0a; a msgpack array with 0x9_).
 */
export function encodeKvRecord(kv: KeyValue, tombstone: boolean): Buffer {
  if (tombstone) return encodeKeyValue({ key: kv.key, value: EMPTY, createRevision: 0, modRevision: 0, version: 0, lease: 0n });
  return encodeKeyValue(kv);
}

/** Whether a stored record is in protobuf form (see encodeKvRecord). */
export function isProtoKvRecord(buf: Buffer): boolean {
  return buf.length > 0 && buf[0] === 0x0a;
}

function asBuffer(x: unknown, what: string): Buffer {
  invariant(Buffer.isBuffer(x), () => `corrupt record: ${what} is not bytes`);
  return x;
}

function asInt(x: unknown, what: string): number {
  invariant(typeof x === 'number' && Number.isSafeInteger(x), () => `corrupt record: ${what} is not an integer`);
  return x;
}

/** Decodes a history record; `modRevision` is taken from the record key for tombstones. */
export function decodeKvRecord(buf: Buffer, tombstoneModRevision?: number): KeyValue {
  if (isProtoKvRecord(buf)) {
    let kv: KeyValue;
    try {
      kv = decodeKeyValue(buf);
    } catch (e) {
      throw new Error(`corrupt record: ${(e as Error).message}`);
    }
    invariant(kv.key.length > 0, 'corrupt record: no key');
    if (kv.modRevision === 0) return { key: kv.key, value: EMPTY, createRevision: 0, modRevision: tombstoneModRevision ?? 0, version: 0, lease: 0n };
    return kv;
  }
  const a: unknown = packr.unpack(buf);
  invariant(Array.isArray(a) && (a.length === 1 || a.length === 6), 'corrupt record: not a KeyValue');
  const key = asBuffer(a[0], 'key');
  if (a.length === 1) {
    return { key, value: EMPTY, createRevision: 0, modRevision: tombstoneModRevision ?? 0, version: 0, lease: 0n };
  }
  const lease: unknown = a[5];
  invariant(typeof lease === 'bigint' || lease === 0, 'corrupt record: bad lease');
  return {
    key,
    value: asBuffer(a[1], 'value'),
    createRevision: asInt(a[2], 'createRevision'),
    modRevision: asInt(a[3], 'modRevision'),
    version: asInt(a[4], 'version'),
    lease: typeof lease === 'bigint' ? lease : 0n,
  };
}

export function historyKey(main: number, sub: number, tombstone: boolean): Buffer {
  const buf = Buffer.allocUnsafe(1 + (tombstone ? MARKED_REV_BYTES : REV_BYTES));
  buf[0] = PREFIX_KEY;
  writeRevision(buf, 1, main, sub, tombstone);
  return buf;
}

/** First history key of revision `main` (inclusive bound for scans). */
export function historyLowerBound(main: number): Buffer {
  return historyKey(main, 0, false);
}

function u64Key(prefix: number, id: bigint, extra = 0): Buffer {
  const buf = Buffer.allocUnsafe(9 + extra);
  buf[0] = prefix;
  buf.writeBigUInt64BE(BigInt.asUintN(64, id), 1);
  return buf;
}

export function leaseKey(id: bigint): Buffer {
  return u64Key(PREFIX_LEASE, id);
}

export interface LeaseRecord {
  id: bigint;
  ttl: number;
  remainingTTL: number;
}

export function encodeLeaseRecord(r: LeaseRecord): Buffer {
  return packr.pack([r.id, r.ttl, r.remainingTTL]);
}

export function decodeLeaseRecord(buf: Buffer): LeaseRecord {
  const a: unknown = packr.unpack(buf);
  invariant(Array.isArray(a) && a.length === 3 && typeof a[0] === 'bigint', 'corrupt lease record');
  return { id: a[0], ttl: asInt(a[1], 'ttl'), remainingTTL: asInt(a[2], 'remainingTTL') };
}

export function alarmKey(memberId: bigint, type: AlarmType): Buffer {
  const buf = u64Key(PREFIX_ALARM, memberId, 1);
  buf[9] = type;
  return buf;
}

export function decodeAlarmKey(key: Buffer): { memberID: bigint; alarm: number } {
  invariant(key.length === 10 && key[0] === PREFIX_ALARM, 'corrupt alarm key');
  return { memberID: key.readBigUInt64BE(1), alarm: key[9] as number };
}

export function memberKey(id: bigint): Buffer {
  return u64Key(PREFIX_MEMBER, id);
}

export function encodeMemberRecord(m: Member): Buffer {
  return packr.pack([m.ID, m.name, m.peerURLs, m.clientURLs, m.isLearner]);
}

export function decodeMemberRecord(buf: Buffer): Member {
  const a: unknown = packr.unpack(buf);
  invariant(
    Array.isArray(a) && a.length === 5 && typeof a[0] === 'bigint' && typeof a[1] === 'string' && Array.isArray(a[2]) && Array.isArray(a[3]) && typeof a[4] === 'boolean',
    'corrupt member record',
  );
  return { ID: a[0], name: a[1], peerURLs: a[2].map(String), clientURLs: a[3].map(String), isLearner: a[4] };
}

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([PREFIX_META]), Buffer.from(name, 'latin1')]);
}

export function encodeMeta(v: unknown): Buffer {
  return packr.pack(v);
}

export function decodeMeta(buf: Buffer): unknown {
  return packr.unpack(buf);
}

/** Shared msgpackr instance settings for other store encodings (bigints preserved). */
export function newPackr(): Packr {
  return new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });
}
