// Kubernetes objects in the key-value store, through the `KV` interface only (like
// k8s.io/apiserver/pkg/storage/etcd3): one key per object holding its JSON, the object's
// resourceVersion = the key's mod_revision (never stored in the value), creates guarded by
// create_revision == 0, updates and deletes by mod_revision == the version read.
// Extra keys (a Service's cluster IP and node ports) are written in the same transaction as the
// object, so an allocation can never leak or be shared.

import type { KV } from '../store/kv.js';
import {
  CompareResult,
  CompareTarget,
  type Compare,
  type KeyValue,
  type RequestOp,
} from '../store/api/types.js';
import { EtcdError, GrpcCode } from '../store/api/errors.js';
import { invariant } from '../common/assert.js';
import { Errors } from './status-error.js';
import { isJsonObject, type JsonObject } from './json-value.js';

export interface StoredObject {
  key: string;
  obj: JsonObject;
  /** mod_revision of the key. */
  rv: number;
}

/** Keys written or removed together with the object. */
export interface SideEffects {
  /** Lease the object's key is written with (events expire with it). */
  lease?: bigint;
  /** Keys that must not exist yet (allocations). */
  create?: Array<{ key: string; value: string }>;
  /** Keys removed with the write (released allocations). */
  remove?: string[];
}

export type WriteOutcome =
  | { ok: true; stored: StoredObject }
  | { ok: false; reason: 'exists' | 'missing' | 'modified' | 'side-effect'; current?: StoredObject; conflictingKey?: string };

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The smallest key greater than every key starting with `prefix` (etcd's range end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i] = b[i]! + 1;
      return out;
    }
  }
  return Buffer.from([0]);
}

/** Decodes a stored value; `rv` becomes metadata.resourceVersion. */
export function decodeObject(kv: KeyValue, rv = kv.modRevision): JsonObject {
  let obj: unknown;
  try {
    obj = JSON.parse(kv.value.toString('utf8'));
  } catch (err) {
    throw Errors.internal(`corrupt object at ${kv.key.toString('utf8')}: ${(err as Error).message}`);
  }
  if (!isJsonObject(obj)) throw Errors.internal(`corrupt object at ${kv.key.toString('utf8')}: not a JSON object`);
  const meta = isJsonObject(obj['metadata']) ? obj['metadata'] : (obj['metadata'] = {});
  (meta as JsonObject)['resourceVersion'] = String(rv);
  return obj;
}

export function encodeObject(obj: JsonObject): Buffer {
  const copy: JsonObject = { ...obj };
  if (isJsonObject(copy['metadata'])) {
    const meta = { ...copy['metadata'] };
    delete meta['resourceVersion'];
    delete meta['selfLink'];
    copy['metadata'] = meta;
  }
  return enc(JSON.stringify(copy));
}

/** A compacted revision read: Kubernetes answers these with 410 Expired. */
export function isCompacted(err: unknown): boolean {
  return err instanceof EtcdError && err.code === GrpcCode.OUT_OF_RANGE && /compacted/.test(err.message);
}

export function isFutureRevision(err: unknown): boolean {
  return err instanceof EtcdError && err.code === GrpcCode.OUT_OF_RANGE && /future revision/.test(err.message);
}

export interface ListPage {
  items: StoredObject[];
  /** The revision the page was read at. */
  revision: number;
  /** More keys follow `lastKey`. */
  more: boolean;
  lastKey?: string;
  /** Keys left after this page (when known). */
  remaining: number;
}

export class ObjectStorage {
  constructor(private readonly kv: KV) {}

  async get(key: string, revision = 0): Promise<{ stored?: StoredObject; revision: number }> {
    const res = await this.kv.range({ key: enc(key), revision });
    const kv = res.kvs[0];
    if (kv === undefined) return { revision: res.header.revision };
    return { stored: { key, obj: decodeObject(kv), rv: kv.modRevision }, revision: res.header.revision };
  }

  /** The store's current revision (a cheap count-only range). */
  async currentRevision(): Promise<number> {
    const res = await this.kv.range({ key: enc('/registry/'), rangeEnd: prefixEnd('/registry/'), countOnly: true });
    return res.header.revision;
  }

