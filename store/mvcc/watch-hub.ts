// The watch hub: etcd's watchableStore + watchStream semantics on one thread.
//
// - A watcher is *synced* when it has seen every revision up to the current one; synced
//   watchers sit in groups of identical key ranges and are fed each new revision as one
//   response (one revision, never split), and every watcher of a group with the same filters
//   gets the very same immutable Event[] (so the gRPC layer can encode it once).
// - A watcher is *unsynced* when it must catch up: its start revision is in the past, or its
//   stream could not take more (the sink returned false: etcd's "victim"). The sync loop feeds
//   it from the in-memory recent history or, further back, from level, in responses of at most
//   maxRevisionsPerBatch revisions, then moves it back to synced. Nothing is buffered per
//   watcher: a slow stream costs a revision number, not memory.
// - A watcher whose next revision has been compacted is canceled with compactRevision, as etcd.
// Events of a watcher are delivered in revision order, exactly once, never skipping a revision
// (watcher.minRev is the next revision it is owed, and only moves forward past what it got).

import { invariant } from '../../common/assert.js';
import { EventType, WatchFilterType, type Event, type ResponseHeader, type WatchCreateRequest, type WatchResponse } from '../api/types.js';
import { header as plainHeader } from './kv-applier.js';
import { readPastEvents, type PastRevision } from './history-reader.js';
import { inRange, rangeEndOf, type KvStore, type RangeEnd } from './kv-store.js';
import { eventsWithoutPrev, type RevisionEvents } from './recent-history.js';

/** Where a watch stream's responses go (the gRPC layer: one per client stream). */
export interface WatchSink {
  /**
   * Takes one response. Return false when the stream's buffer is now full: the response was
   * taken, but the hub sends nothing more on this stream until WatchStream.resume().
   */
  send(res: WatchResponse): boolean;
  /**
   * Optional fast path for the most frequent response: `events` for watch `watchId` with
   * `header`, both shared by every watcher of the same revisions and options (the same objects
   * for all of them). The same as send() of that response, without building it.
   */
  sendEvents?(watchId: number, header: ResponseHeader, events: readonly Event[]): boolean;
}

export interface WatchHubOptions {
  /** Fills response headers (cluster/member/term); default: only the revision set. */
  header?: (revision: number) => ResponseHeader;
  /** Revisions per catch-up response (etcd: 1000). */
  maxRevisionsPerBatch?: number;
  /** Catch-up responses stop adding revisions once they hold this many events. */
  maxEventsPerBatch?: number;
  /** Unsynced watchers served per sync round (etcd: 512). */
  maxWatchersPerRound?: number;
}

/** Revisions (and events) one synced notification may carry (catch-up uses the same bound). */
const MAX_REVISIONS_PER_NOTIFY = 1000;
const MAX_EVENTS_PER_NOTIFY = 10_000;

export const WatchErrors = {
  emptyRange: 'mvcc: watcher range is empty',
  duplicateId: 'mvcc: duplicate watch ID provided on the WatchStream',
} as const;

type WatcherState = 'synced' | 'unsynced' | 'done';

class Watcher {
  state: WatcherState = 'unsynced';
  /** An async history read for it is in flight. */
  reading = false;
  group: WatchGroup | undefined;
  constructor(
    readonly id: number,
    readonly stream: WatchStream,
    readonly key: string,
    readonly end: RangeEnd,
    /** The next revision this watcher is owed. */
    public minRev: number,
    readonly prevKv: boolean,
    readonly noPut: boolean,
    readonly noDelete: boolean,
  ) {}

  variant(): number {
    return (this.prevKv ? 1 : 0) | (this.noPut ? 2 : 0) | (this.noDelete ? 4 : 0);
  }

  matches(keyStr: string): boolean {
    return inRange(keyStr, this.key, this.end);
  }
}

/** Synced watchers watching the same key range. */
class WatchGroup {
  readonly watchers = new Set<Watcher>();
  constructor(
    readonly sig: string,
    readonly key: string,
    readonly end: RangeEnd,
  ) {}
}

function rangeSig(key: string, end: RangeEnd): string {
  return end === undefined ? `s${key}` : `r${key}\u0100${end}`;
}

