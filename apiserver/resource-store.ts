// The storage semantics of every resource (k8s.io/apiserver/pkg/registry/generic/registry.Store
// plus the per-kind strategies): create / get / list / update / patch / delete / deletecollection
// and the status, scale, binding, eviction and finalize subresources, on top of ObjectStorage
// (the store) and one WatchCache per storage prefix.

import { randomInt } from 'node:crypto';
import type { KV } from '../store/kv.js';
import { invariant } from '../common/assert.js';
import { EtcdError, GrpcCode } from '../store/api/errors.js';
import { applyPatch, type PatchType } from './apply-patch.js';
import { decodeContinue, encodeContinue } from './continue-token.js';
import { applyDefaults, generateJobSelector, podQosClass } from './defaults.js';
import { deleteOptionsFrom, type DeleteOptions } from './delete-options.js';
import { planDeletion } from './deletion-plan.js';
import { coreToEventsV1, eventsV1ToCore } from './event-conversion.js';
import { EventLeases } from './event-leases.js';
import { FieldSelector } from './field-selector.js';
import { checkFields, type FieldValidation } from './field-validation.js';
import { deepEqual, isJsonObject, type JsonObject } from './json-value.js';
import { LabelSelector } from './label-selector.js';
import { finalizersOf, generateName, metaOf, metaTime, newUid } from './object-meta.js';
import { isCompacted, isFutureRevision, ObjectStorage, type SideEffects, type StoredObject } from './object-storage.js';
import { findResource, groupVersionOf, listPrefix, objectKey, type ResourceInfo, type SubresourceName } from './registry.js';
import { Cidr, PortRange } from './service-ip-allocator.js';
import { ApiError, Errors, Field, type FieldError, successStatus, type Status } from './status-error.js';
import { scaleOf } from './scale.js';
import { ServiceAllocations, type ExplicitAllocations } from './service-allocations.js';
import { validateCreate, validateUpdate } from './validation.js';
import { NotFreshError, TooOldError, WatchCache, type CacheEvent, type WatchCacheOptions } from './watch-cache.js';

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}


export interface WriteOptions {
  dryRun?: boolean;
  /** Unknown-field handling of the request body (kubectl sends Strict). */
  fieldValidation?: FieldValidation;
  /** Receives warnings for the response's Warning headers. */
  warnings?: string[];
  /** PUT of a missing object creates it, for the resources that allow it (AllowCreateOnUpdate). */
  allowCreate?: boolean;
}

export interface DeleteResult {
  /** 200 when the object is gone, 202 when deletion is pending (finalizers, graceful pods). */
  code: 200 | 202;
  body: JsonObject | Status;
}

export interface ResourceStoreOptions {
  /** Cluster IPs come from here (default 127.100.0.0/16: loopback, see DESIGN.md). */
  serviceCidr?: string;
  nodePortRange?: [number, number];
  watchCache?: WatchCacheOptions;
  /** Events expire this long after their last write (kube-apiserver's --event-ttl; default 3600; 0: never). */
  eventTtlSeconds?: number;
  /** Events written within this window share one lease (default 60). */
  eventLeaseReuseSeconds?: number;
  /** Max objects one etcd read fetches while paging with selectors (bounds memory per request). */
  maxPageSize?: number;
  now?: () => number;
}

/**
 * Read-modify-write attempts of a write without a client precondition (kube-apiserver's
 * GuaranteedUpdate retries until the request times out); each conflict backs off a little.
 */
const MAX_UPDATE_RETRIES = 100;

/** A short randomized pause after a lost compare-and-swap, so contending writers spread out. */
function conflictBackoff(attempt: number): Promise<void> {
  const ms = randomInt(1 + Math.min(2 ** attempt, 50));
  return new Promise((r) => setTimeout(r, ms));
}

const MAX_GENERATE_NAME_RETRIES = 8;
const MAX_ALLOCATION_RETRIES = 16;

/** Kinds whose status the server resets on create (PrepareForCreate of their strategies). */
const RESET_STATUS_ON_CREATE = new Set([
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'ReplicationController',
  'Job',
  'CronJob',
]);

/** Resources for which PUT of a missing object creates it (AllowCreateOnUpdate). */
const CREATE_ON_UPDATE = new Set(['/endpoints', '/events', 'events.k8s.io/events', 'coordination.k8s.io/leases']);

export class ResourceStore {
  readonly storage: ObjectStorage;
  private readonly caches = new Map<string, WatchCache>();
  readonly services: ServiceAllocations;
  private readonly maxPageSize: number;
  private readonly readyTimeoutMs: number;
  readonly now: () => number;

  constructor(
    private readonly kv: KV,
    private readonly opts: ResourceStoreOptions = {},
  ) {
    this.storage = new ObjectStorage(kv);
    const [lo, hi] = opts.nodePortRange ?? [30000, 32767];
    this.services = new ServiceAllocations(new Cidr(opts.serviceCidr ?? '127.100.0.0/16'), new PortRange(lo, hi));
    this.maxPageSize = opts.maxPageSize ?? 500;
    this.readyTimeoutMs = opts.watchCache?.freshnessTimeoutMs ?? 3000;
    this.now = opts.now ?? Date.now;
    const ttl = opts.eventTtlSeconds ?? 3600;
    if (ttl > 0) this.eventLeases = new EventLeases(kv, ttl, opts.eventLeaseReuseSeconds ?? 60, this.now);
  }

