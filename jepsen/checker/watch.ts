// The watch checker: every watcher must receive exactly the committed history of its key range
// from its start revision — in revision order, no gaps, no duplicates — and a watcher resumed
// after a restart (from last seen revision + 1) must continue it seamlessly.
//
// Operations as the watch workload records them (revisions are numbers, values strings):
//   watch-put     key, invoke value: the value          ok result {revision}
//   watch-delete  key, invoke value null                ok result {revision, deleted}
//   watch-read    key, invoke value {rangeEnd?|prefix?} ok result {revision, kvs: [{key, value, modRevision}]}
//   watch         process = the session's lane; invoke value {watcher, key, rangeEnd? | prefix?, startRevision}
//           completion (ok when we cancelled it, info when the stream broke, fail if it never
//           started) result {events: [{revision, key, type: 'put'|'delete', value?}],
//           progressRevision?, compactRevision?}. Events delivered before a break still count.
// Key ranges follow etcd: no rangeEnd = the key alone; rangeEnd "\0" = every key ≥ key;
// otherwise [key, rangeEnd); prefix: true = every key starting with key.
//
// The committed history is reconstructed from everything that vouches for an event: successful
// writes (with their revision), watchers' events and reads' modRevisions. A write of unknown
// outcome is in it exactly when someone observed it — and then every watcher whose range and
// horizon cover it must have it, at the same revision. Two sources disagreeing about one
// (revision, key) is a divergence. A session's horizon is the highest revision it delivered or
// its last progress notification: everything committed up to it must have been delivered.

import { isJsonObject, type Json } from '../json.js';
import type { Operation } from '../history.js';

// The workload's operation names (distinct from the register workload's, so `all` can mix them).
export const PUT = 'watch-put';
export const DELETE = 'watch-delete';
export const READ = 'watch-read';
export const WATCH = 'watch';

export interface WatchEvent {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  /** null for deletes. */
  value: string | null;
}

export type WatchAnomalyType =
  | 'gap'
  | 'duplicate'
  | 'reordered'
  | 'out-of-range'
  | 'divergence'
  | 'phantom-event'
  | 'failed-write-observed';

export interface WatchAnomaly {
  type: WatchAnomalyType;
  watcher?: string;
  /** History index of the watch session (invocation). */
  session?: number;
  revision: number;
  key: string;
  expected?: WatchEvent;
  got?: WatchEvent;
  /** History indexes of the operations involved. */
  ops: number[];
  message: string;
}

export interface WatchOptions {
  /** Bound on anomalies reported (the first ones by revision). Default 50. */
  maxReported?: number;
}

export interface WatchResult {
  checker: 'watch';
  valid: boolean;
  watchers: number;
  sessions: number;
  eventsDelivered: number;
  committedEvents: number;
  /** Sessions that ended because their start revision was compacted (not an error). */
  compactedSessions: number;
  anomalyCount: number;
  anomalies: WatchAnomaly[];
  /** The earliest anomaly by revision (what to look at first). */
  firstDivergence?: WatchAnomaly;
}

interface Range {
  key: string;
  end?: string; // exclusive; '\0' = to the end of the keyspace
  prefix: boolean;
}

function parseRange(v: { [k: string]: Json }, key: string): Range {
  const r: Range = { key, prefix: v.prefix === true };
  if (typeof v.rangeEnd === 'string' && v.rangeEnd !== '') r.end = v.rangeEnd;
  return r;
}

function inRange(r: Range, k: string): boolean {
  if (r.prefix) return k.startsWith(r.key);
  if (r.end === undefined) return k === r.key;
  if (r.end === '\0') return k >= r.key;
  return k >= r.key && k < r.end;
}

const evKey = (rev: number, key: string): string => `${rev}\u0000${key}`;
const showEvent = (e: WatchEvent): string => `${e.type} ${e.key}${e.type === 'put' ? `=${e.value}` : ''} @${e.revision}`;
const sameEvent = (a: WatchEvent, b: WatchEvent): boolean => a.type === b.type && a.value === b.value;

function parseEvent(x: Json): WatchEvent | undefined {
  if (!isJsonObject(x) || typeof x.revision !== 'number' || typeof x.key !== 'string') return undefined;
  if (x.type !== 'put' && x.type !== 'delete') return undefined;
  return { revision: x.revision, key: x.key, type: x.type, value: x.type === 'put' && typeof x.value === 'string' ? x.value : null };
}

function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

interface Session {
  op: Operation;
  watcher: string;
  range: Range;
  start: number;
  events: WatchEvent[];
  progress?: number;
  compacted: boolean;
}