/** One catch-up response's events from a revision on, and the revision that follows them. */
interface CatchUpPart {
  readonly events: readonly Event[];
  readonly next: number;
}
/** Catch-up parts of one sync round by range, options and start revision (see catchUpFromMemory). */
type CatchUpParts = Map<string, CatchUpPart>;

function filterEvents(evs: readonly Event[], noPut: boolean, noDelete: boolean): readonly Event[] {
  if (!noPut && !noDelete) return evs;
  return evs.filter((e) => !((noPut && e.type === EventType.PUT) || (noDelete && e.type === EventType.DELETE)));
}

export class WatchHub {
  readonly maxRevs: number;
  readonly maxEvents: number;
  private readonly maxWatchersPerRound: number;
  private readonly mkHeader: (revision: number) => ResponseHeader;
  private readonly singleGroups = new Map<string, WatchGroup>();
  private readonly rangeGroups = new Map<string, WatchGroup>();
  private readonly unsynced = new Set<Watcher>();
  /** Revisions up to this one have been handed to synced watchers. */
  private deliveredRev: number;
  private deliverQueued = false;
  private syncQueued = false;
  private closed = false;

  constructor(
    private store: KvStore,
    opts: WatchHubOptions = {},
  ) {
    this.maxRevs = opts.maxRevisionsPerBatch ?? 1000;
    this.maxEvents = opts.maxEventsPerBatch ?? 10_000;
    this.maxWatchersPerRound = opts.maxWatchersPerRound ?? 512;
    this.mkHeader = opts.header ?? plainHeader;
    this.deliveredRev = store.currentRev;
  }

  openStream(sink: WatchSink): WatchStream {
    invariant(!this.closed, 'watch hub closed');
    return new WatchStream(this, sink);
  }

  /** Watcher counts and catch-up activity, for metrics and tests. */
  stats(): { synced: number; unsynced: number; historyReads: number; slowStreamEvents: number } {
    let synced = 0;
    for (const g of this.singleGroups.values()) synced += g.watchers.size;
    for (const g of this.rangeGroups.values()) synced += g.watchers.size;
    return { synced, unsynced: this.unsynced.size, historyReads: this.historyReads, slowStreamEvents: this.slowStreamEvents };
  }

  /** Catch-up reads that went to level. */
  private historyReads = 0;
  /** Times a synced watcher fell back to catching up because its stream was full. */
  private slowStreamEvents = 0;

  // ---- store hooks ----

  /** A new revision was committed (called by the store during apply). */
  onRevision(_entry: RevisionEvents): void {
    if (this.deliverQueued) return;
    this.deliverQueued = true;
    queueMicrotask(() => this.deliver());
  }

  /** The compaction point moved: unsynced watchers behind it are canceled on the next round. */
  onCompact(_rev: number): void {
    if (this.unsynced.size > 0) this.scheduleSync();
  }

  /** The store's state was replaced (snapshot restore): every watcher catches up again. */
  replaceStore(store: KvStore): void {
    this.store = store;
    this.onRestore();
  }

  private onRestore(): void {
    for (const g of [...this.singleGroups.values(), ...this.rangeGroups.values()]) {
      for (const w of [...g.watchers]) this.toUnsynced(w, Math.max(w.minRev, this.deliveredRev + 1));
    }
    this.deliveredRev = this.store.currentRev;
    this.scheduleSync();
  }

  close(): void {
    this.closed = true;
    this.singleGroups.clear();
    this.rangeGroups.clear();
    for (const w of this.unsynced) w.state = 'done';
    this.unsynced.clear();
  }

  header(rev: number): ResponseHeader {
    return this.mkHeader(rev);
  }

  // ---- synced delivery ----