  private readonly eventLeases: EventLeases | undefined;

  /** Events are written with a lease so that they expire. */
  private async leaseFor(r: ResourceInfo): Promise<SideEffects> {
    if (this.eventLeases === undefined || r.storagePrefix !== '/registry/events') return {};
    return { lease: await this.eventLeases.lease() };
  }

  /** The watch cache of `r`'s storage prefix (shared by resources stored together). */
  cacheFor(r: ResourceInfo): WatchCache {
    const prefix = `${r.storagePrefix}/`;
    let c = this.caches.get(prefix);
    if (c === undefined) {
      c = new WatchCache(this.kv, prefix, this.opts.watchCache);
      this.caches.set(prefix, c);
    }
    return c;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.caches.values()].map((c) => c.stop()));
  }

  /** The watch caches started so far (for metrics). */
  allCaches(): WatchCache[] {
    return [...this.caches.values()];
  }

  /** Waits (bounded) for a cache that is (re)initializing; kube-apiserver answers 429 meanwhile. */
  async cacheReady(c: WatchCache): Promise<void> {
    if (!(await c.readyWithin(this.readyTimeoutMs))) throw Errors.tooManyRequests('storage is (re)initializing');
  }

  // ---- conversion between the stored and the served form ----

  toExternal(r: ResourceInfo, stored: JsonObject): JsonObject {
    if (r.group === 'events.k8s.io') return coreToEventsV1(stored);
    return { ...stored, apiVersion: groupVersionOf(r), kind: r.kind };
  }

  private toInternal(r: ResourceInfo, obj: JsonObject): JsonObject {
    if (r.group === 'events.k8s.io') return eventsV1ToCore(obj);
    return obj;
  }

  private gr(r: ResourceInfo): { group: string; resource: string } {
    return { group: r.group, resource: r.resource };
  }

  // ---- reads ----

  async get(r: ResourceInfo, ns: string | undefined, name: string, resourceVersion?: string): Promise<JsonObject> {
    const key = objectKey(r, ns, name);
    if (resourceVersion === '0') {
      const c = this.cacheFor(r);
      await this.cacheReady(c);
      const hit = c.get(key);
      if (hit === undefined) throw Errors.notFound(this.gr(r), name);
      return this.toExternal(r, structuredClone(hit.obj));
    }
    const rev = resourceVersion === undefined || resourceVersion === '' ? 0 : parseRv(resourceVersion);
    let stored: StoredObject | undefined;
    try {
      stored = (await this.storage.get(key, 0)).stored;
    } catch (err) {
      throw storeError(err);
    }
    if (stored === undefined) throw Errors.notFound(this.gr(r), name);
    if (rev > 0 && stored.rv < rev) {
      // NotOlderThan: the current state is at least as new as asked unless the store is behind.
      const cur = await this.storage.currentRevision();
      if (cur < rev) throw Errors.timeout(`Too large resource version: ${rev}, current: ${cur}`, 1);
    }
    return this.toExternal(r, stored.obj);
  }

  async list(r: ResourceInfo, ns: string | undefined, q: ListQuery): Promise<JsonObject> {
    const labels = LabelSelector.parse(q.labelSelector ?? '');
    const fields = FieldSelector.parse(q.fieldSelector ?? '', r);
    const { items, rev, cont, remaining } = await this.listStored(r, ns, q, labels, fields);
    const metadata: JsonObject = { resourceVersion: String(rev) };
    if (cont !== undefined) metadata['continue'] = cont;
    if (remaining !== undefined && remaining > 0) metadata['remainingItemCount'] = remaining;
    return {
      kind: `${r.kind}List`,
      apiVersion: groupVersionOf(r),
      metadata,
      items: items.map((o) => this.toExternal(r, o)),
    };
  }

  /** Matching stored objects of a list request, with the revision they reflect. */
  async listStored(
    r: ResourceInfo,
    ns: string | undefined,
    q: ListQuery,
    labels: LabelSelector,
    fields: FieldSelector,
  ): Promise<{ items: JsonObject[]; rev: number; cont?: string; remaining?: number }> {
    const rvText = q.resourceVersion ?? '';
    const match = q.resourceVersionMatch ?? '';
    const limit = q.limit ?? 0;
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      throw Errors.badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    }
    if (match !== '' && rvText === '') throw Errors.badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (q.continue !== undefined && q.continue !== '') {
      if (rvText !== '' && rvText !== '0') throw Errors.badRequest('specifying resource version is not allowed when using continue');
      if (match !== '') throw Errors.badRequest('resourceVersionMatch is forbidden when continue is provided');
    }
    if (match === 'Exact' && rvText === '0') throw Errors.badRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    const prefix = listPrefix(r, ns);
    const keep = (o: JsonObject): boolean => labels.matches(labelsOf(o)) && fields.matches(o);

    if (q.continue !== undefined && q.continue !== '') {
      const tok = decodeContinue(q.continue, prefix);
      return this.pageFromStore(prefix, tok.start, tok.rv, limit, keep);
    }
    if (match === 'Exact') return this.pageFromStore(prefix, prefix, parseRv(rvText), limit, keep);
    if (limit > 0 && rvText === '') return this.pageFromStore(prefix, prefix, 0, limit, keep);

    const cache = this.cacheFor(r);
    if (rvText === '') {
      // A consistent read: from the cache if it has seen the store's current revision, else the store.
      const cur = await this.storage.currentRevision().catch((err: unknown) => {
        throw storeError(err);
      });
      if (!(await cache.waitFresh(cur))) return this.pageFromStore(prefix, prefix, cur, 0, keep);
    } else if (rvText === '0') {
      await this.cacheReady(cache);
    } else {
      // NotOlderThan N: the cache if it got there, else the store's current state (if N is not in the future).
      const want = parseRv(rvText);
      if (!(await cache.waitFresh(want))) {
        const cur = await this.storage.currentRevision().catch((err: unknown) => {
          throw storeError(err);
        });
        if (want > cur) throw Errors.timeout(`Too large resource version: ${want}, current: ${cur}`, 1);
        return this.pageFromStore(prefix, prefix, cur, 0, keep);
      }
    }
    const snap = cache.snapshot(prefix);
    return { items: snap.items.map((i) => structuredClone(i.obj)).filter(keep), rev: snap.rev };
  }

  private async pageFromStore(
    prefix: string,
    startKey: string,
    revision: number,
    limit: number,
    keep: (o: JsonObject) => boolean,
  ): Promise<{ items: JsonObject[]; rev: number; cont?: string; remaining?: number }> {
    const items: JsonObject[] = [];
    let start = startKey;
    let rev = revision;
    let filtered = false;
    // Read pages until `limit` objects matched or the prefix ends (each page bounded).
    for (let round = 0; round < 10_000; round++) {
      const want = limit > 0 ? Math.min(this.maxPageSize, Math.max(limit - items.length, limit)) : this.maxPageSize;
      let page;
      try {
        page = await this.storage.list(prefix, { startKey: start, limit: want, revision: rev });
      } catch (err) {
        if (isCompacted(err)) {
          if (startKey !== prefix) {
            const e = Errors.expired(
              'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
            );
            e.status.metadata.continue = encodeContinue(prefix, startKey, -1);
            throw e;
          }
          throw Errors.expired('The resourceVersion for the provided list is too old.');
        }
        throw storeError(err);
      }
      if (rev <= 0) rev = page.revision;
      for (let i = 0; i < page.items.length; i++) {
        const it = page.items[i]!;
        if (keep(it.obj)) items.push(it.obj);
        else filtered = true;
        if (limit > 0 && items.length >= limit) {
          const moreLeft = i < page.items.length - 1 || page.more;
          if (!moreLeft) return { items, rev };
          const out: { items: JsonObject[]; rev: number; cont?: string; remaining?: number } = {
            items,
            rev,
            cont: encodeContinue(prefix, it.key + '\0', rev),
          };
          if (!filtered && page.remaining >= 0) out.remaining = page.remaining + (page.items.length - 1 - i);
          return out;
        }
      }
      if (!page.more || page.lastKey === undefined) return { items, rev };
      start = page.lastKey + '\0';
    }
    throw Errors.internal('list did not terminate');
  }

  // ---- create ----

  async create(r: ResourceInfo, ns: string | undefined, body: unknown, opts: WriteOptions = {}): Promise<JsonObject> {
    const input = this.checkBody(r, body);
    checkFields(r, input, opts.fieldValidation, opts.warnings);
    const obj = this.toInternal(r, input);
    const meta = metaOf(obj);
    if (r.namespaced) {
      invariant(ns !== undefined, 'namespaced create without namespace');
      if (meta['namespace'] !== undefined && meta['namespace'] !== '' && meta['namespace'] !== ns) {
        throw Errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta['namespace'] = ns;
    } else {
      delete meta['namespace'];
    }
    if (meta['resourceVersion'] !== undefined && meta['resourceVersion'] !== '') {
      throw Errors.internal('resourceVersion should not be set on objects to be created');
    }
    const wantsGenerated = (meta['name'] === undefined || meta['name'] === '') && typeof meta['generateName'] === 'string' && meta['generateName'] !== '';
    if (r.namespaced) await this.checkNamespaceWritable(r, ns!, String(meta['name'] ?? meta['generateName'] ?? ''));

    for (let attempt = 0; ; attempt++) {
      const o = structuredClone(obj);
      const m = metaOf(o);
      if (wantsGenerated) m['name'] = generateName(String(m['generateName']));
      this.prepareForCreate(r, o);
      const errs = validateCreate(r, o);
      if (errs.length > 0) throw Errors.invalid(r.kind, r.group, String(m['name'] ?? ''), errs);
      const explicit: ExplicitAllocations = { ports: new Map() };
      const side = { ...this.services.createSideEffects(r, o, explicit), ...(await this.leaseFor(r)) };
      const key = objectKey(r, ns, String(m['name']));
      if (opts.dryRun) return this.toExternal(r, o);
      let res;
      try {
        res = await this.storage.create(key, o, side);
      } catch (err) {
        throw storeError(err);
      }
      if (res.ok) return this.toExternal(r, res.stored.obj);
      if (res.reason === 'exists') {
        if (wantsGenerated && attempt < MAX_GENERATE_NAME_RETRIES) continue;
        throw Errors.alreadyExists(this.gr(r), String(m['name']));
      }
      if (res.reason === 'side-effect' && res.conflictingKey !== undefined) {
        const clientError = this.services.explicitAllocationConflict(r, o, res.conflictingKey, explicit);
        if (clientError !== undefined) throw clientError;
      }
      if (attempt >= MAX_ALLOCATION_RETRIES) throw Errors.internal('failed to allocate a cluster IP or node port: range is full');
    }
  }

  /** Decodes and checks apiVersion/kind of a request body against the URL's resource. */
  checkBody(r: ResourceInfo, body: unknown, kind = r.kind, gv = groupVersionOf(r)): JsonObject {
    if (!isJsonObject(body)) throw Errors.badRequest(`the body of the request must be a JSON object describing a ${kind}`);
    const k = body['kind'];
    const v = body['apiVersion'];
    if (k !== undefined && k !== '' && k !== kind) {
      throw Errors.badRequest(`${String(k)} in version "${String(v ?? '')}" cannot be handled as a ${kind}: the kind of the object does not match the URL (expected ${kind})`);
    }
    if (v !== undefined && v !== '' && v !== gv) {
      throw Errors.badRequest(`the API version in the data (${String(v)}) does not match the expected API version (${gv})`);
    }
    if (body['metadata'] !== undefined && !isJsonObject(body['metadata'])) {
      throw Errors.badRequest(`${kind} in version "${gv}" cannot be handled as a ${kind}: metadata must be an object`);
    }
    return structuredClone(body);
  }

  private async checkNamespaceWritable(r: ResourceInfo, ns: string, name: string): Promise<void> {
    const nsRes = findResource('', 'v1', 'namespaces')!;
    let stored: StoredObject | undefined;
    try {
      stored = (await this.storage.get(objectKey(nsRes, undefined, ns))).stored;
    } catch (err) {
      throw storeError(err);
    }
    if (stored === undefined) throw Errors.notFound({ group: '', resource: 'namespaces' }, ns);
    const phase = isJsonObject(stored.obj['status']) ? stored.obj['status']['phase'] : undefined;
    if (phase === 'Terminating' || metaOf(stored.obj)['deletionTimestamp'] !== undefined) {
      throw Errors.forbidden(this.gr(r), name, `unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  private prepareForCreate(r: ResourceInfo, o: JsonObject): void {
    const m = metaOf(o);
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink', 'resourceVersion']) delete m[k];
    m['uid'] = newUid();
    m['creationTimestamp'] = metaTime(this.now());
    if (r.usesGeneration) m['generation'] = 1;
    o['apiVersion'] = r.group === 'events.k8s.io' ? 'v1' : groupVersionOf(r);
    o['kind'] = r.kind;
    if (RESET_STATUS_ON_CREATE.has(r.kind) && r.group !== 'events.k8s.io') o['status'] = {};
    if (r.kind === 'Job') generateJobSelector(o);
    applyDefaults(r, o);
    switch (`${r.group}/${r.kind}`) {
      case '/Pod': {
        const spec = isJsonObject(o['spec']) ? o['spec'] : {};
        o['status'] = { phase: 'Pending', qosClass: podQosClass(spec) };
        break;
      }
      case '/Namespace': {
        const spec = isJsonObject(o['spec']) ? o['spec'] : (o['spec'] = {});
        (spec as JsonObject)['finalizers'] = ['kubernetes'];
        o['status'] = { phase: 'Active' };
        break;
      }
      case '/Service':
        o['status'] = { loadBalancer: {} };
        break;
    }
  }

  // ---- update / patch ----

  /**
   * Read-modify-write of one object: `mutate` gets the current (served-form) object and returns
   * the desired one. With `precondition` (the resourceVersion the client sent) a concurrent
   * change is a 409; without, the update is retried on a fresh read.
   */
  async update(
    r: ResourceInfo,
    ns: string | undefined,
    name: string,
    sub: SubresourceName | undefined,
    mutate: (current: JsonObject | undefined) => JsonObject,
    opts: WriteOptions = {},
  ): Promise<{ obj: JsonObject; created: boolean }> {
    const key = objectKey(r, ns, name);
    for (let attempt = 0; ; attempt++) {
      let cur: StoredObject | undefined;
      try {
        cur = (await this.storage.get(key)).stored;
      } catch (err) {
        throw storeError(err);
      }
      if (cur === undefined) {
        if (sub === undefined && opts.allowCreate === true && CREATE_ON_UPDATE.has(`${r.group}/${r.resource}`)) {
          const desired = mutate(undefined);
          const m = metaOf(desired);
          if (m['name'] !== undefined && m['name'] !== name) {
            throw Errors.badRequest(`the name of the object (${String(m['name'])}) does not match the name on the URL (${name})`);
          }
          m['name'] = name;
          delete m['resourceVersion'];
          return { obj: await this.create(r, ns, desired, opts), created: true };
        }
        throw Errors.notFound(this.gr(r), name);
      }
      const currentExt = this.toExternal(r, structuredClone(cur.obj));
      const desiredExt = mutate(structuredClone(currentExt));
      const dm = metaOf(desiredExt);
      if (dm['name'] !== undefined && dm['name'] !== name) {
        throw Errors.badRequest(`the name of the object (${String(dm['name'])}) does not match the name on the URL (${name})`);
      }
      if (r.namespaced && dm['namespace'] !== undefined && dm['namespace'] !== '' && dm['namespace'] !== ns) {
        throw Errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      const precondition = typeof dm['resourceVersion'] === 'string' && dm['resourceVersion'] !== '' ? parseRv(dm['resourceVersion']) : undefined;
      if (precondition !== undefined && precondition !== cur.rv) throw Errors.modified(this.gr(r), name);

      const checked = this.checkBody(r, desiredExt);
      if (sub === undefined) checkFields(r, checked, opts.fieldValidation, attempt === 0 ? opts.warnings : undefined);
      const desired = this.toInternal(r, checked);
      const next = this.prepareForUpdate(r, sub, desired, cur.obj);
      const errs: FieldError[] = validateUpdate(r, next, cur.obj);
      if (errs.length > 0) throw Errors.invalid(r.kind, r.group, name, errs);

      if (sameObject(next, cur.obj)) return { obj: currentExt, created: false };
      if (opts.dryRun) {
        // A dry run shows the result as it would be stored, still at the current resourceVersion.
        const out = this.toExternal(r, structuredClone(next));
        metaOf(out)['resourceVersion'] = String(cur.rv);
        return { obj: out, created: false };
      }

      if (metaOf(next)['deletionTimestamp'] !== undefined && finalizersOf(next).length === 0 && this.deletionComplete(r, next)) {
        // The last finalizer is gone: the pending deletion completes now.
        const del = await this.storage.delete(key, cur.rv, this.services.releaseOnDelete(r, cur.obj));
        if (del.ok) return { obj: this.toExternal(r, del.stored.obj), created: false };
        if (precondition !== undefined || attempt >= MAX_UPDATE_RETRIES) throw Errors.modified(this.gr(r), name);
        await conflictBackoff(attempt);
        continue;
      }
      const side = { ...this.services.updateSideEffects(r, next, cur.obj), ...(await this.leaseFor(r)) };
      let res;
      try {
        res = await this.storage.update(key, next, cur.rv, side);
      } catch (err) {
        throw storeError(err);
      }
      if (res.ok) return { obj: this.toExternal(r, res.stored.obj), created: false };
      if (res.reason === 'missing') throw Errors.notFound(this.gr(r), name);
      if (precondition !== undefined || attempt >= MAX_UPDATE_RETRIES) throw Errors.modified(this.gr(r), name);
      await conflictBackoff(attempt);
    }
  }

  /** A graceful pod deletion is complete only once its grace period was cut to 0 by the kubelet. */
  private deletionComplete(r: ResourceInfo, o: JsonObject): boolean {
    if (r.group === '' && r.kind === 'Pod') return metaOf(o)['deletionGracePeriodSeconds'] === 0 || metaOf(o)['deletionGracePeriodSeconds'] === undefined;
    if (r.group === '' && r.kind === 'Namespace') {
      const spec = isJsonObject(o['spec']) ? o['spec'] : {};
      return !Array.isArray(spec['finalizers']) || spec['finalizers'].length === 0;
    }
    return true;
  }

  private prepareForUpdate(r: ResourceInfo, sub: SubresourceName | undefined, desired: JsonObject, old: JsonObject): JsonObject {
    let next: JsonObject;
    const oldMeta = metaOf(old);
    if (sub === 'status') {
      next = structuredClone(old);
      next['status'] = desired['status'];
      if (next['status'] === undefined) delete next['status'];
    } else if (sub === 'finalize') {
      next = structuredClone(old);
      const spec = isJsonObject(next['spec']) ? next['spec'] : (next['spec'] = {});
      const ds = isJsonObject(desired['spec']) ? desired['spec'] : {};
      (spec as JsonObject)['finalizers'] = Array.isArray(ds['finalizers']) ? ds['finalizers'] : [];
    } else {
      next = desired;
      const m = metaOf(next);
      for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
        if (oldMeta[k] === undefined) delete m[k];
        else m[k] = oldMeta[k];
      }
      m['name'] = oldMeta['name'];
      if (r.namespaced) m['namespace'] = oldMeta['namespace'];
      // Once deletion started, finalizers may only be removed, never added.
      if (oldMeta['deletionTimestamp'] !== undefined) {
        const oldF = new Set(finalizersOf(old));
        const added = finalizersOf(next).filter((f) => !oldF.has(f));
        if (added.length > 0) {
          throw Errors.invalid(r.kind, r.group, String(oldMeta['name']), [
            Field.forbidden('metadata.finalizers', `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`),
          ]);
        }
      }
      const hasStatus = r.subresources.some((s) => s.name === 'status');
      if (hasStatus) {
        if (old['status'] === undefined) delete next['status'];
        else next['status'] = structuredClone(old['status']);
      }
      if (r.group === '' && r.kind === 'Namespace') {
        const spec = isJsonObject(next['spec']) ? next['spec'] : (next['spec'] = {});
        const os = isJsonObject(old['spec']) ? old['spec'] : {};
        (spec as JsonObject)['finalizers'] = os['finalizers'] ?? [];
      }
      next['apiVersion'] = old['apiVersion'];
      next['kind'] = old['kind'];
      applyDefaults(r, next);
      if (r.group === '' && r.kind === 'Service') this.services.keepServiceAllocations(next, old);
      if (r.usesGeneration && !deepEqual(next['spec'], old['spec'])) {
        m['generation'] = (typeof oldMeta['generation'] === 'number' ? oldMeta['generation'] : 0) + 1;
      }
    }
    delete metaOf(next)['resourceVersion'];
    return next;
  }

  /** PUT: replaces the object (or its status) with `body`. */
  async replace(r: ResourceInfo, ns: string | undefined, name: string, sub: SubresourceName | undefined, body: unknown, opts: WriteOptions = {}): Promise<{ obj: JsonObject; created: boolean }> {
    const input = this.checkBody(r, body);
    return this.update(r, ns, name, sub, () => input, { ...opts, allowCreate: true });
  }

  /** PATCH: applies the patch to the current object (or its status view) and updates. */
  async patch(
    r: ResourceInfo,
    ns: string | undefined,
    name: string,
    sub: SubresourceName | undefined,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions = {},
  ): Promise<JsonObject> {
    const res = await this.update(
      r,
      ns,
      name,
      sub,
      (cur) => {
        invariant(cur !== undefined, 'patch of a missing object');
        const rvBefore = metaOf(cur)['resourceVersion'];
        const out = applyPatch(r, cur, type, patch);
        // The patch may pin a resourceVersion (precondition); otherwise none is checked.
        if (metaOf(out)['resourceVersion'] === rvBefore) delete metaOf(out)['resourceVersion'];
        return out;
      },
      opts,
    );
    return res.obj;
  }

  // ---- delete ----

  async delete(r: ResourceInfo, ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const key = objectKey(r, ns, name);
    for (let attempt = 0; ; attempt++) {
      let cur: StoredObject | undefined;
      try {
        cur = (await this.storage.get(key)).stored;
      } catch (err) {
        throw storeError(err);
      }
      if (cur === undefined) throw Errors.notFound(this.gr(r), name);
      const meta = metaOf(cur.obj);
      const pre = opts.preconditions;
      if (pre?.uid !== undefined && pre.uid !== meta['uid']) {
        throw Errors.conflict(this.gr(r), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(meta['uid'])}`);
      }
      if (pre?.resourceVersion !== undefined && pre.resourceVersion !== String(cur.rv)) {
        throw Errors.conflict(
          this.gr(r),
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${cur.rv}`,
        );
      }
      const next = structuredClone(cur.obj);
      const nm = metaOf(next);
      const plan = planDeletion(r, next, opts, this.now());
      if (plan === 'now') {
        if (opts.dryRun) return this.deletedResult(r, cur.obj);
        const res = await this.storage.delete(key, cur.rv, this.services.releaseOnDelete(r, cur.obj)).catch((err: unknown) => {
          throw storeError(err);
        });
        if (res.ok) return this.deletedResult(r, res.stored.obj);
        if (res.reason === 'missing') throw Errors.notFound(this.gr(r), name);
        if (attempt >= MAX_UPDATE_RETRIES) throw Errors.modified(this.gr(r), name);
        await conflictBackoff(attempt);
        continue;
      }
      if (sameObject(next, cur.obj)) return { code: 202, body: this.toExternal(r, cur.obj) };
      if (opts.dryRun) return { code: 202, body: this.toExternal(r, next) };
      delete nm['resourceVersion'];
      const res = await this.storage.update(key, next, cur.rv).catch((err: unknown) => {
        throw storeError(err);
      });
      if (res.ok) return { code: 202, body: this.toExternal(r, res.stored.obj) };
      if (res.reason === 'missing') throw Errors.notFound(this.gr(r), name);
      if (attempt >= MAX_UPDATE_RETRIES) throw Errors.modified(this.gr(r), name);
      await conflictBackoff(attempt);
    }
  }

  private deletedResult(r: ResourceInfo, obj: JsonObject): DeleteResult {
    if (r.returnDeletedObject) return { code: 200, body: this.toExternal(r, obj) };
    const m = metaOf(obj);
    return {
      code: 200,
      body: successStatus({ name: String(m['name']), group: r.group, kind: r.resource, uid: String(m['uid']) }),
    };
  }

  /** Deletes every object of the list selection (one by one, as kube-apiserver does). */
  async deleteCollection(r: ResourceInfo, ns: string | undefined, q: ListQuery, opts: DeleteOptions = {}): Promise<JsonObject> {
    const labels = LabelSelector.parse(q.labelSelector ?? '');
    const fields = FieldSelector.parse(q.fieldSelector ?? '', r);
    const { items, rev } = await this.listStored(r, ns, { resourceVersion: q.resourceVersion ?? '' , ...(q.resourceVersionMatch ? { resourceVersionMatch: q.resourceVersionMatch } : {}) }, labels, fields);
    const deleted: JsonObject[] = [];
    for (const o of items) {
      const m = metaOf(o);
      try {
        const res = await this.delete(r, r.namespaced ? String(m['namespace']) : undefined, String(m['name']), opts);
        if (isJsonObject(res.body) && res.body['kind'] !== 'Status') deleted.push(res.body);
        else deleted.push(this.toExternal(r, o));
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) continue; // already gone: fine
        throw err;
      }
    }
    return { kind: `${r.kind}List`, apiVersion: groupVersionOf(r), metadata: { resourceVersion: String(rev) }, items: deleted };
  }

  // ---- subresources ----

  async getScale(r: ResourceInfo, ns: string | undefined, name: string): Promise<JsonObject> {
    const o = await this.get(r, ns, name);
    return scaleOf(r, o);
  }

  async updateScale(r: ResourceInfo, ns: string | undefined, name: string, change: (scale: JsonObject) => JsonObject, opts: WriteOptions = {}): Promise<JsonObject> {
    const res = await this.update(
      r,
      ns,
      name,
      undefined,
      (cur) => {
        invariant(cur !== undefined, 'scale of a missing object');
        const before = scaleOf(r, cur);
        const after = change(structuredClone(before));
        if (!isJsonObject(after)) throw Errors.badRequest('the body of the request must be a Scale object');
        if (after['kind'] !== undefined && after['kind'] !== 'Scale') throw Errors.badRequest(`${String(after['kind'])} cannot be handled as a Scale`);
        const spec = isJsonObject(after['spec']) ? after['spec'] : {};
        const replicas = spec['replicas'] ?? 0;
        if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
          throw Errors.invalid('Scale', 'autoscaling', name, [Field.invalid('spec.replicas', replicas, 'must be greater than or equal to 0')]);
        }
        const am = metaOf(after);
        if (am['name'] !== undefined && am['name'] !== name) {
          throw Errors.badRequest(`the name of the object (${String(am['name'])}) does not match the name on the URL (${name})`);
        }
        const next = structuredClone(cur);
        (isJsonObject(next['spec']) ? next['spec'] : (next['spec'] = {}) as JsonObject)['replicas'] = replicas;
        const rv = am['resourceVersion'];
        if (typeof rv === 'string' && rv !== '' && rv !== metaOf(cur)['resourceVersion']) metaOf(next)['resourceVersion'] = rv;
        else delete metaOf(next)['resourceVersion'];
        return next;
      },
      opts,
    );
    return scaleOf(r, res.obj);
  }

  /** pods/binding: sets spec.nodeName once (a second binding is a 409). */
  async bind(ns: string, name: string, body: unknown): Promise<Status> {
    const pods = findResource('', 'v1', 'pods')!;
    if (!isJsonObject(body)) throw Errors.badRequest('the body of the request must be a Binding object');
    if (body['kind'] !== undefined && body['kind'] !== 'Binding') throw Errors.badRequest(`${String(body['kind'])} cannot be handled as a Binding`);
    const target = isJsonObject(body['target']) ? body['target'] : {};
    const node = target['name'];
    if (typeof node !== 'string' || node === '') {
      throw Errors.invalid('Binding', '', name, [Field.required('target.name')]);
    }
    const bm = isJsonObject(body['metadata']) ? body['metadata'] : {};
    if (bm['name'] !== undefined && bm['name'] !== name) {
      throw Errors.badRequest(`the name of the object (${String(bm['name'])}) does not match the name on the URL (${name})`);
    }
    await this.update(pods, ns, name, undefined, (cur) => {
      invariant(cur !== undefined, 'binding of a missing pod');
      const m = metaOf(cur);
      if (m['deletionTimestamp'] !== undefined) {
        throw Errors.conflict({ group: '', resource: 'pods/binding' }, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      }
      const spec = isJsonObject(cur['spec']) ? cur['spec'] : {};
      if (typeof spec['nodeName'] === 'string' && spec['nodeName'] !== '') {
        throw Errors.conflict({ group: '', resource: 'pods/binding' }, name, `pod ${name} is already assigned to node "${spec['nodeName']}"`);
      }
      const uid = bm['uid'];
      if (typeof uid === 'string' && uid !== '' && uid !== m['uid']) {
        throw Errors.conflict({ group: '', resource: 'pods/binding' }, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${String(m['uid'])}`);
      }
      delete m['resourceVersion'];
      return cur;
    }).then(() => this.forceBind(pods, ns, name, node));
    return { ...successStatus(), code: 201 };
  }

  /** The binding write itself: spec.nodeName is immutable through updates, so it goes around them. */
  private async forceBind(pods: ResourceInfo, ns: string, name: string, node: string): Promise<void> {
    const key = objectKey(pods, ns, name);
    for (let attempt = 0; attempt <= MAX_UPDATE_RETRIES; attempt++) {
      const cur = (await this.storage.get(key)).stored;
      if (cur === undefined) throw Errors.notFound({ group: '', resource: 'pods' }, name);
      const next = structuredClone(cur.obj);
      const spec = isJsonObject(next['spec']) ? next['spec'] : (next['spec'] = {});
      if (typeof (spec as JsonObject)['nodeName'] === 'string' && (spec as JsonObject)['nodeName'] !== '') {
        throw Errors.conflict({ group: '', resource: 'pods/binding' }, name, `pod ${name} is already assigned to node "${String((spec as JsonObject)['nodeName'])}"`);
      }
      (spec as JsonObject)['nodeName'] = node;
      const status = isJsonObject(next['status']) ? next['status'] : (next['status'] = {});
      const conds = Array.isArray((status as JsonObject)['conditions']) ? ((status as JsonObject)['conditions'] as JsonObject[]) : [];
      const cond = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: metaTime(this.now()) };
      const i = conds.findIndex((c) => c['type'] === 'PodScheduled');
      if (i >= 0) conds[i] = cond;
      else conds.push(cond);
      (status as JsonObject)['conditions'] = conds;
      delete metaOf(next)['resourceVersion'];
      const res = await this.storage.update(key, next, cur.rv);
      if (res.ok) return;
      if (res.reason === 'missing') throw Errors.notFound({ group: '', resource: 'pods' }, name);
      await conflictBackoff(attempt);
    }
    throw Errors.modified({ group: '', resource: 'pods/binding' }, name);
  }

  /** pods/eviction: no PodDisruptionBudgets exist here, so an eviction is a delete. */
  async evict(ns: string, name: string, body: unknown): Promise<Status> {
    const pods = findResource('', 'v1', 'pods')!;
    if (!isJsonObject(body)) throw Errors.badRequest('the body of the request must be an Eviction object');
    if (body['kind'] !== undefined && body['kind'] !== 'Eviction') throw Errors.badRequest(`${String(body['kind'])} cannot be handled as an Eviction`);
    const del = isJsonObject(body['deleteOptions']) ? body['deleteOptions'] : {};
    await this.delete(pods, ns, name, deleteOptionsFrom(del, {}));
    return { ...successStatus(), code: 201 };
  }
}

