// The MVCC key-value engine: etcd's mvcc store (kvstore.go, kvstore_txn.go, index.go) over the
// in-memory index and the level backend. Every write goes through a WriteTxn whose changes all
// get the same main revision and increasing sub revisions; a txn with changes makes exactly one
// new revision. The latest value of every key is kept in memory (reads at the current revision
// and every write touch no disk); older values are read from the recent history or from level.

import { invariant } from '../../common/assert.js';
import { keepBytes } from '../../common/byte-slab.js';
import { Errors } from '../api/errors.js';
import { EventType, type Event, type KeyValue } from '../api/types.js';
import type { Backend } from './backend.js';
import { crc32cUpdate } from './crc32c.js';
import { KeyIndex } from './key-index.js';
import { encodeKeyValueProto } from './kv-proto.js';
import { RecentHistory, type RecentHistoryLimits, type RevisionEvents } from './recent-history.js';
import {
  EMPTY,
  PREFIX_KEY,
  decodeKvRecord,
  isProtoKvRecord,
  decodeMeta,
  encodeKvRecord,
  encodeMeta,
  historyKey,
  historyLowerBound,
  metaKey,
} from './records.js';
import { readRevision } from './revision.js';
import { SortedStringMap } from './sorted-string-map.js';

/** How the key index sees leases: etcd's lessor GetLease/Attach/Detach. */
export interface LeaseAttachments {
  getLease(keyStr: string): bigint;
  attach(id: bigint, keyStr: string): void;
  detach(id: bigint, keyStr: string): void;
}

/**
 * The end of a key range as a latin1 string: undefined = the single key, '' = every key from
 * `key` on (etcd's "\0" range end), otherwise the exclusive upper bound.
 */
export type RangeEnd = string | undefined;

/** etcd's mkGteRange + nil/empty handling: how a request's range_end bytes bound a range. */
export function rangeEndOf(end: Buffer | undefined): RangeEnd {
  if (end === undefined || end.length === 0) return undefined;
  if (end.length === 1 && end[0] === 0) return '';
  return end.toString('latin1');
}

export function inRange(k: string, key: string, end: RangeEnd): boolean {
  if (end === undefined) return k === key;
  return k >= key && (end === '' || k < end);
}

/** A revision to read from history (not in memory when the range was planned). */
interface HistoryRef {
  main: number;
  sub: number;
  ki: KeyIndex;
}

export interface RangePlan {
  /** The revision a response header reports (the current one, as etcd). */
  headerRev: number;
  /** Number of keys in the range at the read revision (before limit). */
  count: number;
  items: Array<KeyValue | HistoryRef>;
  needsHistory: boolean;
}

export interface RangeKeysOptions {
  /** <= 0: the current revision. */
  rev: number;
  /** 0: no limit. */
  limit: number;
  countOnly: boolean;
}

export interface HashResult {
  hash: number;
  currentRev: number;
  compactRev: number;
}

const NO_LEASE = 0n;

function deleteEventKv(key: Buffer, rev: number): KeyValue {
  return { key, createRevision: 0, modRevision: rev, version: 0, value: EMPTY, lease: NO_LEASE };
}

export class KvStore {
  /** The last committed revision (1 for an empty store, as etcd). */
  currentRev = 1;
  /** The compaction point; -1 until the first compaction, as etcd. */
  compactRev = -1;
  /** Revision that the in-memory latest values reflect (currentRev, or the open txn's). */
  private stateRev = 1;
  /** Highest revision the backend has written. */
  persistedRev = 1;
  index = new SortedStringMap<KeyIndex>();
  readonly history: RecentHistory;
  /** Called once per new revision with its events, after the txn ended. */
  onRevision: ((entry: RevisionEvents) => void) | undefined;
  /** Called after a compaction changed compactRev. */
  onCompact: ((rev: number) => void) | undefined;
  private writing = false;
  private persistWaiters: Array<{ rev: number; resolve: () => void }> = [];

  constructor(
    public backend: Backend,
    readonly leases: LeaseAttachments,
    historyLimits: RecentHistoryLimits,
  ) {
    this.history = new RecentHistory(historyLimits, 2);
  }

  /** Opens a write txn (one at a time; the state machine applies entries one by one). */
  write(): WriteTxn {
    invariant(!this.writing, 'nested write txn');
    this.writing = true;
    return new WriteTxn(this, this.currentRev);
  }