  /**
   * Hands every revision not yet delivered to the synced watchers, in order. Revisions applied
   * together (one Raft batch) go to each watcher as one response: under load this divides the
   * number of messages by the batch size. A response still never splits a revision.
   */
  deliver(): void {
    this.deliverQueued = false;
    const cur = this.store.currentRev;
    let batch: RevisionEvents[] = [];
    let events = 0;
    while (this.deliveredRev < cur) {
      const rev = this.deliveredRev + 1;
      const entry = this.store.history.get(rev);
      if (entry === undefined) {
        // Not in memory any more (cannot happen while delivery runs right after apply);
        // everyone falls back to reading history.
        this.notify(batch);
        batch = [];
        for (const g of [...this.singleGroups.values(), ...this.rangeGroups.values()]) {
          for (const w of [...g.watchers]) this.toUnsynced(w, Math.max(w.minRev, rev));
        }
        this.deliveredRev = cur;
        break;
      }
      batch.push(entry);
      events += entry.watch.length;
      this.deliveredRev = rev;
      if (batch.length >= MAX_REVISIONS_PER_NOTIFY || events >= MAX_EVENTS_PER_NOTIFY) {
        this.notify(batch);
        batch = [];
        events = 0;
      }
    }
    this.notify(batch);
  }

  /** Sends the events of consecutive revisions to the synced watchers they concern. */
  private notify(entries: readonly RevisionEvents[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as RevisionEvents).rev;
    const last = (entries[entries.length - 1] as RevisionEvents).rev;
    // Which events of which revision each group wants, in revision order.
    const hits = new Map<WatchGroup, { entry: RevisionEvents; idxs: number[] }[]>();
    for (const entry of entries) {
      const events = entry.watch;
      if (events.length === 0) continue;
      const here = new Map<WatchGroup, number[]>();
      const hit = (g: WatchGroup, i: number): void => {
        const l = here.get(g);
        if (l === undefined) here.set(g, [i]);
        else l.push(i);
      };
      events.forEach((ev, i) => {
        const k = ev.kv.key.toString('latin1');
        const g = this.singleGroups.get(rangeSig(k, undefined));
        if (g !== undefined) hit(g, i);
        for (const rg of this.rangeGroups.values()) if (inRange(k, rg.key, rg.end)) hit(rg, i);
      });
      for (const [g, idxs] of here) {
        const l = hits.get(g);
        if (l === undefined) hits.set(g, [{ entry, idxs }]);
        else l.push({ entry, idxs });
      }
    }
    if (hits.size === 0) return;
    // One header for every response of this batch (the sinks recognise it and encode it once).
    let header: ResponseHeader | undefined;
    for (const [g, parts] of hits) {
      // One events array per watcher variant (prevKv, filters), shared by every watcher of it,
      // so the gRPC layer encodes it once.
      const variants = new Map<number, readonly Event[]>();
      const variantOf = (w: Watcher): readonly Event[] => {
        const v = w.variant();
        let evs = variants.get(v);
        if (evs === undefined) {
          const out: Event[] = [];
          for (const { entry, idxs } of parts) {
            const events = entry.watch;
            const all = idxs.length === events.length;
            const prevAllowed = entry.rev - 1 >= this.store.compactRev; // etcd reads prevKv at rev - 1
            let base: readonly Event[];
            if (w.prevKv && prevAllowed) base = all ? events : idxs.map((i) => events[i] as Event);
            else {
              const np = eventsWithoutPrev(entry);
              base = all ? np : idxs.map((i) => np[i] as Event);
            }
            for (const e of filterEvents(base, w.noPut, w.noDelete)) out.push(e);
          }
          evs = out;
          variants.set(v, evs);
        }
        return evs;
      };
      for (const w of [...g.watchers]) {
        if (w.minRev > last) continue; // starts in the future
        let evs = variantOf(w);
        // A watcher that starts inside this batch gets only its part (rare: not shared).
        if (w.minRev > first) evs = evs.filter((e) => e.kv.modRevision >= w.minRev);
        if (evs.length === 0) continue; // everything filtered out: nothing to send
        if (w.stream.blocked) {
          this.slowStreamEvents++;
          this.toUnsynced(w, Math.max(w.minRev, first));
          continue;
        }
        header ??= this.mkHeader(last);
        const ok = w.stream.emitEvents(w.id, header, evs);
        w.minRev = last + 1;
        if (!ok) {
          this.slowStreamEvents++;
          this.toUnsynced(w, last + 1);
        }
      }
    }
  }

  /** @internal an event response with this header (the caller's to share or not) */
  _eventResponse(watchId: number, header: ResponseHeader, events: readonly Event[]): WatchResponse {
    return { header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: events as Event[] };
  }