// ---- helpers ----


function labelsOf(o: JsonObject): Record<string, string> {
  const m = o['metadata'];
  if (!isJsonObject(m) || !isJsonObject(m['labels'])) return {};
  return m['labels'] as Record<string, string>;
}

/** Equal apart from resourceVersion: such an update is a no-op and writes nothing. */
function sameObject(a: JsonObject, b: JsonObject): boolean {
  const strip = (o: JsonObject): JsonObject => {
    const c = { ...o, metadata: { ...metaOf(o) } };
    delete (c.metadata as JsonObject)['resourceVersion'];
    return c;
  };
  return deepEqual(strip(a), strip(b));
}

export function parseRv(text: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) throw Errors.badRequest(`resourceVersion: Invalid value: "${text}": must be a non-negative integer`);
  return Number(text);
}

/** etcd errors that reach the HTTP layer: 410 for compaction, 504 for future revisions, 503/500 otherwise. */
export function storeError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isCompacted(err)) return Errors.expired('The resourceVersion for the provided list is too old.');
  if (isFutureRevision(err)) return Errors.timeout('Too large resource version', 1);
  if (err instanceof TooOldError) return Errors.expired(err.message);
  if (err instanceof NotFreshError) return Errors.timeout(err.message, 1);
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof EtcdError) {
    if (err.code === GrpcCode.UNAVAILABLE || err.code === GrpcCode.DEADLINE_EXCEEDED || err.code === GrpcCode.CANCELLED) {
      return Errors.serviceUnavailable(`storage is unavailable: ${msg}`);
    }
    if (err.code === GrpcCode.RESOURCE_EXHAUSTED) return Errors.tooManyRequests(`storage refused the request: ${msg}`);
  }

  if (/ECONNREFUSED|no leader|timed out/i.test(msg)) return Errors.serviceUnavailable(`storage is unavailable: ${msg}`);
  return Errors.internal(msg);
}



export type { CacheEvent, DeleteOptions, PatchType };
