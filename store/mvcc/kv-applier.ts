// The request-level semantics of etcd 3.4's KV (etcdserver/apply.go, applierV3backend): Range
// with its limit/sort/filter options, Put with prev_kv/ignore_value/ignore_lease, DeleteRange,
// and Txn (compares, nested txns, checks) over the KvStore. Responses are etcd's, including
// header revisions; only `revision` is set in headers (the server fills cluster, member and
// term of the top-level header, and leaves nested txn headers as etcd does: revision only).
//
// Values older than the current revision may have to come from disk; a request that needs them
// is prepared (everything that reads the current state is evaluated first, synchronously) and
// finished once they are fetched, so every response is one consistent view.

import { invariant } from '../../common/assert.js';
import { Errors } from '../api/errors.js';
import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../api/types.js';
import { goSortArray } from './go-sort.js';
import { EMPTY } from './records.js';
import { rangeEndOf, type KvStore, type RangeEnd, type RangePlan, type WriteTxn } from './kv-store.js';

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}

/** A txn whose every op (in both branches) is a Range: served without the log. */
export function isTxnReadOnly(r: TxnRequest): boolean {
  for (const op of r.success) if (op.requestRange === undefined) return false;
  for (const op of r.failure) if (op.requestRange === undefined) return false;
  return true;
}

/** etcd's Range fetch options: everything when sorting or filtering, else limit + 1 for `more`. */
function fetchLimit(r: RangeRequest): number {
  const sortOrder = r.sortOrder ?? SortOrder.NONE;
  if (
    sortOrder !== SortOrder.NONE ||
    (r.minModRevision ?? 0) !== 0 ||
    (r.maxModRevision ?? 0) !== 0 ||
    (r.minCreateRevision ?? 0) !== 0 ||
    (r.maxCreateRevision ?? 0) !== 0
  ) {
    return 0;
  }
  const limit = r.limit ?? 0;
  return limit > 0 ? limit + 1 : limit;
}

function planRange(store: KvStore, r: RangeRequest, curRev: number): RangePlan {
  return store.rangeKeys(r.key.toString('latin1'), rangeEndOf(r.rangeEnd), curRev, {
    rev: r.revision ?? 0,
    limit: fetchLimit(r),
    countOnly: r.countOnly === true,
  });
}

const cmpBytes = (a: Buffer, b: Buffer): number => Buffer.compare(a, b);

const LESS: Record<SortTarget, (a: KeyValue, b: KeyValue) => boolean> = {
  [SortTarget.KEY]: (a, b) => cmpBytes(a.key, b.key) < 0,
  [SortTarget.VERSION]: (a, b) => a.version < b.version,
  [SortTarget.CREATE]: (a, b) => a.createRevision < b.createRevision,
  [SortTarget.MOD]: (a, b) => a.modRevision < b.modRevision,
  [SortTarget.VALUE]: (a, b) => cmpBytes(a.value, b.value) < 0,
};