  private eventResponse(watchId: number, headerRev: number, events: readonly Event[]): WatchResponse {
    return this._eventResponse(watchId, this.mkHeader(headerRev), events);
  }

  // ---- membership ----

  /** @internal */
  _add(w: Watcher): void {
    const cur = this.store.currentRev;
    if (w.minRev > cur) this.toSynced(w);
    else this.toUnsynced(w, w.minRev);
  }

  /** @internal */
  _remove(w: Watcher): void {
    if (w.group !== undefined) this.leaveGroup(w);
    this.unsynced.delete(w);
    w.state = 'done';
  }

  private toSynced(w: Watcher): void {
    this.unsynced.delete(w);
    const sig = rangeSig(w.key, w.end);
    const groups = w.end === undefined ? this.singleGroups : this.rangeGroups;
    let g = groups.get(sig);
    if (g === undefined) {
      g = new WatchGroup(sig, w.key, w.end);
      groups.set(sig, g);
    }
    g.watchers.add(w);
    w.group = g;
    w.state = 'synced';
  }

  private leaveGroup(w: Watcher): void {
    const g = w.group;
    if (g === undefined) return;
    g.watchers.delete(w);
    if (g.watchers.size === 0) (g.end === undefined ? this.singleGroups : this.rangeGroups).delete(g.sig);
    w.group = undefined;
  }

  private toUnsynced(w: Watcher, minRev: number): void {
    invariant(minRev >= w.minRev || w.state !== 'synced', () => `watcher ${w.id} would go back from ${w.minRev} to ${minRev}`);
    this.leaveGroup(w);
    w.minRev = minRev;
    w.state = 'unsynced';
    this.unsynced.add(w);
    this.scheduleSync();
  }

  // ---- catching up ----

  /** @internal */
  scheduleSync(): void {
    if (this.syncQueued || this.closed) return;
    this.syncQueued = true;
    setImmediate(() => {
      this.syncQueued = false;
      this.syncRound();
    });
  }

  private syncRound(): void {
    if (this.closed) return;
    // Deliver pending revisions first so that a watcher turning synced is not owed any.
    if (this.deliveredRev < this.store.currentRev) this.deliver();
    let served = 0;
    let more = false;
    const shared: CatchUpParts = new Map();
    for (const w of [...this.unsynced]) {
      if (w.state !== 'unsynced' || w.reading || w.stream.blocked) continue;
      if (served >= this.maxWatchersPerRound) {
        more = true;
        break;
      }
      served++;
      if (this.syncOne(w, shared)) more = true;
    }
    if (more) this.scheduleSync();
  }

  /** One step for one unsynced watcher; true when it needs another round. */
  private syncOne(w: Watcher, shared: CatchUpParts): boolean {
    const store = this.store;
    if (w.minRev < store.compactRev) {
      const ok = w.stream.emit({
        header: this.mkHeader(0),
        watchId: w.id,
        created: false,
        canceled: true,
        compactRevision: store.compactRev,
        cancelReason: '',
        fragment: false,
        events: [],
      });
      void ok; // taken either way; the watch ID stays in use until the client cancels it
      this._remove(w);
      return false;
    }
    const cur = store.currentRev;
    if (w.minRev > cur) {
      this.toSynced(w);
      return false;
    }
    const lo = store.history.lo;
    if (w.minRev >= lo) {
      this.catchUpFromMemory(w, cur, shared);
      return w.state === 'unsynced' && !w.stream.blocked;
    }
    // Older than memory reaches: read level (everything below `lo` is on disk).
    const from = w.minRev;
    const to = Math.min(lo - 1, from + this.maxRevs - 1);
    w.reading = true;
    this.historyReads++;
    readPastEvents(store, from, to, (k) => w.matches(k), w.prevKv).then(
      (revs) => {
        w.reading = false;
        if (w.state !== 'unsynced' || w.minRev !== from) return;
        if (w.minRev < store.compactRev) {
          this.scheduleSync(); // compacted while reading: cancel on the next round
          return;
        }
        this.sendPast(w, revs, to);
        this.scheduleSync();
      },
      (err: unknown) => {
        w.reading = false;
        // A read failure leaves the watcher where it was; it retries on the next round.
        this.readErrors++;
        this.lastReadError = err;
        this.scheduleSync();
      },
    );
    return false;
  }

