// The Kubernetes API server: node:http serving the REST API of Kubernetes on a `KV` store.
//
//   const api = new ApiServer({ kv, listen: 'http://127.0.0.1:6443' });
//   await api.start();            // starts the watch caches, bootstraps namespaces, listens
//   api.url                       // "http://127.0.0.1:6443" (the real port when 0 was asked)
//   await api.stop();
//
// Every error is a metav1.Status with kube-apiserver's reason, code and message.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KV } from '../store/kv.js';
import {
  aggregatedContentType,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo,
  wantsAggregated,
} from './discovery.js';
import { FieldSelector } from './field-selector.js';
import { parseFieldValidation } from './field-validation.js';
import {
  bodyKindOf,
  decodeBody,
  mediaTypeOf,
  negotiateOutput,
  readBody,
  sendJson,
  sendStatus,
  sendText,
  type OutputForm,
} from './http-io.js';
import { isJsonObject, type JsonObject } from './json-value.js';
import { LabelSelector } from './label-selector.js';
import { ApiMetrics } from './metrics.js';
import { NamespaceFinalizer } from './namespace-finalizer.js';
import { openApiV3Document, openApiV3Index } from './openapi.js';
import { findResource, listPrefix, RESOURCES, type ResourceInfo, type SubresourceName } from './registry.js';
import { parseTarget, type ResourceRequest } from './request-info.js';
import { applyPatch, type PatchType } from './apply-patch.js';
import { deleteOptionsFrom } from './delete-options.js';
import {
  parseRv,
  ResourceStore,
  storeError,
  type ListQuery,
  type ResourceStoreOptions,
} from './resource-store.js';
import { ApiError, Errors, toApiError } from './status-error.js';
import { retryWhileUnavailable } from './storage-retry.js';
import { toTable, type IncludeObject } from './tables.js';
import { serveWatch } from './watch-stream.js';

export interface ApiServerOptions {
  kv: KV;
  /** "http://127.0.0.1:PORT" (port 0: any free port). Only http on loopback/any host. */
  listen: string;
  store?: ResourceStoreOptions;
  /** Run the built-in namespace finalizer (default true). */
  namespaceFinalizer?: boolean;
  /** Namespaces created at start when missing (default: default, kube-system, kube-public, kube-node-lease). */
  bootstrapNamespaces?: string[];
  /** Interval of BOOKMARK events on watches that allow them (default 10 s). */
  bookmarkIntervalMs?: number;
  /** Bytes a watch may have buffered for a slow client before it is cut off (default 8 MiB). */
  maxWatchBufferedBytes?: number;
  /** Default watch duration when the client gives no timeoutSeconds (default 30 min). */
  defaultWatchTimeoutMs?: number;
  /** How long a request waits for the watch cache to reach a resourceVersion (default 3 s). */
  freshnessTimeoutMs?: number;
  /** Serves pods/log when set (the kubelet connection); otherwise pods/log answers 503. */
  podLogs?: (req: { namespace: string; name: string; pod: JsonObject; query: URLSearchParams }, res: ServerResponse) => Promise<void>;
}

