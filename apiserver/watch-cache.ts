// The watch cache of one storage prefix (k8s.io/apiserver/pkg/storage/cacher, simplified): a
// single KV watch keeps an in-memory copy of every object under the prefix plus a bounded window
// of recent events. All HTTP watchers of the resource and the consistent lists are served from
// it, so N watchers cost one store watch.
//
// Invariants: `rev` only grows; every event in `history` has rv > `oldestRv` and rv <= `rev`,
// in increasing order; a watcher started at revision R receives exactly the events with rv > R.

import type { KV, WatchHandle } from '../store/kv.js';
import { EventType, type KeyValue, type WatchResponse } from '../store/api/types.js';
import { invariant } from '../common/assert.js';
import { decodeObject, ObjectStorage, prefixEnd } from './object-storage.js';
import type { JsonObject } from './json-value.js';

export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: CacheEventType;
  key: string;
  /** The object after the event (for DELETED: the last state, with the deletion's rv). */
  obj: JsonObject;
  /** The object before the event (undefined for ADDED). */
  prev?: JsonObject;
  rv: number;
}

export interface CacheWatcher {
  /** Called synchronously in revision order. Must not throw. */
  onEvent(e: CacheEvent): void;
  /** The cache moved to `rev` (events or a progress notification). */
  onProgress?(rev: number): void;
  /** The cache stopped feeding this watcher (restart, shutdown); it must end its stream. */
  onClose(reason: string): void;
}

export interface WatchCacheOptions {
  /** Events kept for watchers that start in the past (default 1000). */
  historySize?: number;
  /** How long a consistent read waits for the cache to catch up before reading the store (default 3 s). */
  freshnessTimeoutMs?: number;
  /** Delay before re-listing after the store watch broke (default 200 ms, doubled up to 5 s). */
  restartDelayMs?: number;
  /**
   * Take progress notifications (responses without events) as "nothing changed up to
   * header.revision", and request them to catch up. Off by default: etcd before 3.4.26/3.5.8 may
   * answer a progress request ahead of events still queued for the watch (etcd-io/etcd#15220),
   * which would make the cache claim a revision it has not seen. Without it the cache's revision
   * moves with its own events only, and callers needing a newer state read the store.
   */
  trustProgressNotifications?: boolean;
}

export class TooOldError extends Error {
  override name = 'TooOldError';
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

export class NotFreshError extends Error {
  override name = 'NotFreshError';
  constructor(
    readonly wanted: number,
    readonly current: number,
  ) {
    super(`Too large resource version: ${wanted}, current: ${current}`);
  }
}

interface Waiter {
  rev: number;
  resolve: () => void;
}

export class WatchCache {
  readonly prefix: string;
  private readonly storage: ObjectStorage;
  private readonly historySize: number;
  private readonly freshnessTimeoutMs: number;
  private readonly restartDelayMs: number;
  private readonly trustProgress: boolean;

  private items = new Map<string, { obj: JsonObject; rv: number }>();
  private history: CacheEvent[] = [];
  /** Every event with rv > oldestRv is in `history`. */
  private oldestRv = 0;
  private revision = 0;
  private handle: WatchHandle | undefined;
  private watchers = new Set<CacheWatcher>();
  private waiters: Waiter[] = [];
  private ready: Promise<void> | undefined;
  private stopped = false;
  private isReady = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private generation = 0;

  constructor(
    private readonly kv: KV,
    prefix: string,
    opts: WatchCacheOptions = {},
  ) {
    invariant(prefix.endsWith('/'), 'a watch cache prefix ends with /');
    this.prefix = prefix;
    this.storage = new ObjectStorage(kv);
    this.historySize = opts.historySize ?? 1000;
    this.freshnessTimeoutMs = opts.freshnessTimeoutMs ?? 3000;
    this.restartDelayMs = opts.restartDelayMs ?? 200;
    this.trustProgress = opts.trustProgressNotifications ?? false;
  }

  /** The revision the cache reflects. */
  get rev(): number {
    return this.revision;
  }

  get oldestWatchableRv(): number {
    return this.oldestRv;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  get objectCount(): number {
    return this.items.size;
  }

  /** Lists and starts the store watch (once); resolves when the cache is usable. */
  start(): Promise<void> {
    this.ready ??= this.initialize(this.restartDelayMs);
    return this.ready;
  }

  private async initialize(delay: number): Promise<void> {
    const gen = ++this.generation;
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) return;
      try {
        const page = await this.storage.list(this.prefix, {});
        if (gen !== this.generation || this.stopped) return;
        this.items = new Map(page.items.map((s) => [s.key, { obj: s.obj, rv: s.rv }]));
        this.history = [];
        this.revision = page.revision;
        this.oldestRv = page.revision;
        this.openWatch(page.revision + 1, gen);
        this.isReady = true;
        this.wakeWaiters();
        return;
      } catch (err) {
        // The store is unreachable: keep trying (bounded backoff); requests meanwhile fail or wait.
        if (attempt > 1000) throw err;
        // Unref'd: a cache waiting for its store must not keep the process alive after stop().
        await new Promise((r) => setTimeout(r, Math.min(5000, delay * 2 ** Math.min(attempt, 5))).unref());
      }
    }
  }

  private openWatch(startRevision: number, gen: number): void {
    const h = this.kv.watch(
      {
        key: Buffer.from(this.prefix, 'utf8'),
        rangeEnd: prefixEnd(this.prefix),
        startRevision,
        prevKv: true,
        progressNotify: true,
      },
      {
        onResponse: (res) => {
          if (gen === this.generation) this.onResponse(res);
        },
        onClose: (err) => {
          if (gen === this.generation && !this.stopped) this.restart(`store watch closed${err ? `: ${err.message}` : ''}`);
        },
      },
    );
    this.handle = h;
    h.created.catch((err: unknown) => {
      if (gen === this.generation && !this.stopped) this.restart(`store watch failed: ${String(err)}`);
    });
  }