  /** Read failures of catch-up reads (they are retried). */
  readErrors = 0;
  lastReadError: unknown;

  private sendPast(w: Watcher, revs: PastRevision[], to: number): void {
    const events: Event[] = [];
    for (const pr of revs) {
      const prevAllowed = pr.rev - 1 >= this.store.compactRev;
      for (const ev of filterEvents(pr.events, w.noPut, w.noDelete)) {
        events.push(w.prevKv && prevAllowed ? ev : ev.prevKv === undefined ? ev : { type: ev.type, kv: ev.kv });
      }
    }
    if (events.length > 0) {
      const ok = w.stream.emit(this.eventResponse(w.id, this.store.currentRev, events));
      w.minRev = to + 1;
      if (!ok) return;
    } else {
      w.minRev = to + 1;
    }
  }

  /**
   * Feeds `w` from the in-memory history until it is caught up or its stream is full. Watchers
   * that fell behind together (a stream that was full, a member that paused) are owed the same
   * revisions: within one sync round, every watcher of the same range, options and position
   * gets the very same response part (`shared`), so it is read out of history and encoded once,
   * as for synced watchers, instead of once per watcher.
   */
  private catchUpFromMemory(w: Watcher, cur: number, shared: CatchUpParts): void {
    const sig = `${rangeSig(w.key, w.end)}\u0101${w.variant()}\u0101`;
    while (w.state === 'unsynced' && !w.stream.blocked && w.minRev <= cur) {
      const key = sig + w.minRev;
      let part = shared.get(key);
      if (part === undefined) {
        part = this.catchUpPart(w, cur);
        shared.set(key, part);
      }
      w.minRev = part.next;
      if (part.events.length > 0 && !w.stream.emit(this.eventResponse(w.id, this.store.currentRev, part.events))) return;
    }
    if (w.state === 'unsynced' && w.minRev > cur && !w.stream.blocked) this.toSynced(w);
  }

  /** The events `w` is owed from w.minRev on, up to one response's worth (and the revision after). */
  private catchUpPart(w: Watcher, cur: number): CatchUpPart {
    const hist = this.store.history;
    const from = w.minRev;
    const events: Event[] = [];
    let rev = from;
    for (; rev <= cur && rev < from + this.maxRevs && events.length < this.maxEvents; rev++) {
      const entry = hist.get(rev);
      invariant(entry !== undefined, () => `revision ${rev} missing from memory`);
      const prevAllowed = rev - 1 >= this.store.compactRev;
      const src = w.prevKv && prevAllowed ? entry.watch : eventsWithoutPrev(entry);
      for (const ev of src) {
        if (!w.matches(ev.kv.key.toString('latin1'))) continue;
        if ((w.noPut && ev.type === EventType.PUT) || (w.noDelete && ev.type === EventType.DELETE)) continue;
        events.push(ev);
      }
    }
    return { events, next: rev };
  }

  /** @internal progress for one stream (WatchProgressRequest): only when all are synced. */
  _progressAll(stream: WatchStream): void {
    if (this.deliveredRev < this.store.currentRev) this.deliver();
    if (stream.blocked || stream.watcherCount === 0) return;
    for (const w of stream.allWatchers()) if (w.state !== 'synced') return;
    stream.emit(this.progressResponse(-1));
  }

  /** @internal progress for one watcher (progress_notify): only when it is synced. */
  _progress(w: Watcher): void {
    if (this.deliveredRev < this.store.currentRev) this.deliver();
    if (w.state !== 'synced' || w.stream.blocked) return;
    w.stream.emit(this.progressResponse(w.id));
  }

  private progressResponse(watchId: number): WatchResponse {
    return this.eventResponse(watchId, this.store.currentRev, []);
  }

  /** @internal */
  get currentRev(): number {
    return this.store.currentRev;
  }
}

