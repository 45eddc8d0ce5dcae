// One HTTP watch (`?watch=1`): newline-terminated JSON WatchEvents fed by the resource's watch
// cache, with Kubernetes' resourceVersion semantics —
//   unset / "0": synthetic ADDED events for the current state, then changes;
//   N: every change after N, or an ERROR event (410 Expired) when N left the cache window;
//   sendInitialEvents=true: the state as ADDED events, then a BOOKMARK annotated
//     k8s.io/initial-events-end, then changes —
// bookmarks only with allowWatchBookmarks, an end at timeoutSeconds, and a bounded send buffer:
// a client that does not read is cut off (its stream ends; it re-watches from its last RV).

import type { ServerResponse } from 'node:http';
import type { FieldSelector } from './field-selector.js';
import { isJsonObject, type JsonObject } from './json-value.js';
import type { LabelSelector } from './label-selector.js';
import type { ResourceInfo } from './registry.js';
import { groupVersionOf } from './registry.js';
import { Errors, type Status } from './status-error.js';
import { toTable, type IncludeObject } from './tables.js';
import { TooOldError, type CacheEvent, type WatchCache } from './watch-cache.js';
import type { OutputForm } from './http-io.js';

export interface WatchParams {
  r: ResourceInfo;
  cache: WatchCache;
  /** Key prefix the watch covers (namespace or whole resource). */
  prefix: string;
  labels: LabelSelector;
  fields: FieldSelector;
  resourceVersion: string;
  sendInitialEvents?: boolean;
  allowBookmarks: boolean;
  timeoutMs: number;
  output: OutputForm;
  includeObject: IncludeObject;
  /** Served form of a stored object. */
  toExternal: (o: JsonObject) => JsonObject;
  /** The store's current revision (for unset resourceVersion: a consistent start). */
  currentRevision: () => Promise<number>;
  /** The objects under `prefix` read from the store at `revision` (when the cache is behind). */
  listFromStore: (prefix: string, revision: number) => Promise<{ items: Array<{ key: string; obj: JsonObject }>; rev: number }>;
  now: () => number;
  bookmarkIntervalMs: number;
  /** Bytes buffered for a slow client before it is cut off. */
  maxBufferedBytes: number;
  /** How long to wait for the cache to reach a requested resourceVersion. */
  freshnessTimeoutMs: number;
  /** Called when this watcher is cut off for not reading. */
  onCutOff?: () => void;
}

export interface WatchStats {
  cutOff: number;
}

export const watchStats: WatchStats = { cutOff: 0 };

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Encoded forms of cache events, dropped with the events themselves. */
const encoded = new WeakMap<CacheEvent, Map<string, string>>();