  /** @internal called by WriteTxn. */
  _setStateRev(rev: number): void {
    this.stateRev = rev;
  }

  /** @internal called by WriteTxn.end(). */
  _endWrite(events: Event[]): void {
    this.writing = false;
    if (events.length === 0) return;
    this.currentRev++;
    this.stateRev = this.currentRev;
    const entry = this.history.push(this.currentRev, events);
    this.onRevision?.(entry);
  }

  /** The backend has written everything up to `rev`. */
  markPersisted(rev: number): void {
    if (rev > this.persistedRev) this.persistedRev = rev;
    this.history.trim(this.persistedRev);
    if (this.persistWaiters.length > 0) {
      const ready = this.persistWaiters.filter((w) => w.rev <= this.persistedRev);
      this.persistWaiters = this.persistWaiters.filter((w) => w.rev > this.persistedRev);
      for (const w of ready) w.resolve();
    }
  }

  private whenPersisted(rev: number): Promise<void> {
    if (rev <= this.persistedRev) return Promise.resolve();
    return new Promise((resolve) => this.persistWaiters.push({ rev, resolve }));
  }

  // ---- reads ----

  /**
   * Plans a range read as etcd's rangeKeys: checks the revision, walks the index, and picks
   * every value that is in memory; values only on disk are left as history refs.
   */
  rangeKeys(key: string, end: RangeEnd, curRev: number, ro: RangeKeysOptions): RangePlan {
    let rev = ro.rev;
    if (rev > curRev) throw Errors.futureRev();
    if (rev <= 0) rev = curRev;
    if (rev < this.compactRev) throw Errors.compacted();
    const plan: RangePlan = { headerRev: curRev, count: 0, items: [], needsHistory: false };
    const limit = ro.countOnly ? -1 : ro.limit;
    const atState = rev === this.stateRev;
    const visit = (ki: KeyIndex): void => {
      let item: KeyValue | HistoryRef | undefined;
      if (atState || ki.modMain <= rev) {
        item = ki.latest;
      } else {
        const g = ki.get(rev);
        if (g !== undefined) item = { main: g.modMain, sub: g.modSub, ki };
      }
      if (item === undefined) return;
      plan.count++;
      if (limit === -1 || (limit > 0 && plan.items.length >= limit)) return;
      if (!('value' in item)) plan.needsHistory = true;
      plan.items.push(item);
    };
    if (end === undefined) {
      const ki = this.index.get(key);
      if (ki !== undefined) visit(ki);
    } else {
      this.index.forRange(key, end === '' ? undefined : end, (_k, ki) => visit(ki));
    }
    return plan;
  }

  /** The values of a plan: synchronously when all are in memory, else after reading level. */
  materialize(plan: RangePlan): KeyValue[] | Promise<KeyValue[]> {
    if (!plan.needsHistory) return plan.items as KeyValue[];
    const out: Array<KeyValue | undefined> = new Array(plan.items.length);
    const missing: number[] = [];
    plan.items.forEach((it, i) => {
      if ('value' in it) {
        out[i] = it;
        return;
      }
      const fromRing = this.history.get(it.main)?.events[it.sub];
      if (fromRing !== undefined) {
        invariant(fromRing.type === EventType.PUT && fromRing.kv.key.equals(it.ki.key), 'history ring mismatch');
        out[i] = fromRing.kv;
      } else {
        missing.push(i);
      }
    });
    if (missing.length === 0) return out as KeyValue[];
    const keys = missing.map((i) => {
      const ref = plan.items[i] as HistoryRef;
      return historyKey(ref.main, ref.sub, false);
    });
    return this.backend.getMany(keys).then((vals) => {
      vals.forEach((v, j) => {
        // Gone from disk: a compaction ran while this read was in flight.
        if (v === undefined) throw Errors.compacted();
        out[missing[j] as number] = decodeKvRecord(v);
      });
      return out as KeyValue[];
    });
  }

  /** The value of `key` at revision `rev`, if it existed then (for prevKv of old events). */
  valueAt(keyStr: string, rev: number): KeyValue | HistoryRef | undefined {
    if (rev < this.compactRev) return undefined;
    const ki = this.index.get(keyStr);
    if (ki === undefined) return undefined;
    if (ki.modMain <= rev) return ki.latest;
    const g = ki.get(rev);
    return g === undefined ? undefined : { main: g.modMain, sub: g.modSub, ki };
  }

  // ---- compaction ----