  private onResponse(res: WatchResponse): void {
    if (res.canceled) {
      this.restart(res.compactRevision > 0 ? `store watch compacted at ${res.compactRevision}` : `store watch canceled: ${res.cancelReason}`);
      return;
    }
    if (res.events.length === 0) {
      // A progress notification: nothing under the prefix changed up to header.revision.
      if (this.trustProgress && res.header.revision > this.revision) {
        this.revision = res.header.revision;
        for (const w of this.watchers) w.onProgress?.(this.revision);
        this.wakeWaiters();
      }
      return;
    }
    for (const ev of res.events) this.apply(ev.type, ev.kv, ev.prevKv);
    this.wakeWaiters();
  }

  private apply(type: EventType, kv: KeyValue, prevKv?: KeyValue): void {
    const key = kv.key.toString('utf8');
    const rv = kv.modRevision;
    // Keys of one multi-key transaction share a revision, so only strictly older events are stale.
    if (rv < this.revision) return;
    const before = this.items.get(key);
    let ev: CacheEvent;
    if (type === EventType.PUT) {
      const obj = decodeObject(kv);
      this.items.set(key, { obj, rv });
      ev = before === undefined ? { type: 'ADDED', key, obj, rv } : { type: 'MODIFIED', key, obj, prev: before.obj, rv };
    } else {
      const last = before?.obj ?? (prevKv !== undefined ? decodeObject(prevKv) : undefined);
      this.items.delete(key);
      if (last === undefined) {
        this.revision = rv;
        return;
      }
      const obj = structuredClone(last);
      (obj['metadata'] as JsonObject)['resourceVersion'] = String(rv);
      ev = { type: 'DELETED', key, obj, prev: last, rv };
    }
    this.revision = rv;
    this.history.push(ev);
    if (this.history.length > this.historySize) {
      const dropped = this.history.shift()!;
      this.oldestRv = dropped.rv;
    }
    for (const w of this.watchers) w.onEvent(ev);
  }

  private restart(reason: string): void {
    if (this.stopped) return;
    this.isReady = false;
    this.generation++;
    this.handle?.cancel();
    this.handle = undefined;
    // Watchers cannot be carried across a re-list without a gap: end them; clients re-watch.
    for (const w of [...this.watchers]) w.onClose(reason);
    this.watchers.clear();
    clearTimeout(this.restartTimer);
    this.ready = new Promise<void>((resolve) => {
      this.restartTimer = setTimeout(() => {
        this.ready = this.initialize(this.restartDelayMs);
        this.ready.then(resolve, resolve);
      }, this.restartDelayMs);
    });
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) (this.revision >= w.rev ? w.resolve : () => still.push(w))();
    this.waiters = still;
  }

  /** True when the cache is usable now; otherwise waits up to `timeoutMs` for it (bounded, unlike start()). */
  async readyWithin(timeoutMs: number): Promise<boolean> {
    if (this.isReady) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.start().then(() => this.isReady), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves true once the cache reflects `rev`, false after the freshness timeout. */
  async waitFresh(rev: number, timeoutMs = this.freshnessTimeoutMs): Promise<boolean> {
    if (!(await this.readyWithin(timeoutMs))) return false;
    if (this.revision >= rev) return true;
    if (!this.trustProgress) return false;
    this.handle?.requestProgress();
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        rev,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Asks the store for a progress notification, when they are trusted (bookmarks use it). */
  requestProgress(): void {
    if (this.trustProgress) this.handle?.requestProgress();
  }

  /** Objects under `prefix` (default: all) as of `rev`, sorted by key. */
  snapshot(prefix = this.prefix): { items: Array<{ key: string; obj: JsonObject; rv: number }>; rev: number } {
    const items: Array<{ key: string; obj: JsonObject; rv: number }> = [];
    for (const [key, v] of this.items) if (key.startsWith(prefix)) items.push({ key, obj: v.obj, rv: v.rv });
    items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { items, rev: this.revision };
  }

  get(key: string): { obj: JsonObject; rv: number } | undefined {
    return this.items.get(key);
  }

  /**
   * Registers `w` to receive every event with rv > `fromRv` (replaying the window first).
   * `fromRv` may be ahead of the cache (a state read from the store): events up to it are then
   * skipped as they arrive. Throws TooOldError when the window no longer reaches back to `fromRv`.
   * Call when ready; the replay and registration happen synchronously, so nothing is missed.
   */
  watchFrom(fromRv: number, w: CacheWatcher): () => void {
    if (fromRv < this.oldestRv) throw new TooOldError(fromRv, this.oldestRv + 1);
    for (const ev of this.history) if (ev.rv > fromRv) w.onEvent(ev);
    const filtered: CacheWatcher =
      fromRv <= this.revision
        ? w
        : {
            onEvent: (ev) => {
              if (ev.rv > fromRv) w.onEvent(ev);
            },
            onProgress: (rev) => {
              if (rev > fromRv) w.onProgress?.(rev);
            },
            onClose: (reason) => w.onClose(reason),
          };
    this.watchers.add(filtered);
    return () => {
      this.watchers.delete(filtered);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.restartTimer);
    this.handle?.cancel();
    for (const w of [...this.watchers]) w.onClose('watch cache stopped');
    this.watchers.clear();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}