export async function serveWatch(res: ServerResponse, p: WatchParams, onDone: () => void): Promise<void> {
  const { r, cache } = p;
  let closed = false;
  let unregister: (() => void) | undefined;
  let lastRv = 0;
  const timers: NodeJS.Timeout[] = [];

  const finish = (): void => {
    if (closed) return;
    closed = true;
    unregister?.();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
    onDone();
  };
  res.on('close', finish);

  const encode = (type: EventType, obj: JsonObject): string => {
    let out: JsonObject = obj;
    if (type !== 'BOOKMARK' && type !== 'ERROR') {
      if (p.output.as === 'table') {
        out = toTable(r, [obj], { resourceVersion: String((obj['metadata'] as JsonObject)['resourceVersion'] ?? '') }, p.includeObject, p.now());
      } else if (p.output.as === 'partial') {
        out = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj['metadata'] ?? {} };
      }
    }
    return JSON.stringify({ type, object: out }) + '\n';
  };

  const write = (type: EventType, obj: JsonObject): void => writeText(encode(type, obj));

  const matches = (o: JsonObject | undefined): boolean => {
    if (o === undefined) return false;
    const m = isJsonObject(o['metadata']) ? o['metadata'] : {};
    return p.labels.matches(isJsonObject(m['labels']) ? (m['labels'] as Record<string, string>) : {}) && p.fields.matches(o);
  };

  // One encoding per event and output form, shared by every watcher that sends it: N watchers
  // of one change cost one JSON.stringify, not N.
  const formKey = `${r.group}/${r.resource}|${p.output.as}|${p.includeObject}`;
  const encodeShared = (type: EventType, ev: CacheEvent): string => {
    let forms = encoded.get(ev);
    if (forms === undefined) {
      forms = new Map();
      encoded.set(ev, forms);
    }
    const k = `${type}|${formKey}`;
    let text = forms.get(k);
    if (text === undefined) {
      text = encode(type, p.toExternal(structuredClone(ev.obj)));
      forms.set(k, text);
    }
    return text;
  };

  const writeText = (text: string): void => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > p.maxBufferedBytes) {
      // The client does not keep up: cut it off rather than buffer without bound. The buffered
      // bytes go with the connection (an end() would keep them until the client reads).
      watchStats.cutOff++;
      p.onCutOff?.();
      finish();
      res.destroy();
    }
  };

  const emit = (ev: CacheEvent): void => {
    if (!ev.key.startsWith(p.prefix)) return;
    const now = matches(ev.obj);
    const before = matches(ev.prev);
    let type: EventType;
    if (ev.type === 'ADDED') {
      if (!now) return;
      type = 'ADDED';
    } else if (ev.type === 'DELETED') {
      if (!before && !now) return;
      type = 'DELETED';
    } else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) type = 'DELETED';
    else return;
    lastRv = ev.rv;
    writeText(encodeShared(type, ev));
  };

  const bookmark = (rv: number, initialEnd = false): void => {
    const metadata: JsonObject = { resourceVersion: String(rv) };
    if (initialEnd) metadata['annotations'] = { 'k8s.io/initial-events-end': 'true' };
    lastRv = Math.max(lastRv, rv);
    write('BOOKMARK', { kind: p.r.group === 'events.k8s.io' ? 'Event' : r.kind, apiVersion: groupVersionOf(r), metadata });
  };

  const errorEvent = (s: Status): void => {
    write('ERROR', s as unknown as JsonObject);
  };

  const tooLarge = (want: number, cur: number): void => {
    const e = Errors.timeout(`Too large resource version: ${want}, current: ${cur}`, 1);
    e.status.details = { ...e.status.details, causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version', field: '' }] };
    errorEvent(e.status);
    finish();
  };

  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();

  try {
    if (!(await cache.readyWithin(p.freshnessTimeoutMs))) {
      errorEvent(Errors.tooManyRequests('storage is (re)initializing').status);
      finish();
      return;
    }
    const rvText = p.resourceVersion;
    const initial = p.sendInitialEvents ?? (rvText === '' || rvText === '0');
    const watcher = {
      onEvent: emit,
      onProgress: (rev: number): void => {
        if (p.allowBookmarks && rev > lastRv) bookmark(rev);
      },
      onClose: (): void => finish(),
    };
    if (initial) {
      // The state to start from: "0" takes the cache as it is; otherwise it must be at least as
      // new as the store now (unset) or as N — from the cache if it got there, else from the store.
      let snap: { items: Array<{ key: string; obj: JsonObject }>; rev: number };
      if (rvText === '0') snap = cache.snapshot(p.prefix);
      else {
        const cur = await p.currentRevision();
        const want = rvText === '' ? cur : Number(rvText);
        if (want > cur) {
          tooLarge(want, cur);
          return;
        }
        snap = (await cache.waitFresh(want, 0)) ? cache.snapshot(p.prefix) : await p.listFromStore(p.prefix, cur);
      }
      if (closed) return;
      // Writing the state and registering happen in one synchronous step: no event falls between.
      for (const it of snap.items) if (matches(it.obj)) write('ADDED', p.toExternal(structuredClone(it.obj)));
      lastRv = snap.rev;
      unregister = cache.watchFrom(snap.rev, watcher);
      if (p.sendInitialEvents === true && p.allowBookmarks) bookmark(snap.rev, true);
    } else {
      const fromRv = Number(rvText);
      if (fromRv > cache.rev) {
        const cur = await p.currentRevision();
        if (fromRv > cur) {
          tooLarge(fromRv, cur);
          return;
        }
      }
      if (closed) return;
      lastRv = fromRv;
      try {
        unregister = cache.watchFrom(fromRv, watcher);
      } catch (err) {
        if (err instanceof TooOldError) {
          errorEvent(Errors.expired(err.message).status);
          finish();
          return;
        }
        throw err;
      }
    }
    if (p.allowBookmarks) {
      const tick = (): void => {
        if (closed) return;
        cache.requestProgress();
        if (cache.rev > lastRv) bookmark(cache.rev);
        timers.push(setTimeout(tick, p.bookmarkIntervalMs));
      };
      timers.push(setTimeout(tick, p.bookmarkIntervalMs));
    }
    timers.push(setTimeout(finish, p.timeoutMs));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    errorEvent(Errors.internal(msg).status);
    finish();
  }
}