/** Warnings of a request (unknown fields under fieldValidation=Warn) as HTTP Warning headers. */
function setWarnings(res: ServerResponse, warnings: string[]): void {
  if (warnings.length > 0) res.setHeader('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`));
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
/**
 * How long start() waits for an unavailable store while creating the default namespaces: a
 * master started into a cluster that is still electing (or moving) its leader must not exit for
 * it (the bench moves leadership to m0 right after start; m0 once exited on "leader changed").
 */
const BOOTSTRAP_RETRY_MS = 30_000;
/** Concurrent watches (bounded like kube-apiserver's max-requests-inflight for long-running requests). */
const MAX_WATCHES = 10_000;

export class ApiServer {
  readonly store: ResourceStore;
  private server: Server | undefined;
  private finalizer: NamespaceFinalizer | undefined;
  private actualUrl: string | undefined;
  private watches = 0;
  private readonly openWatches = new Set<ServerResponse>();

  readonly metrics: ApiMetrics;

  constructor(private readonly opts: ApiServerOptions) {
    this.store = new ResourceStore(opts.kv, {
      ...opts.store,
      watchCache: { freshnessTimeoutMs: opts.freshnessTimeoutMs ?? 3000, ...(opts.store?.watchCache ?? {}) },
    });
    this.metrics = new ApiMetrics(() =>
      this.store.allCaches().map((c) => ({ prefix: c.prefix, objects: c.objectCount, revision: c.rev, watchers: c.watcherCount })),
    );
  }

  /** The URL clients use (known after start). */
  get url(): string {
    if (this.actualUrl === undefined) throw new Error('ApiServer not started');
    return this.actualUrl;
  }

  get activeWatches(): number {
    return this.watches;
  }

  async start(): Promise<void> {
    const u = new URL(this.opts.listen);
    if (u.protocol !== 'http:') throw new Error(`ApiServer: only http:// listen URLs are supported, got ${this.opts.listen}`);
    // Caches first (as kube-apiserver does), so resourceVersions clients see are watchable.
    const prefixes = new Set<string>();
    await Promise.all(
      RESOURCES.filter((r) => {
        if (prefixes.has(r.storagePrefix)) return false;
        prefixes.add(r.storagePrefix);
        return true;
      }).map((r) => this.store.cacheFor(r).start()),
    );
    await this.bootstrap();
    if (this.opts.namespaceFinalizer ?? true) {
      this.finalizer = new NamespaceFinalizer(this.store);
      await this.finalizer.start();
    }
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendStatus(res, toApiError(err));
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    this.server = server;
    const host = u.hostname === '' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, '');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: u.port === '' ? 80 : Number(u.port) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.actualUrl = `http://${shownHost}:${addr.port}`;
  }

  async stop(): Promise<void> {
    await this.finalizer?.stop();
    for (const w of this.openWatches) w.end();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.store.stop();
  }

  /**
   * Creates the default namespaces. A store that is briefly unavailable (an election, a
   * leadership transfer: "leader changed", "no leader") is waited for, up to
   * BOOTSTRAP_RETRY_MS, as kube-apiserver waits for etcd: a master started next to a cluster
   * that is still settling must not exit for it. A create whose outcome was unknown and that
   * did happen shows as AlreadyExists on the retry.
   */
  private async bootstrap(): Promise<void> {
    const ns = findResource('', 'v1', 'namespaces')!;
    const deadline = Date.now() + BOOTSTRAP_RETRY_MS;
    for (const name of this.opts.bootstrapNamespaces ?? DEFAULT_NAMESPACES) {
      await retryWhileUnavailable(async () => {
        try {
          await this.store.create(ns, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
        } catch (err) {
          if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
        }
      }, deadline);
    }
  }

  // ---- dispatch ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams;
    const pretty = q.get('pretty') === 'true' || q.get('pretty') === '1';
    const started = process.hrtime.bigint();
    res.once('finish', () => this.observe(req, res, url, started));
    try {
      await this.route(req, res, url, pretty);
    } catch (err) {
      const e = toApiError(err);
      if (e.code >= 500 && e.reason === 'InternalError') process.emitWarning(`apiserver: ${req.method} ${req.url}: ${e.message}`);
      if (!res.headersSent) sendStatus(res, e, pretty);
      else res.destroy();
    }
  }

  /** Request metrics: kube-apiserver's verb names, the resource the URL named, the code sent. */
  private observe(req: IncomingMessage, res: ServerResponse, url: URL, started: bigint): void {
    const t = parseTarget(url.pathname);
    if (t.kind !== 'resource') return;
    const q = url.searchParams;
    const watch = t.legacyWatch || q.get('watch') === 'true' || q.get('watch') === '1';
    const method = req.method ?? 'GET';
    const verb = watch
      ? 'WATCH'
      : method === 'GET'
        ? t.name === undefined
          ? 'LIST'
          : 'GET'
        : method === 'DELETE' && t.name === undefined
          ? 'DELETECOLLECTION'
          : method === 'POST'
            ? 'POST'
            : method;
    this.metrics.requests.inc({ verb, group: t.group, resource: t.resource, subresource: t.subresource ?? '', code: String(res.statusCode) });
    if (!watch) {
      this.metrics.latency.observe({ verb, group: t.group, resource: t.resource }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, pretty: boolean): Promise<void> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    switch (path) {
      case '/healthz':
      case '/livez':
        return sendText(res, 200, 'ok');
      case '/readyz':
        return this.readyz(res);
      case '/metrics': {
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case '/version':
        return sendJson(res, 200, versionInfo(), pretty);
      case '/openapi/v3':
        return sendJson(res, 200, openApiV3Index(), pretty);
      case '/':
        return sendJson(res, 200, { paths: ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/metrics', '/openapi/v3', '/readyz', '/version'] }, pretty);
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = openApiV3Document(path.slice('/openapi/v3/'.length));
      if (doc === undefined) throw Errors.noRoute();
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(doc.body),
        // The hash in the URL names the content: clients may cache it for good.
        'Cache-Control': url.searchParams.get('hash') === doc.hash ? 'public, immutable' : 'no-cache, private',
        Etag: `"${doc.hash}"`,
      });
      res.end(doc.body);
      return;
    }
    const t = parseTarget(path);
    const accept = req.headers['accept'];
    switch (t.kind) {
      case 'api-versions': {
        const agg = wantsAggregated(accept);
        if (agg !== undefined) return sendJson(res, 200, aggregatedDiscovery('api', agg), pretty, aggregatedContentType(agg));
        return sendJson(res, 200, apiVersions(req.headers.host ?? '127.0.0.1'), pretty);
      }
      case 'api-groups': {
        const agg = wantsAggregated(accept);
        if (agg !== undefined) return sendJson(res, 200, aggregatedDiscovery('apis', agg), pretty, aggregatedContentType(agg));
        return sendJson(res, 200, apiGroupList(), pretty);
      }
      case 'api-group': {
        const g = apiGroup(t.group);
        if (g === undefined) throw Errors.noRoute();
        return sendJson(res, 200, g, pretty);
      }
      case 'api-resources': {
        const l = apiResourceList(t.group, t.version);
        if (l === undefined) throw Errors.noRoute();
        return sendJson(res, 200, l, pretty);
      }
      case 'other':
        throw Errors.noRoute();
      case 'resource':
        return this.resource(req, res, t, url.searchParams, method, pretty);
    }
  }

  private async readyz(res: ServerResponse): Promise<void> {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 2000).unref());
    try {
      await Promise.race([this.store.storage.currentRevision(), timeout]);
      sendText(res, 200, 'ok');
    } catch (err) {
      sendText(res, 500, `[-]etcd failed: ${(err as Error).message}\nreadyz check failed`);
    }
  }

  private async resource(
    req: IncomingMessage,
    res: ServerResponse,
    t: ResourceRequest,
    q: URLSearchParams,
    method: string,
    pretty: boolean,
  ): Promise<void> {
    const r = findResource(t.group, t.version, t.resource);
    if (r === undefined) throw Errors.noRoute();
    if (!r.namespaced && t.namespace !== undefined) throw Errors.noRoute();
    const sub = t.subresource;
    if (sub !== undefined && !r.subresources.some((s) => s.name === sub)) throw Errors.noRoute();
    const ns = r.namespaced ? t.namespace : undefined;
    const name = t.name;
    const output = negotiateOutput(req.headers['accept']);
    if (output === 'not-acceptable') {
      throw Errors.notAcceptable('only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
    }
    const watch = t.legacyWatch || q.get('watch') === 'true' || q.get('watch') === '1';
    const dryRun = q.get('dryRun') === 'All';
    const warnings: string[] = [];
    const writeOpts = { dryRun, fieldValidation: parseFieldValidation(q.get('fieldValidation')), warnings };

    if (q.get('dryRun') !== null && q.get('dryRun') !== 'All' && q.get('dryRun') !== '') {
      throw Errors.badRequest(`Invalid dry run value: ${q.get('dryRun')}; valid values: All`);
    }

    if (method === 'GET') {
      if (watch) return this.watch(res, r, ns, name, q, output);
      if (name === undefined) return this.list(res, r, ns, q, output, pretty);
      this.requireNamespace(r, ns);
      if (sub === 'scale') return sendJson(res, 200, await this.store.getScale(r, ns, name), pretty);
      if (sub === 'log') return this.podLog(res, ns!, name, q);
      if (sub !== undefined && sub !== 'status') throw Errors.methodNotSupported({ group: r.group, resource: `${r.resource}/${sub}` }, 'get');
      const obj = await this.store.get(r, ns, name, q.get('resourceVersion') ?? undefined);
      return this.sendObject(res, 200, r, obj, output, q, pretty);
    }

    if (method === 'POST') {
      this.requireNamespace(r, ns);
      const body = await this.body(req, ['json', 'yaml', 'protobuf']);
      if (name === undefined) {
        const created = await this.store.create(r, ns, body, writeOpts);
        setWarnings(res, warnings);
        return this.sendObject(res, 201, r, created, output, q, pretty);
      }
      if (sub === 'binding') return sendJson(res, 201, await this.store.bind(ns!, name, body), pretty);
      if (sub === 'eviction') return sendJson(res, 201, await this.store.evict(ns!, name, body), pretty);
      throw Errors.methodNotSupported({ group: r.group, resource: sub === undefined ? r.resource : `${r.resource}/${sub}` }, 'create');
    }

    if (method === 'PUT') {
      if (name === undefined) throw Errors.methodNotSupported({ group: r.group, resource: r.resource }, 'update');
      this.requireNamespace(r, ns);
      const body = await this.body(req, ['json', 'yaml', 'protobuf']);
      if (sub === 'scale') {
        const scale = await this.store.updateScale(r, ns, name, () => (isJsonObject(body) ? body : {}), { dryRun });
        return sendJson(res, 200, scale, pretty);
      }
      if (sub !== undefined && sub !== 'status' && sub !== 'finalize') {
        throw Errors.methodNotSupported({ group: r.group, resource: `${r.resource}/${sub}` }, 'update');
      }
      const out = await this.store.replace(r, ns, name, sub as SubresourceName | undefined, body, writeOpts);
      setWarnings(res, warnings);
      return this.sendObject(res, out.created ? 201 : 200, r, out.obj, output, q, pretty);
    }

    if (method === 'PATCH') {
      if (name === undefined) throw Errors.methodNotSupported({ group: r.group, resource: r.resource }, 'patch');
      this.requireNamespace(r, ns);
      const kind = bodyKindOf(mediaTypeOf(req));
      const type: PatchType | undefined =
        kind === 'json-patch' ? 'json' : kind === 'merge-patch' ? 'merge' : kind === 'strategic-merge-patch' ? 'strategic' : undefined;
      if (type === undefined) {
        req.resume();
        throw Errors.unsupportedMediaType([
          'application/json-patch+json',
          'application/merge-patch+json',
          'application/strategic-merge-patch+json',
        ]);
      }
      const patch = decodeBody(await readBody(req), kind!);
      if (sub === 'scale') {
        // A Scale has no merge-keyed lists: any patch type applies to it as to a plain object.
        const scale = await this.store.updateScale(r, ns, name, (cur) => applyPatch({ ...r, kind: 'Scale' }, cur, type, patch), { dryRun });
        return sendJson(res, 200, scale, pretty);
      }
      if (sub !== undefined && sub !== 'status') throw Errors.methodNotSupported({ group: r.group, resource: `${r.resource}/${sub}` }, 'patch');
      const out = await this.store.patch(r, ns, name, sub as SubresourceName | undefined, type, patch, writeOpts);
      setWarnings(res, warnings);
      return this.sendObject(res, 200, r, out, output, q, pretty);
    }

    if (method === 'DELETE') {
      if (sub !== undefined) throw Errors.methodNotSupported({ group: r.group, resource: `${r.resource}/${sub}` }, 'delete');
      const raw = await readBody(req);
      let body: JsonObject = {};
      if (raw.length > 0 && raw.toString('utf8').trim() !== '') {
        const k = bodyKindOf(mediaTypeOf(req));
        const decoded = decodeBody(raw, k === 'yaml' || k === 'protobuf' ? k : 'json');
        if (!isJsonObject(decoded)) throw Errors.badRequest('the body of a delete request must be a DeleteOptions object');
        body = decoded;
      }
      const query: Record<string, string | undefined> = {};
      for (const k of ['gracePeriodSeconds', 'propagationPolicy', 'orphanDependents', 'dryRun']) {
        const v = q.get(k);
        if (v !== null) query[k] = v;
      }
      const opts = deleteOptionsFrom(body, query);
      if (name === undefined) {
        if (r.namespaced && ns === undefined) {
          throw Errors.methodNotSupported({ group: r.group, resource: r.resource }, 'deletecollection across namespaces');
        }
        const out = await this.store.deleteCollection(r, ns, this.listQuery(q), opts);
        return sendJson(res, 200, out, pretty);
      }
      this.requireNamespace(r, ns);
      const out = await this.store.delete(r, ns, name, opts);
      return sendJson(res, out.code, out.body, pretty);
    }

    throw Errors.methodNotSupported({ group: r.group, resource: r.resource }, method.toLowerCase());
  }

  private requireNamespace(r: ResourceInfo, ns: string | undefined): void {
    if (r.namespaced && (ns === undefined || ns === '')) throw Errors.noRoute();
  }

  private async body(req: IncomingMessage, allowed: Array<'json' | 'yaml' | 'protobuf'>): Promise<unknown> {
    const mt = mediaTypeOf(req);
    const kind = bodyKindOf(mt);
    if (kind === undefined || !(allowed as string[]).includes(kind)) {
      req.resume();
      throw Errors.unsupportedMediaType(['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
    }
    return decodeBody(await readBody(req), kind);
  }

  private listQuery(q: URLSearchParams): ListQuery {
    const lq: ListQuery = {};
    const ls = q.get('labelSelector');
    if (ls !== null) lq.labelSelector = ls;
    const fs = q.get('fieldSelector');
    if (fs !== null) lq.fieldSelector = fs;
    const limit = q.get('limit');
    if (limit !== null && limit !== '') {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 0) throw Errors.badRequest(`limit: Invalid value: "${limit}": must be a non-negative integer`);
      lq.limit = n;
    }
    const cont = q.get('continue');
    if (cont !== null && cont !== '') lq.continue = cont;
    const rv = q.get('resourceVersion');
    if (rv !== null) lq.resourceVersion = rv;
    const m = q.get('resourceVersionMatch');
    if (m !== null && m !== '') lq.resourceVersionMatch = m;
    return lq;
  }

  private includeObject(q: URLSearchParams): IncludeObject {
    const v = q.get('includeObject');
    if (v === null || v === '') return 'Metadata';
    if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
    throw Errors.badRequest(`includeObject: Unsupported value: "${v}": supported values: "None", "Metadata", "Object"`);
  }

  private async list(res: ServerResponse, r: ResourceInfo, ns: string | undefined, q: URLSearchParams, output: OutputForm, pretty: boolean): Promise<void> {
    const list = await this.store.list(r, ns, this.listQuery(q));
    const items = list['items'] as JsonObject[];
    const meta = list['metadata'] as JsonObject;
    if (output.as === 'table') {
      const table = toTable(r, items, meta, this.includeObject(q), this.store.now());
      return sendJson(res, 200, table, pretty, 'application/json;as=Table;v=v1;g=meta.k8s.io');
    }
    if (output.as === 'partial') {
      return sendJson(res, 200, {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: meta,
        items: items.map((i) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: i['metadata'] })),
      }, pretty);
    }
    return sendJson(res, 200, list, pretty);
  }

  private sendObject(res: ServerResponse, code: number, r: ResourceInfo, obj: JsonObject, output: OutputForm, q: URLSearchParams, pretty: boolean): void {
    if (output.as === 'table') {
      const meta = isJsonObject(obj['metadata']) ? obj['metadata'] : {};
      const table = toTable(r, [obj], { resourceVersion: meta['resourceVersion'] ?? '' }, this.includeObject(q), this.store.now());
      return sendJson(res, code, table, pretty, 'application/json;as=Table;v=v1;g=meta.k8s.io');
    }
    if (output.as === 'partial') {
      return sendJson(res, code, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj['metadata'] }, pretty);
    }
    sendJson(res, code, obj, pretty);
  }

  private async watch(res: ServerResponse, r: ResourceInfo, ns: string | undefined, name: string | undefined, q: URLSearchParams, output: OutputForm): Promise<void> {
    const lq = this.listQuery(q);
    let fieldText = lq.fieldSelector ?? '';
    // GET .../pods/x?watch=1 watches one object: kube-apiserver turns the name into a field selector.
    if (name !== undefined) fieldText = fieldText === '' ? `metadata.name=${name}` : `${fieldText},metadata.name=${name}`;
    const labels = LabelSelector.parse(lq.labelSelector ?? '');
    const fields = FieldSelector.parse(fieldText, r);
    const rv = lq.resourceVersion ?? '';
    if (rv !== '' && rv !== '0') parseRv(rv);
    const sie = q.get('sendInitialEvents');
    const allowBookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    let sendInitialEvents: boolean | undefined;
    if (sie !== null && sie !== '') {
      sendInitialEvents = sie === 'true' || sie === '1';
      if (lq.resourceVersionMatch !== 'NotOlderThan') {
        throw Errors.invalid('ListOptions', 'meta.k8s.io', '', [
          { type: 'FieldValueForbidden', field: 'resourceVersionMatch', hasValue: false, detail: 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan' },
        ]);
      }
      if (sendInitialEvents && !allowBookmarks) {
        throw Errors.invalid('ListOptions', 'meta.k8s.io', '', [
          { type: 'FieldValueForbidden', field: 'allowWatchBookmarks', hasValue: false, detail: 'sendInitialEvents requires setting allowWatchBookmarks to true' },
        ]);
      }
    } else if (lq.resourceVersionMatch !== undefined) {
      throw Errors.badRequest('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    }
    const ts = q.get('timeoutSeconds');
    let timeoutMs = this.opts.defaultWatchTimeoutMs ?? 30 * 60 * 1000;
    if (ts !== null && ts !== '') {
      const n = Number(ts);
      if (!Number.isFinite(n) || n < 0) throw Errors.badRequest(`timeoutSeconds: Invalid value: "${ts}"`);
      if (n > 0) timeoutMs = n * 1000;
    }
    if (this.watches >= MAX_WATCHES) throw Errors.tooManyRequests('too many requests: the server has too many open watches');
    this.watches++;
    this.openWatches.add(res);
    const watchLabels = { group: r.group, resource: r.resource };
    this.metrics.watches.inc(watchLabels);
    const includeObject = this.includeObject(q);
    const cache = this.store.cacheFor(r);
    const params = {
      r,
      cache,
      prefix: listPrefix(r, ns),
      labels,
      fields,
      resourceVersion: rv,
      allowBookmarks,
      timeoutMs,
      output,
      includeObject,
      toExternal: (o: JsonObject) => this.store.toExternal(r, o),
      currentRevision: () =>
        this.store.storage.currentRevision().catch((err: unknown) => {
          throw storeError(err);
        }),
      listFromStore: async (prefix: string, revision: number) => {
        const page = await this.store.storage.list(prefix, { revision }).catch((err: unknown) => {
          throw storeError(err);
        });
        // A range at a past revision answers with the current revision in its header: the state is `revision`'s.
        return { items: page.items, rev: revision };
      },
      now: this.store.now,
      bookmarkIntervalMs: this.opts.bookmarkIntervalMs ?? 10_000,
      maxBufferedBytes: this.opts.maxWatchBufferedBytes ?? 8 * 1024 * 1024,
      freshnessTimeoutMs: this.opts.freshnessTimeoutMs ?? 3000,
    };
    const withCutOff = { ...params, onCutOff: () => this.metrics.cutOff.inc(watchLabels) };
    await serveWatch(res, sendInitialEvents === undefined ? withCutOff : { ...withCutOff, sendInitialEvents }, () => {
      this.watches--;
      this.openWatches.delete(res);
      this.metrics.watches.dec(watchLabels);
    });
  }

  private async podLog(res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const pods = findResource('', 'v1', 'pods')!;
    const pod = await this.store.get(pods, ns, name);
    const spec = isJsonObject(pod['spec']) ? pod['spec'] : {};
    if (typeof spec['nodeName'] !== 'string' || spec['nodeName'] === '') {
      throw Errors.badRequest(`pod ${name} does not have a host assigned`);
    }
    if (this.opts.podLogs === undefined) throw Errors.serviceUnavailable(`no kubelet connection for node ${spec['nodeName']}`);
    await this.opts.podLogs({ namespace: ns, name, pod, query: q }, res);
  }
}
