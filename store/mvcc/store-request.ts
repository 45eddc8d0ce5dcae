// The Raft entry payload of the store: etcd's InternalRaftRequest, reduced to what the store
// applies. Exactly one field is set.
//
// The KV requests (put, delete range, txn, range), i.e. nearly every entry, are one kind byte
// then etcd's own protobuf message (store/api/codec-requests.ts): the cheapest to encode on the
// proposer and to decode on every member. Everything else (membership, leases, compaction,
// alarms) is msgpack (Buffers as bin, bigint IDs as 64-bit integers, so they round-trip
// exactly), as every entry was in earlier releases; a msgpack map never starts with a kind
// byte, so both are read. Decoding checks the shape of every field, so a damaged or foreign
// entry is rejected the same way on every replica instead of crashing apply.

import {
  decodeDeleteRangeRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  encodeDeleteRangeRequest,
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnRequest,
} from '../api/codec-requests.js';
import type { AlarmRequest, CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest } from '../api/types.js';
import type { MemberChange } from './member-store.js';
import { newPackr } from './records.js';

export interface LeaseGrantProposal {
  /** Chosen by the proposer (never 0), so that applying is deterministic. */
  ID: bigint;
  TTL: number;
}

export interface LeaseRevokeProposal {
  ID: bigint;
}

export interface LeaseCheckpoint {
  ID: bigint;
  remainingTTL: number;
}

export interface LeaseCheckpointProposal {
  checkpoints: LeaseCheckpoint[];
}

/** Exactly one field is set. */
export interface StoreRequest {
  /** A membership change mirrored from Raft, or a member's update of its own attributes. */
  member?: MemberChange;
  range?: RangeRequest;
  put?: PutRequest;
  deleteRange?: DeleteRangeRequest;
  txn?: TxnRequest;
  compaction?: CompactionRequest;
  leaseGrant?: LeaseGrantProposal;
  leaseRevoke?: LeaseRevokeProposal;
  leaseCheckpoint?: LeaseCheckpointProposal;
  alarm?: AlarmRequest;
}

export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

const packr = newPackr();

/** Kind bytes of the protobuf-encoded requests (msgpack maps start with 0x80-0x8f, 0xde or 0xdf). */
const enum Kind {
  PUT = 0x01,
  DELETE_RANGE = 0x02,
  TXN = 0x03,
  RANGE = 0x04,
}

/** One request as an entry payload (a Buffer of its own: the log keeps it). */
export function encodeStoreRequest(req: StoreRequest): Buffer {
  let n = 0;
  for (const k in req) if (req[k as keyof StoreRequest] !== undefined) n++;
  if (n === 1) {
    if (req.put) return encodePutRequest(req.put, Kind.PUT);
    if (req.txn) return encodeTxnRequest(req.txn, Kind.TXN);
    if (req.deleteRange) return encodeDeleteRangeRequest(req.deleteRange, Kind.DELETE_RANGE);
    if (req.range) return encodeRangeRequest(req.range, Kind.RANGE);
  }
  return packr.pack(req);
}

function decodeKind(data: Uint8Array): StoreRequest | undefined {
  const body = data.subarray(1);
  try {
    switch (data[0]) {
      case Kind.PUT:
        return { put: decodePutRequest(body) };
      case Kind.TXN:
        return { txn: decodeTxnRequest(body) };
      case Kind.DELETE_RANGE:
        return { deleteRange: decodeDeleteRangeRequest(body) };
      case Kind.RANGE:
        return { range: decodeRangeRequest(body) };
      default:
        return undefined;
    }
  } catch (e) {
    throw new BadRequestError(`store request: undecodable (${(e as Error).message})`);
  }
}

// ---- shape checks ----

type Obj = Record<string, unknown>;

/** Where in the request a check is; built only when a check fails (checks run on every apply). */
type Path = string | (() => string);

function at(p: Path): string {
  return typeof p === 'string' ? p : p();
}

function fail(path: Path, what: string): never {
  throw new BadRequestError(`store request: ${at(path)} ${what}`);
}

function obj(v: unknown, path: Path): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Buffer.isBuffer(v)) fail(path, 'is not an object');
  return v as Obj;
}

function bytes(o: Obj, f: string, path: Path, required: boolean): void {
  const v = o[f];
  if (v === undefined) {
    if (required) fail(() => `${at(path)}.${f}`, 'is missing');
    return;
  }
  if (!Buffer.isBuffer(v)) fail(() => `${at(path)}.${f}`, 'is not bytes');
}