/** Filters, sorts and truncates fetched values as etcd's applierV3backend.Range does. */
function finishRange(r: RangeRequest, fetched: readonly KeyValue[], count: number, headerRev: number): RangeResponse {
  let kvs = fetched.slice();
  const prune = (bound: number | undefined, drop: (kv: KeyValue, b: number) => boolean): void => {
    if (bound === undefined || bound === 0) return;
    kvs = kvs.filter((kv) => !drop(kv, bound));
  };
  prune(r.maxModRevision, (kv, b) => kv.modRevision > b);
  prune(r.minModRevision, (kv, b) => kv.modRevision < b);
  prune(r.maxCreateRevision, (kv, b) => kv.createRevision > b);
  prune(r.minCreateRevision, (kv, b) => kv.createRevision < b);

  const target = r.sortTarget ?? SortTarget.KEY;
  let order = r.sortOrder ?? SortOrder.NONE;
  // Results come in key order already; any other target sorts ascending by default.
  if (target !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
  if (order !== SortOrder.NONE) {
    const less = LESS[target];
    invariant(less !== undefined, () => `unknown sort target ${target}`);
    if (order === SortOrder.ASCEND) goSortArray(kvs, less);
    else if (order === SortOrder.DESCEND) goSortArray(kvs, (a, b) => less(b, a));
  }
  let more = false;
  const limit = r.limit ?? 0;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (r.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  return { header: header(headerRev), kvs, more, count };
}

function compareInt(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKV(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      result = Buffer.compare(kv.value, c.value ?? EMPTY);
      break;
    case CompareTarget.CREATE:
      result = compareInt(kv.createRevision, c.createRevision ?? 0);
      break;
    case CompareTarget.MOD:
      result = compareInt(kv.modRevision, c.modRevision ?? 0);
      break;
    case CompareTarget.VERSION:
      result = compareInt(kv.version, c.version ?? 0);
      break;
    case CompareTarget.LEASE: {
      const a = BigInt.asIntN(64, kv.lease);
      const b = BigInt.asIntN(64, c.lease ?? 0n);
      result = a < b ? -1 : a > b ? 1 : 0;
      break;
    }
    default:
      result = 0;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return result === 0;
    case CompareResult.NOT_EQUAL:
      return result !== 0;
    case CompareResult.GREATER:
      return result > 0;
    case CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

const ZERO_KV: KeyValue = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0, lease: 0n };

/** Pre-order flattening of which branch each (nested) txn takes: etcd's txnPath. */
class PathCursor {
  i = 0;
  constructor(readonly path: boolean[]) {}
  next(): boolean {
    const b = this.path[this.i++];
    invariant(b !== undefined, 'txn path exhausted');
    return b;
  }
}

/** What the applier needs to know about leases. */
export interface LeaseLookup {
  exists(id: bigint): boolean;
}

interface Prepared {
  /** The revision the compares and read-ahead ranges saw. */
  rev: number;
  path: boolean[];
  /** Ranges evaluated ahead of the writes, with their values (or a promise of them). */
  plans: Map<RangeRequest, { plan: RangePlan; values: KeyValue[] | Promise<KeyValue[]> }>;
  async: boolean;
}

export class KvApplier {
  constructor(
    private readonly store: KvStore,
    private readonly leases: LeaseLookup,
  ) {}

  // ---- reads (served without the log) ----

  range(r: RangeRequest): RangeResponse | Promise<RangeResponse> {
    const plan = planRange(this.store, r, this.store.currentRev);
    const values = this.store.materialize(plan);
    if (values instanceof Promise) return values.then((v) => finishRange(r, v, plan.count, plan.headerRev));
    return finishRange(r, values, plan.count, plan.headerRev);
  }

  /** A read-only txn (isTxnReadOnly): compares and ranges at one revision. */
  readTxn(rt: TxnRequest): TxnResponse | Promise<TxnResponse> {
    invariant(isTxnReadOnly(rt), 'readTxn of a txn that writes');
    const prep = this.prepare(rt, false);
    const run = (): TxnResponse => {
      const resp = this.execTxn(rt, new PathCursor(prep.path), prep, undefined);
      resp.header = header(prep.rev);
      return resp;
    };
    return prep.async ? this.awaitPlans(prep).then(run) : run();
  }

  // ---- writes (apply path) ----

  put(p: PutRequest): PutResponse {
    const lease = p.lease ?? 0n;
    if (lease !== 0n && !this.leases.exists(lease)) throw Errors.leaseNotFound();
    const txn = this.store.write();
    try {
      return this.execPut(txn, p);
    } finally {
      txn.end();
    }
  }

  deleteRange(dr: DeleteRangeRequest): DeleteRangeResponse {
    const txn = this.store.write();
    try {
      return this.execDelete(txn, dr);
    } finally {
      txn.end();
    }
  }

  /** A txn through the log; a promise only when a Range inside reads old values from disk. */
  txn(rt: TxnRequest): TxnResponse | Promise<TxnResponse> {
    const isWrite = !isTxnReadOnly(rt);
    const prep = this.prepare(rt, isWrite);
    const run = (): TxnResponse => {
      if (!isWrite) {
        const resp = this.execTxn(rt, new PathCursor(prep.path), prep, undefined);
        resp.header = header(prep.rev);
        return resp;
      }
      const txn = this.store.write();
      let resp: TxnResponse;
      try {
        resp = this.execTxn(rt, new PathCursor(prep.path), prep, txn);
      } finally {
        txn.end();
      }
      resp.header = header(txn.changes.length > 0 ? txn.beginRev + 1 : txn.beginRev);
      return resp;
    };
    return prep.async ? this.awaitPlans(prep).then(run) : run();
  }

  // ---- txn internals ----

  private applyCompare(c: Compare): boolean {
    const cur = this.store.currentRev;
    const plan = this.store.rangeKeys(c.key.toString('latin1'), rangeEndOf(c.rangeEnd), cur, {
      rev: 0,
      limit: 0,
      countOnly: false,
    });
    const kvs = plan.items as KeyValue[]; // at the current revision: all in memory
    if (kvs.length === 0) {
      // A missing key never equals a value (nil and empty are the same on the wire).
      if (c.target === CompareTarget.VALUE) return false;
      return compareKV(c, ZERO_KV);
    }
    for (const kv of kvs) if (!compareKV(c, kv)) return false;
    return true;
  }

  private compareToPath(rt: TxnRequest, path: boolean[]): void {
    let ok = true;
    for (const c of rt.compare) {
      if (!this.applyCompare(c)) {
        ok = false;
        break;
      }
    }
    path.push(ok);
    for (const op of ok ? rt.success : rt.failure) if (op.requestTxn !== undefined) this.compareToPath(op.requestTxn, path);
  }

  /** Walks the ops of the chosen branches in execution order (nested txns inline). */
  private walkPath(rt: TxnRequest, cur: PathCursor, fn: (op: RequestOp) => void): void {
    for (const op of cur.next() ? rt.success : rt.failure) {
      if (op.requestTxn !== undefined) this.walkPath(op.requestTxn, cur, fn);
      else fn(op);
    }
  }

  /**
   * Compares, etcd's request checks (puts first, then ranges), and the Ranges that must be
   * read before any write: every one in a read-only txn, those at an explicit revision in a
   * write txn (the current-revision ones see the txn's own writes, as in etcd).
   */
  private prepare(rt: TxnRequest, isWrite: boolean): Prepared {
    const store = this.store;
    const path: boolean[] = [];
    this.compareToPath(rt, path);
    if (isWrite) {
      const deletes: Array<{ key: string; end: RangeEnd }> = [];
      this.walkPath(rt, new PathCursor(path), (op) => {
        if (op.requestDeleteRange !== undefined) {
          deletes.push({ key: op.requestDeleteRange.key.toString('latin1'), end: rangeEndOf(op.requestDeleteRange.rangeEnd) });
        }
        const p = op.requestPut;
        if (p === undefined) return;
        if (p.ignoreValue === true || p.ignoreLease === true) {
          const k = p.key.toString('latin1');
          const exists = store.index.get(k)?.latest !== undefined;
          // A key deleted earlier in the same txn (only a from-key delete can slip past the
          // duplicate-key check) has no previous value either; etcd would crash here.
          const deletedBefore = deletes.some((d) => (d.end === undefined ? d.key === k : k >= d.key && (d.end === '' || k < d.end)));
          if (!exists || deletedBefore) throw Errors.keyNotFound();
        }
        const lease = p.lease ?? 0n;
        if (lease !== 0n && !this.leases.exists(lease)) throw Errors.leaseNotFound();
      });
    }
    this.walkPath(rt, new PathCursor(path), (op) => {
      const r = op.requestRange;
      if (r === undefined) return;
      const rev = r.revision ?? 0;
      if (rev === 0) return;
      if (rev > store.currentRev) throw Errors.futureRev();
      if (rev < store.compactRev) throw Errors.compacted();
    });
    const prep: Prepared = { rev: store.currentRev, path, plans: new Map(), async: false };
    this.walkPath(rt, new PathCursor(path), (op) => {
      const r = op.requestRange;
      if (r === undefined || prep.plans.has(r)) return;
      if (isWrite && (r.revision ?? 0) <= 0) return;
      const plan = planRange(store, r, store.currentRev);
      const values = store.materialize(plan);
      if (values instanceof Promise) prep.async = true;
      prep.plans.set(r, { plan, values });
    });
    return prep;
  }

  private async awaitPlans(prep: Prepared): Promise<void> {
    for (const entry of prep.plans.values()) {
      if (entry.values instanceof Promise) entry.values = await entry.values;
    }
  }

  private execTxn(rt: TxnRequest, cur: PathCursor, prep: Prepared, txn: WriteTxn | undefined): TxnResponse {
    const succeeded = cur.next();
    const responses: ResponseOp[] = [];
    for (const op of succeeded ? rt.success : rt.failure) {
      if (op.requestRange !== undefined) {
        responses.push({ responseRange: this.execRange(op.requestRange, prep, txn) });
      } else if (op.requestPut !== undefined) {
        invariant(txn !== undefined, 'put in a read-only txn');
        responses.push({ responsePut: this.execPut(txn, op.requestPut) });
      } else if (op.requestDeleteRange !== undefined) {
        invariant(txn !== undefined, 'delete in a read-only txn');
        responses.push({ responseDeleteRange: this.execDelete(txn, op.requestDeleteRange) });
      } else if (op.requestTxn !== undefined) {
        // Nested txn responses carry an empty header in etcd.
        responses.push({ responseTxn: this.execTxn(op.requestTxn, cur, prep, txn) });
      } else {
        responses.push({});
      }
    }
    return { header: header(0), succeeded, responses };
  }

  private execRange(r: RangeRequest, prep: Prepared, txn: WriteTxn | undefined): RangeResponse {
    const curRev = txn !== undefined ? txn.rev : prep.rev;
    const pre = prep.plans.get(r);
    if (pre !== undefined) {
      invariant(!(pre.values instanceof Promise), 'range values not fetched');
      return finishRange(r, pre.values, pre.plan.count, curRev);
    }
    const plan = planRange(this.store, r, curRev);
    const values = this.store.materialize(plan);
    invariant(!(values instanceof Promise), 'current-revision range needed disk');
    return finishRange(r, values, plan.count, plan.headerRev);
  }

  private execPut(txn: WriteTxn, p: PutRequest): PutResponse {
    const ignore = p.ignoreValue === true || p.ignoreLease === true;
    const prev = ignore || p.prevKv === true ? this.store.index.get(p.key.toString('latin1'))?.latest : undefined;
    if (ignore && prev === undefined) throw Errors.keyNotFound();
    const value = p.ignoreValue === true ? (prev as KeyValue).value : (p.value ?? EMPTY);
    const lease = p.ignoreLease === true ? (prev as KeyValue).lease : (p.lease ?? 0n);
    txn.put(p.key, value, lease);
    const resp: PutResponse = { header: header(txn.beginRev + 1) };
    if (p.prevKv === true && prev !== undefined) resp.prevKv = prev;
    return resp;
  }

  private execDelete(txn: WriteTxn, dr: DeleteRangeRequest): DeleteRangeResponse {
    const end = rangeEndOf(dr.rangeEnd);
    let prevKvs: KeyValue[] = [];
    if (dr.prevKv === true) {
      const plan = this.store.rangeKeys(dr.key.toString('latin1'), end, txn.rev, { rev: 0, limit: 0, countOnly: false });
      prevKvs = plan.items as KeyValue[];
    }
    const n = txn.deleteRange(dr.key, end);
    const rev = n !== 0 || txn.changes.length > 0 ? txn.beginRev + 1 : txn.beginRev;
    return { header: header(rev), deleted: n, prevKvs };
  }
}