  /** Up to `limit` objects (0 = all) with keys in [startKey, end of prefix), at `revision` (0 = now). */
  async list(prefix: string, opts: { startKey?: string; limit?: number; revision?: number }): Promise<ListPage> {
    const res = await this.kv.range({
      key: enc(opts.startKey ?? prefix),
      rangeEnd: prefixEnd(prefix),
      limit: opts.limit ?? 0,
      revision: opts.revision ?? 0,
    });
    const items = res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), obj: decodeObject(kv), rv: kv.modRevision }));
    const page: ListPage = {
      items,
      revision: res.header.revision,
      more: res.more,
      remaining: Math.max(0, res.count - items.length),
    };
    const last = items[items.length - 1];
    if (last !== undefined) page.lastKey = last.key;
    return page;
  }

  async create(key: string, obj: JsonObject, side: SideEffects = {}): Promise<WriteOutcome> {
    const cmp: Compare[] = [createAbsent(key), ...(side.create ?? []).map((c) => createAbsent(c.key))];
    const success: RequestOp[] = [
      { requestPut: { key: enc(key), value: encodeObject(obj), ...(side.lease !== undefined ? { lease: side.lease } : {}) } },
      ...(side.create ?? []).map((c) => ({ requestPut: { key: enc(c.key), value: enc(c.value) } })),
    ];
    const res = await this.kv.txn({ compare: cmp, success, failure: [] });
    if (res.succeeded) return { ok: true, stored: this.written(key, obj, res.header.revision) };
    const cur = await this.get(key);
    if (cur.stored !== undefined) return { ok: false, reason: 'exists', current: cur.stored };
    for (const c of side.create ?? []) {
      const r = await this.kv.range({ key: enc(c.key), countOnly: true });
      if (r.count > 0) return { ok: false, reason: 'side-effect', conflictingKey: c.key };
    }
    // Whatever conflicted is gone again: report a retryable conflict.
    return { ok: false, reason: 'modified' };
  }

  /** Writes `obj` iff the key's mod_revision is still `expectedRv`. */
  async update(key: string, obj: JsonObject, expectedRv: number, side: SideEffects = {}): Promise<WriteOutcome> {
    invariant(expectedRv > 0, 'update needs the revision it read');
    const cmp: Compare[] = [modIs(key, expectedRv), ...(side.create ?? []).map((c) => createAbsent(c.key))];
    const success: RequestOp[] = [
      { requestPut: { key: enc(key), value: encodeObject(obj), ...(side.lease !== undefined ? { lease: side.lease } : {}) } },
      ...(side.create ?? []).map((c) => ({ requestPut: { key: enc(c.key), value: enc(c.value) } })),
      ...(side.remove ?? []).map((k) => ({ requestDeleteRange: { key: enc(k) } })),
    ];
    const res = await this.kv.txn({ compare: cmp, success, failure: [{ requestRange: { key: enc(key) } }] });
    if (res.succeeded) return { ok: true, stored: this.written(key, obj, res.header.revision) };
    return this.failure(key, res.responses[0]?.responseRange?.kvs[0], expectedRv, side);
  }

  /** Removes the key iff its mod_revision is still `expectedRv`; returns what was deleted. */
  async delete(key: string, expectedRv: number, side: SideEffects = {}): Promise<WriteOutcome> {
    const success: RequestOp[] = [
      { requestDeleteRange: { key: enc(key), prevKv: true } },
      ...(side.remove ?? []).map((k) => ({ requestDeleteRange: { key: enc(k) } })),
    ];
    const res = await this.kv.txn({
      compare: [modIs(key, expectedRv)],
      success,
      failure: [{ requestRange: { key: enc(key) } }],
    });
    if (res.succeeded) {
      const prev = res.responses[0]?.responseDeleteRange?.prevKvs[0];
      invariant(prev !== undefined, 'delete of a key that matched its mod_revision returned no prev_kv');
      return { ok: true, stored: { key, obj: decodeObject(prev, res.header.revision), rv: res.header.revision } };
    }
    return this.failure(key, res.responses[0]?.responseRange?.kvs[0], expectedRv, side);
  }

  private failure(key: string, cur: KeyValue | undefined, expectedRv: number, side: SideEffects): Promise<WriteOutcome> | WriteOutcome {
    if (cur === undefined) return { ok: false, reason: 'missing' };
    const current = { key, obj: decodeObject(cur), rv: cur.modRevision };
    if (cur.modRevision !== expectedRv) return { ok: false, reason: 'modified', current };
    return (async (): Promise<WriteOutcome> => {
      for (const c of side.create ?? []) {
        const r = await this.kv.range({ key: enc(c.key), countOnly: true });
        if (r.count > 0) return { ok: false, reason: 'side-effect', current, conflictingKey: c.key };
      }
      return { ok: false, reason: 'modified', current };
    })();
  }

  private written(key: string, obj: JsonObject, rv: number): StoredObject {
    const copy = structuredClone(obj);
    const meta = isJsonObject(copy['metadata']) ? copy['metadata'] : (copy['metadata'] = {});
    (meta as JsonObject)['resourceVersion'] = String(rv);
    return { key, obj: copy, rv };
  }

  /** Raw access for allocation keys that are not objects. */
  async keyExists(key: string): Promise<boolean> {
    const r = await this.kv.range({ key: enc(key), countOnly: true });
    return r.count > 0;
  }
}

function createAbsent(key: string): Compare {
  return { result: CompareResult.EQUAL, target: CompareTarget.CREATE, key: enc(key), createRevision: 0 };
}

function modIs(key: string, rv: number): Compare {
  return { result: CompareResult.EQUAL, target: CompareTarget.MOD, key: enc(key), modRevision: rv };
}