  /** etcd's Compact: checks, moves the compaction point, compacts the index and the disk. */
  compact(rev: number): void {
    if (rev <= this.compactRev) throw Errors.compacted();
    if (rev > this.currentRev) throw Errors.futureRev();
    this.compactRev = rev;
    this.backend.put(metaKey('compact'), encodeMeta(rev));
    const emptied: string[] = [];
    const removedAtRev = new Set<number>();
    this.index.forEach((k, ki) => {
      ki.compact(rev, (main, sub, tombstone) => {
        this.backend.del(historyKey(main, sub, tombstone));
        if (main === rev) removedAtRev.add(sub);
      });
      if (ki.isEmpty()) emptied.push(k);
    });
    for (const k of emptied) this.index.delete(k);
    if (removedAtRev.size > 0) this.history.hideFromWatchers(rev, (_ev, sub) => !removedAtRev.has(sub));
    this.onCompact?.(rev);
  }

  // ---- HashKV ----

  /** etcd's HashByRev: a CRC-32C of the history up to `rev`, equal to etcd's for the same history. */
  async hashByRev(rev: number): Promise<HashResult> {
    for (let attempt = 0; ; attempt++) {
      const compactRev = this.compactRev;
      const currentRev = this.currentRev;
      if (rev > 0 && rev <= compactRev) throw Errors.compacted();
      if (rev > 0 && rev > currentRev) throw Errors.futureRev();
      const at = rev === 0 ? currentRev : rev;
      const keep = new Set<string>();
      this.index.forEach((_k, ki) => ki.keep(at, (m, s) => void keep.add(`${m}.${s}`)));
      await this.whenPersisted(Math.min(at, currentRev));
      if (this.compactRev !== compactRev && attempt < 3) continue; // compacted meanwhile: redo
      const hash = await this.hashRecords(at, compactRev, keep);
      return { hash, currentRev, compactRev };
    }
  }

  private async hashRecords(at: number, compactRev: number, keep: Set<string>): Promise<number> {
    let h = crc32cUpdate(0, Buffer.from('key'));
    if (at < 0) return h;
    const it = this.backend.db.iterator({ gte: historyLowerBound(0), lt: historyLowerBound(at + 1) });
    try {
      for (;;) {
        const batch = await it.nextv(1000);
        if (batch.length === 0) break;
        for (const [k, v] of batch) {
          const r = readRevision(k, 1);
          if (r.main <= compactRev && keep.size > 0 && !keep.has(`${r.main}.${r.sub}`)) continue;
          // Records are etcd's own bytes (records.ts); older ones are re-encoded as etcd would.
          let proto: Buffer;
          if (isProtoKvRecord(v)) proto = v;
          else {
            const kv = decodeKvRecord(v);
            proto = r.tombstone
              ? encodeKeyValueProto({ key: kv.key, value: EMPTY, createRevision: 0, modRevision: 0, version: 0, lease: 0n })
              : encodeKeyValueProto(kv);
          }
          h = crc32cUpdate(h, k.subarray(1));
          h = crc32cUpdate(h, proto);
        }
      }
    } finally {
      await it.close();
    }
    return h;
  }

  // ---- recovery ----

  /** Rebuilds index, latest values, revisions and lease attachments from the backend. */
  async load(): Promise<void> {
    invariant(this.index.size === 0, 'load into a non-empty store');
    const compactRaw = await this.backend.db.get(metaKey('compact'));
    if (compactRaw !== undefined) {
      const c = decodeMeta(compactRaw);
      invariant(typeof c === 'number', 'corrupt meta: compact revision');
      this.compactRev = c;
    }
    let currentRev = 1;
    const keyToLease = new Map<string, bigint>();
    const it = this.backend.db.iterator({ gte: Buffer.from([PREFIX_KEY]), lt: Buffer.from([PREFIX_KEY + 1]) });
    try {
      for (;;) {
        const batch = await it.nextv(1000);
        if (batch.length === 0) break;
        for (const [k, v] of batch) {
          const r = readRevision(k, 1);
          const kv = decodeKvRecord(v, r.main);
          const keyStr = kv.key.toString('latin1');
          let ki = this.index.get(keyStr);
          currentRev = r.main;
          if (r.tombstone) {
            keyToLease.delete(keyStr);
            if (ki !== undefined && ki.tombstone(r.main, r.sub)) ki.latest = undefined;
            continue;
          }
          if (ki === undefined) {
            ki = new KeyIndex(kv.key, keyStr);
            ki.restore(kv.createRevision, 0, r.main, r.sub, kv.version);
            this.index.set(keyStr, ki);
          } else {
            ki.put(r.main, r.sub);
          }
          ki.latest = kv;
          if (kv.lease !== NO_LEASE) keyToLease.set(keyStr, kv.lease);
          else keyToLease.delete(keyStr);
        }
      }
    } finally {
      await it.close();
    }
    if (currentRev < this.compactRev) currentRev = this.compactRev;
    this.currentRev = currentRev;
    this.stateRev = currentRev;
    this.persistedRev = currentRev;
    this.history.reset(currentRev + 1);
    for (const [k, id] of keyToLease) this.leases.attach(id, k);
  }