/** One client watch stream: its watch IDs, its sink, and whether it can take more. */
export class WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private isBlocked = false;
  private isClosed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly sink: WatchSink,
  ) {}

  get blocked(): boolean {
    return this.isBlocked;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** @internal */
  allWatchers(): IterableIterator<Watcher> {
    return this.watchers.values();
  }

  /** @internal sends one response; marks the stream blocked when the sink is full. */
  emit(res: WatchResponse): boolean {
    if (this.isClosed) return true;
    const ok = this.sink.send(res);
    if (!ok) this.isBlocked = true;
    return ok;
  }

  /** @internal sends events of a synced watcher (the sink's fast path when it has one). */
  emitEvents(watchId: number, header: ResponseHeader, events: readonly Event[]): boolean {
    if (this.isClosed) return true;
    const sink = this.sink;
    // A header of its own for the slow path: a sink without sendEvents may keep or change it.
    const ok = sink.sendEvents ? sink.sendEvents(watchId, header, events) : sink.send(this.hub._eventResponse(watchId, { ...header }, events));
    if (!ok) this.isBlocked = true;
    return ok;
  }

  /**
   * Creates a watch (etcd's WatchCreateRequest handling). Returns the creation response, which
   * the caller sends before anything else of this watch (events only follow asynchronously).
   */
  watch(req: WatchCreateRequest): WatchResponse {
    invariant(!this.isClosed, 'watch on a closed stream');
    const hub = this.hub;
    const key = req.key.length === 0 ? Buffer.from([0]) : req.key; // "\0" is the smallest key
    const keyStr = key.toString('latin1');
    const end = rangeEndOf(req.rangeEnd);
    const wsrev = hub.currentRev;
    const fail = (reason: string): WatchResponse => ({
      header: hub.header(wsrev),
      watchId: -1,
      created: true,
      canceled: true,
      compactRevision: 0,
      cancelReason: reason,
      fragment: false,
      events: [],
    });
    if (end !== undefined && end !== '' && keyStr >= end) return fail(WatchErrors.emptyRange);
    let id = req.watchId ?? 0;
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      return fail(WatchErrors.duplicateId);
    }
    let rev = req.startRevision ?? 0;
    if (rev === 0) rev = wsrev + 1;
    const filters = req.filters ?? [];
    const synced = rev > wsrev;
    const w = new Watcher(
      id,
      this,
      keyStr,
      end,
      synced ? Math.max(wsrev + 1, rev) : rev,
      req.prevKv === true,
      filters.includes(WatchFilterType.NOPUT),
      filters.includes(WatchFilterType.NODELETE),
    );
    this.watchers.set(id, w);
    hub._add(w);
    return {
      header: hub.header(wsrev),
      watchId: id,
      created: true,
      canceled: false,
      compactRevision: 0,
      cancelReason: '',
      fragment: false,
      events: [],
    };
  }

  /** Cancels a watch; returns the cancel response, or undefined if there is no such watch. */
  cancel(watchId: number): WatchResponse | undefined {
    const w = this.watchers.get(watchId);
    if (w === undefined) return undefined;
    this.watchers.delete(watchId);
    this.hub._remove(w);
    return {
      header: this.hub.header(this.hub.currentRev),
      watchId,
      created: false,
      canceled: true,
      compactRevision: 0,
      cancelReason: '',
      fragment: false,
      events: [],
    };
  }

  /** WatchProgressRequest: one progress response (watchId -1) if every watcher is synced. */
  requestProgress(): void {
    if (!this.isClosed) this.hub._progressAll(this);
  }

  /** progress_notify tick for one watch: a progress response if it is synced. */
  progress(watchId: number): void {
    const w = this.watchers.get(watchId);
    if (w !== undefined && !this.isClosed) this.hub._progress(w);
  }

  /** The sink can take responses again. */
  resume(): void {
    if (!this.isBlocked) return;
    this.isBlocked = false;
    this.hub.scheduleSync();
  }

  /** Ends every watch of the stream; nothing more is sent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const w of this.watchers.values()) this.hub._remove(w);
    this.watchers.clear();
  }

  /** The next revision a watch is owed (for tests and metrics). */
  nextRevisionOf(watchId: number): number | undefined {
    return this.watchers.get(watchId)?.minRev;
  }
}