function int(o: Obj, f: string, path: Path, required = false): void {
  const v = o[f];
  if (v === undefined) {
    if (required) fail(() => `${at(path)}.${f}`, 'is missing');
    return;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(() => `${at(path)}.${f}`, 'is not an integer');
}

function big(o: Obj, f: string, path: Path, required = false): void {
  const v = o[f];
  if (v === undefined) {
    if (required) fail(() => `${at(path)}.${f}`, 'is missing');
    return;
  }
  if (typeof v !== 'bigint') fail(() => `${at(path)}.${f}`, 'is not a 64-bit integer');
}

function bool(o: Obj, f: string, path: Path): void {
  const v = o[f];
  if (v !== undefined && typeof v !== 'boolean') fail(() => `${at(path)}.${f}`, 'is not a boolean');
}

function arr(o: Obj, f: string, path: Path): unknown[] {
  const v = o[f];
  if (!Array.isArray(v)) fail(() => `${at(path)}.${f}`, 'is not a list');
  return v;
}

const RANGE_INTS = ['limit', 'revision', 'sortOrder', 'sortTarget', 'minModRevision', 'maxModRevision', 'minCreateRevision', 'maxCreateRevision'] as const;
const RANGE_BOOLS = ['serializable', 'keysOnly', 'countOnly'] as const;
const PUT_BOOLS = ['prevKv', 'ignoreValue', 'ignoreLease'] as const;

function checkRange(v: unknown, path: Path): void {
  const o = obj(v, path);
  bytes(o, 'key', path, true);
  bytes(o, 'rangeEnd', path, false);
  for (const f of RANGE_INTS) int(o, f, path);
  for (const f of RANGE_BOOLS) bool(o, f, path);
}

function checkPut(v: unknown, path: Path): void {
  const o = obj(v, path);
  bytes(o, 'key', path, true);
  bytes(o, 'value', path, false);
  big(o, 'lease', path);
  for (const f of PUT_BOOLS) bool(o, f, path);
}

function checkDelete(v: unknown, path: Path): void {
  const o = obj(v, path);
  bytes(o, 'key', path, true);
  bytes(o, 'rangeEnd', path, false);
  bool(o, 'prevKv', path);
}

function checkCompare(v: unknown, path: Path): void {
  const o = obj(v, path);
  int(o, 'result', path, true);
  int(o, 'target', path, true);
  bytes(o, 'key', path, true);
  int(o, 'version', path);
  int(o, 'createRevision', path);
  int(o, 'modRevision', path);
  bytes(o, 'value', path, false);
  big(o, 'lease', path);
  bytes(o, 'rangeEnd', path, false);
}

function checkOp(v: unknown, path: Path, depth: number): void {
  const o = obj(v, path);
  let n = 0;
  if (o['requestRange'] !== undefined) (n++, checkRange(o['requestRange'], () => `${at(path)}.requestRange`));
  if (o['requestPut'] !== undefined) (n++, checkPut(o['requestPut'], () => `${at(path)}.requestPut`));
  if (o['requestDeleteRange'] !== undefined) (n++, checkDelete(o['requestDeleteRange'], () => `${at(path)}.requestDeleteRange`));
  if (o['requestTxn'] !== undefined) (n++, checkTxn(o['requestTxn'], () => `${at(path)}.requestTxn`, depth + 1));
  if (n > 1) fail(path, 'sets more than one request');
}

const MAX_TXN_DEPTH = 64;

function checkTxn(v: unknown, path: Path, depth = 0): void {
  if (depth > MAX_TXN_DEPTH) fail(path, 'nests txns too deeply');
  const o = obj(v, path);
  const compare = arr(o, 'compare', path);
  for (let i = 0; i < compare.length; i++) checkCompare(compare[i], () => `${at(path)}.compare[${i}]`);
  const success = arr(o, 'success', path);
  for (let i = 0; i < success.length; i++) checkOp(success[i], () => `${at(path)}.success[${i}]`, depth);
  const failure = arr(o, 'failure', path);
  for (let i = 0; i < failure.length; i++) checkOp(failure[i], () => `${at(path)}.failure[${i}]`, depth);
}

const CHECKS: Record<keyof StoreRequest, (v: unknown, path: Path) => void> = {
  range: checkRange,
  put: checkPut,
  deleteRange: checkDelete,
  txn: (v, p) => checkTxn(v, p),
  compaction: (v, p) => {
    const o = obj(v, p);
    int(o, 'revision', p, true);
    bool(o, 'physical', p);
  },
  leaseGrant: (v, p) => {
    const o = obj(v, p);
    big(o, 'ID', p, true);
    int(o, 'TTL', p, true);
  },
  leaseRevoke: (v, p) => big(obj(v, p), 'ID', p, true),
  leaseCheckpoint: (v, p) => {
    arr(obj(v, p), 'checkpoints', p).forEach((c, i) => {
      const o = obj(c, `${p}.checkpoints[${i}]`);
      big(o, 'ID', `${p}.checkpoints[${i}]`, true);
      int(o, 'remainingTTL', `${p}.checkpoints[${i}]`, true);
    });
  },
  member: (v, p) => {
    const o = obj(v, p);
    if (!['add', 'remove', 'promote', 'update', 'attributes'].includes(o['action'] as string)) fail(`${p}.action`, 'is not a member action');
    big(o, 'ID', p, true);
    if (o['name'] !== undefined && typeof o['name'] !== 'string') fail(`${p}.name`, 'is not a string');
    for (const f of ['peerURLs', 'clientURLs']) {
      if (o[f] !== undefined && !arr(o, f, p).every((u) => typeof u === 'string')) fail(`${p}.${f}`, 'is not a list of strings');
    }
    bool(o, 'isLearner', p);
  },
  alarm: (v, p) => {
    const o = obj(v, p);
    int(o, 'action', p, true);
    big(o, 'memberID', p);
    int(o, 'alarm', p);
  },
};

/** Decodes and shape-checks an entry payload; throws BadRequestError when it is not one. */
export function decodeStoreRequest(data: Uint8Array): StoreRequest {
  const known = data.length > 0 ? decodeKind(data) : undefined;
  if (known) {
    if (known.txn) checkTxn(known.txn, 'txn');
    return known;
  }
  let v: unknown;
  try {
    v = packr.unpack(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  } catch (e) {
    throw new BadRequestError(`store request: undecodable (${(e as Error).message})`);
  }
  const o = obj(v, 'request');
  const fields = Object.keys(o).filter((k) => o[k] !== undefined);
  if (fields.length !== 1) fail('request', `must set exactly one field, has ${fields.length}`);
  const f = fields[0] as keyof StoreRequest;
  if (!Object.prototype.hasOwnProperty.call(CHECKS, f)) fail('request', `has unknown field ${String(f)}`);
  CHECKS[f](o[f], f);
  return o as StoreRequest;
}