  /** Forgets everything in memory (before loading a restored backend). */
  resetMemory(backend: Backend): void {
    invariant(!this.writing, 'reset during a write txn');
    this.backend = backend;
    this.index = new SortedStringMap<KeyIndex>();
    this.currentRev = 1;
    this.compactRev = -1;
    this.stateRev = 1;
    this.persistedRev = 1;
    this.history.reset(2);
  }
}

/**
 * One write transaction (etcd's storeTxnWrite). Reads inside it see its own writes, as etcd's
 * do: at beginRev until the first change, at beginRev + 1 after.
 */
export class WriteTxn {
  readonly changes: Event[] = [];
  private ended = false;

  constructor(
    private readonly s: KvStore,
    readonly beginRev: number,
  ) {}

  /** The revision reads inside this txn see. */
  get rev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  put(key: Buffer, value: Buffer, lease: bigint): void {
    const s = this.s;
    const rev = this.beginRev + 1;
    const sub = this.changes.length;
    const keyStr = key.toString('latin1');
    let ki = s.index.get(keyStr);
    const prev = ki?.latest;
    const oldLease = prev !== undefined ? s.leases.getLease(keyStr) : NO_LEASE;
    if (ki === undefined) {
      // Kept as long as the key lives: copied into a long-lived slab.
      ki = new KeyIndex(keepBytes(key), keyStr);
      s.index.set(keyStr, ki);
    }
    const kv: KeyValue = {
      key: ki.key,
      value: keepBytes(value),
      createRevision: prev !== undefined ? prev.createRevision : rev,
      modRevision: rev,
      version: prev !== undefined ? prev.version + 1 : 1,
      lease,
    };
    s.backend.put(historyKey(rev, sub, false), encodeKvRecord(kv, false));
    ki.put(rev, sub);
    ki.latest = kv;
    s._setStateRev(rev);
    this.changes.push(prev !== undefined ? { type: EventType.PUT, kv, prevKv: prev } : { type: EventType.PUT, kv });
    if (oldLease !== NO_LEASE) s.leases.detach(oldLease, keyStr);
    if (lease !== NO_LEASE) s.leases.attach(lease, keyStr);
  }

  /** Deletes the keys of [key, end) that exist; returns how many (etcd's deleteRange). */
  deleteRange(key: Buffer, end: RangeEnd): number {
    const s = this.s;
    const keyStr = key.toString('latin1');
    const victims: KeyIndex[] = [];
    if (end === undefined) {
      const ki = s.index.get(keyStr);
      if (ki?.latest !== undefined) victims.push(ki);
    } else {
      s.index.forRange(keyStr, end === '' ? undefined : end, (_k, ki) => {
        if (ki.latest !== undefined) victims.push(ki);
      });
    }
    for (const ki of victims) this.delete(ki);
    return victims.length;
  }

  private delete(ki: KeyIndex): void {
    const s = this.s;
    const rev = this.beginRev + 1;
    const sub = this.changes.length;
    const prev = ki.latest;
    invariant(prev !== undefined, 'deleting a key that does not exist');
    s.backend.put(historyKey(rev, sub, true), encodeKvRecord(prev, true));
    invariant(ki.tombstone(rev, sub), 'tombstone of a deleted key');
    ki.latest = undefined;
    s._setStateRev(rev);
    this.changes.push({ type: EventType.DELETE, kv: deleteEventKv(ki.key, rev), prevKv: prev });
    const lease = s.leases.getLease(ki.keyStr);
    if (lease !== NO_LEASE) s.leases.detach(lease, ki.keyStr);
  }

  /** Commits: one new revision if anything changed. */
  end(): void {
    invariant(!this.ended, 'txn ended twice');
    this.ended = true;
    this.s._endWrite(this.changes);
  }
}
