// The request checks etcd 3.4 makes before proposing (etcdserver/api/v3rpc/key.go): empty keys,
// ignore_value/ignore_lease with a value/lease, the txn op limit (shared with nested txns), and
// the duplicate-key check of checkIntervals (a put may not overlap another put or a delete of
// the same txn level or its nested txns). The gRPC server calls checkRequest before proposing;
// the applier repeats it, so a bad entry in the log fails the same way on every replica.

import { Errors, type EtcdError } from '../api/errors.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../api/types.js';

export const DEFAULT_MAX_TXN_OPS = 128;

export function checkRangeRequest(r: RangeRequest): EtcdError | undefined {
  return r.key.length === 0 ? Errors.emptyKey() : undefined;
}

export function checkPutRequest(r: PutRequest): EtcdError | undefined {
  if (r.key.length === 0) return Errors.emptyKey();
  if (r.ignoreValue === true && (r.value?.length ?? 0) !== 0) return Errors.valueProvided();
  if (r.ignoreLease === true && (r.lease ?? 0n) !== 0n) return Errors.leaseProvided();
  return undefined;
}

export function checkDeleteRequest(r: DeleteRangeRequest): EtcdError | undefined {
  return r.key.length === 0 ? Errors.emptyKey() : undefined;
}

function checkRequestOp(u: RequestOp, maxTxnOps: number): EtcdError | undefined {
  if (u.requestRange !== undefined) return checkRangeRequest(u.requestRange);
  if (u.requestPut !== undefined) return checkPutRequest(u.requestPut);
  if (u.requestDeleteRange !== undefined) return checkDeleteRequest(u.requestDeleteRange);
  if (u.requestTxn !== undefined) return checkTxnOps(u.requestTxn, maxTxnOps);
  return Errors.keyNotFound(); // an empty op
}

function checkTxnOps(r: TxnRequest, maxTxnOps: number): EtcdError | undefined {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) return Errors.tooManyOps();
  for (const c of r.compare) if (c.key.length === 0) return Errors.emptyKey();
  for (const u of r.success) {
    const err = checkRequestOp(u, maxTxnOps - opc);
    if (err) return err;
  }
  for (const u of r.failure) {
    const err = checkRequestOp(u, maxTxnOps - opc);
    if (err) return err;
  }
  return undefined;
}

/**
 * A key interval as etcd's adt "affine" string intervals: begin..end with an empty end meaning
 * +infinity. A delete's range end "\0" is taken literally, as etcd does (such an interval never
 * overlaps a put: etcd 3.4 lets a from-key delete and a put of the same txn through).
 */
interface Interval {
  begin: string;
  end: string | undefined; // undefined: the single key `begin`
}

function overlapsPoint(iv: Interval, k: string): boolean {
  if (iv.end === undefined) return iv.begin === k;
  return k >= iv.begin && k < iv.end;
}

class Intervals {
  readonly list: Interval[] = [];
  intersects(k: string): boolean {
    for (const iv of this.list) if (overlapsPoint(iv, k)) return true;
    return false;
  }
}

function checkIntervals(reqs: readonly RequestOp[]): { puts: Set<string>; dels: Intervals } | EtcdError {
  const dels = new Intervals();
  for (const req of reqs) {
    const d = req.requestDeleteRange;
    if (d === undefined) continue;
    const key = d.key.toString('latin1');
    dels.list.push(d.rangeEnd !== undefined && d.rangeEnd.length > 0 ? { begin: key, end: d.rangeEnd.toString('latin1') } : { begin: key, end: undefined });
  }
  const puts = new Set<string>();
  for (const req of reqs) {
    const t = req.requestTxn;
    if (t === undefined) continue;
    const then = checkIntervals(t.success);
    if (!('puts' in then)) return then;
    const els = checkIntervals(t.failure);
    if (!('puts' in els)) return els;
    for (const k of then.puts) {
      if (puts.has(k) || dels.intersects(k)) return Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of els.puts) {
      // then/else are exclusive: the same key in both is fine.
      if (puts.has(k) && !then.puts.has(k)) return Errors.duplicateKey();
      if (dels.intersects(k)) return Errors.duplicateKey();
      puts.add(k);
    }
    dels.list.push(...then.dels.list, ...els.dels.list);
  }
  for (const req of reqs) {
    const p = req.requestPut;
    if (p === undefined) continue;
    const k = p.key.toString('latin1');
    if (puts.has(k) || dels.intersects(k)) return Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}

/** etcd's Txn checks: checkTxnRequest, then checkIntervals of success and of failure. */
export function checkTxnRequest(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): EtcdError | undefined {
  const err = checkTxnOps(r, maxTxnOps);
  if (err) return err;
  const s = checkIntervals(r.success);
  if (!('puts' in s)) return s;
  const f = checkIntervals(r.failure);
  if (!('puts' in f)) return f;
  return undefined;
}