export function checkWatch(ops: readonly Operation[], o: WatchOptions = {}): WatchResult {
  const anomalies: WatchAnomaly[] = [];
  const add = (a: WatchAnomaly): void => {
    anomalies.push(a);
  };

  // ---- sources of committed events ----
  const committed = new Map<string, { ev: WatchEvent; by: number[] }>();
  const vouch = (ev: WatchEvent, by: number, what: string): void => {
    const k = evKey(ev.revision, ev.key);
    const cur = committed.get(k);
    if (cur === undefined) {
      committed.set(k, { ev, by: [by] });
      return;
    }
    if (!cur.by.includes(by)) cur.by.push(by);
    if (!sameEvent(cur.ev, ev)) {
      add({
        type: 'divergence',
        revision: ev.revision,
        key: ev.key,
        expected: cur.ev,
        got: ev,
        ops: [...cur.by],
        message: `revision ${ev.revision} of ${ev.key}: ${what} says ${showEvent(ev)}, but op ${cur.by[0]} says ${showEvent(cur.ev)}`,
      });
    }
  };

  // Writes by value (the workload writes unique values), and revisions claimed by writes.
  const putsByValue = new Map<string, Operation[]>();
  const writeAtRevision = new Map<number, Operation>();
  for (const op of ops) {
    if (op.f !== PUT && op.f !== DELETE) continue;
    if (op.key === undefined) continue;
    const type = op.f === PUT ? 'put' : 'delete';
    if (type === 'put' && typeof op.value === 'string') {
      const k = `${op.key}\u0000${op.value}`;
      pushTo(putsByValue, k, op);
    }
    if (op.type !== 'ok' || !isJsonObject(op.result) || typeof op.result.revision !== 'number') continue;
    const rev = op.result.revision;
    if (type === 'delete' && op.result.deleted === 0) continue; // deleting nothing makes no revision
    const other = writeAtRevision.get(rev);
    if (other !== undefined) {
      add({
        type: 'divergence',
        revision: rev,
        key: op.key,
        ops: [other.index, op.index],
        message: `ops ${other.index} (${other.f} ${other.key}) and ${op.index} (${op.f} ${op.key}) both report committing at revision ${rev}`,
      });
      continue;
    }
    writeAtRevision.set(rev, op);
    vouch({ revision: rev, key: op.key, type, value: type === 'put' ? String(op.value) : null }, op.index, `${op.f} op ${op.index}`);
  }

  const sessions: Session[] = [];
  for (const op of ops) {
    if (op.f === READ && op.type === 'ok' && isJsonObject(op.result) && Array.isArray(op.result.kvs)) {
      for (const kv of op.result.kvs) {
        if (!isJsonObject(kv) || typeof kv.key !== 'string' || typeof kv.modRevision !== 'number') continue;
        vouch({ revision: kv.modRevision, key: kv.key, type: 'put', value: typeof kv.value === 'string' ? kv.value : null }, op.index, `read op ${op.index}`);
      }
    }
    if (op.f !== WATCH || !isJsonObject(op.value)) continue;
    const v = op.value;
    if (typeof v.watcher !== 'string' || typeof v.key !== 'string' || typeof v.startRevision !== 'number') continue;
    const res = isJsonObject(op.result) ? op.result : {};
    const events = (Array.isArray(res.events) ? res.events : []).map(parseEvent).filter((e): e is WatchEvent => e !== undefined);
    const s: Session = { op, watcher: v.watcher, range: parseRange(v, v.key), start: v.startRevision, events, compacted: typeof res.compactRevision === 'number' };
    if (typeof res.progressRevision === 'number') s.progress = res.progressRevision;
    sessions.push(s);
    for (const e of events) vouch(e, op.index, `watcher ${v.watcher} (session ${op.index})`);
  }

  // Observed puts against the writes that made them.
  const seenAt = new Map<string, WatchEvent>();
  for (const { ev, by } of committed.values()) {
    if (ev.type !== 'put' || ev.value === null) continue;
    const k = `${ev.key}\u0000${ev.value}`;
    const writes = putsByValue.get(k);
    if (writes === undefined) {
      add({ type: 'phantom-event', revision: ev.revision, key: ev.key, got: ev, ops: by, message: `${showEvent(ev)} was observed but no put of that value was ever invoked` });
      continue;
    }
    if (writes.length !== 1) continue; // values not unique: nothing more can be said
    const w = writes[0] as Operation;
    if (w.type === 'fail') {
      add({ type: 'failed-write-observed', revision: ev.revision, key: ev.key, got: ev, ops: [w.index, ...by], message: `${showEvent(ev)} was observed, but put op ${w.index} of that value failed` });
    }
    const earlier = seenAt.get(k);
    if (earlier !== undefined && earlier.revision !== ev.revision) {
      add({
        type: 'divergence',
        revision: ev.revision,
        key: ev.key,
        expected: earlier,
        got: ev,
        ops: [w.index, ...by],
        message: `put op ${w.index} (${ev.key}=${ev.value}) was observed at revisions ${earlier.revision} and ${ev.revision}`,
      });
    } else seenAt.set(k, ev);
  }

  // Committed events in revision order (then key order, as etcd orders a txn's events).
  const history = [...committed.values()].map((c) => c.ev).sort((a, b) => a.revision - b.revision || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  // ---- each watcher against the committed history ----
  const byWatcher = new Map<string, Session[]>();
  for (const s of sessions) pushTo(byWatcher, s.watcher, s);
  let delivered = 0;
  let compacted = 0;
  for (const [watcher, list] of byWatcher) {
    list.sort((a, b) => a.op.call - b.op.call);
    const seenBefore = new Map<string, number>(); // (rev,key) → session that delivered it
    for (const s of list) {
      delivered += s.events.length;
      if (s.compacted) compacted++;
      const where = { watcher, session: s.op.index };
      const seenHere = new Set<string>();
      let prev: WatchEvent | undefined;
      let first: WatchAnomaly | undefined;
      // The session's first divergence: the one at the lowest revision.
      const note = (a: WatchAnomaly): void => {
        if (first === undefined || a.revision < first.revision) first = a;
      };
      for (const e of s.events) {
        const k = evKey(e.revision, e.key);
        if (!inRange(s.range, e.key) || e.revision < s.start) {
          note({ type: 'out-of-range', ...where, revision: e.revision, key: e.key, got: e, ops: [s.op.index], message: `watcher ${watcher} (from ${s.start}, ${s.range.key}) got ${showEvent(e)}, outside its range or before its start revision` });
        } else if (seenHere.has(k) || seenBefore.has(k)) {
          const before = seenBefore.get(k);
          note({
            type: 'duplicate',
            ...where,
            revision: e.revision,
            key: e.key,
            got: e,
            ops: before === undefined ? [s.op.index] : [before, s.op.index],
            message: `watcher ${watcher} got ${showEvent(e)} twice${before !== undefined ? ` (again after resuming; first in session ${before})` : ''}`,
          });
        } else if (prev !== undefined && e.revision < prev.revision) {
          note({ type: 'reordered', ...where, revision: e.revision, key: e.key, got: e, ops: [s.op.index], message: `watcher ${watcher} got ${showEvent(e)} after ${showEvent(prev)}` });
        }
        seenHere.add(k);
        prev = e;
      }
      // Everything committed in range from the start revision up to the horizon must be there.
      let horizon = s.progress ?? -Infinity;
      for (const e of s.events) horizon = Math.max(horizon, e.revision);
      const got = new Set(s.events.map((e) => evKey(e.revision, e.key)));
      for (const c of history) {
        if (c.revision > horizon) break;
        if (c.revision < s.start || !inRange(s.range, c.key)) continue;
        const k = evKey(c.revision, c.key);
        if (got.has(k)) continue;
        if (seenBefore.has(k)) continue; // delivered before the restart: not a gap (and not expected again)
        const after = s.events.find((e) => e.revision > c.revision);
        note({
          type: 'gap',
          ...where,
          revision: c.revision,
          key: c.key,
          expected: c,
          ops: [s.op.index, ...(committed.get(k)?.by ?? [])],
          message: `watcher ${watcher} (session ${s.op.index}, from revision ${s.start}) never got ${showEvent(c)}${after !== undefined ? ` but got ${showEvent(after)} after it` : ` although its horizon is ${horizon}`}`,
        });
        break;
      }
      if (first !== undefined) add(first);
      for (const k of got) if (!seenBefore.has(k)) seenBefore.set(k, s.op.index);
    }
  }

  anomalies.sort((a, b) => a.revision - b.revision);
  const max = o.maxReported ?? 50;
  const result: WatchResult = {
    checker: 'watch',
    valid: anomalies.length === 0,
    watchers: byWatcher.size,
    sessions: sessions.length,
    eventsDelivered: delivered,
    committedEvents: history.length,
    compactedSessions: compacted,
    anomalyCount: anomalies.length,
    anomalies: anomalies.slice(0, max),
  };
  if (anomalies[0] !== undefined) result.firstDivergence = anomalies[0];
  return result;
}
