// Reads the events of a span of past revisions from level, for watchers that catch up from
// further back than the in-memory recent history reaches. Tombstones become DELETE events with
// the deletion's revision as modRevision (as etcd's kvsToEvents); prevKv, when asked for, is the
// key's value at the revision before the event (none when that revision is compacted, as etcd).

import { EventType, type Event, type KeyValue } from '../api/types.js';
import { EMPTY, decodeKvRecord, historyKey, historyLowerBound } from './records.js';
import { readRevision } from './revision.js';
import type { KvStore } from './kv-store.js';

export interface PastRevision {
  rev: number;
  events: Event[];
}

/**
 * Events of revisions [from, to] whose key satisfies `match`, grouped by revision in order.
 * `to` must already be written to level.
 */
export async function readPastEvents(
  store: KvStore,
  from: number,
  to: number,
  match: (keyStr: string) => boolean,
  withPrevKv: boolean,
): Promise<PastRevision[]> {
  const out: PastRevision[] = [];
  if (to < from) return out;
  const it = store.backend.db.iterator({ gte: historyLowerBound(Math.max(from, 0)), lt: historyLowerBound(to + 1) });
  try {
    for (;;) {
      const batch = await it.nextv(1000);
      if (batch.length === 0) break;
      for (const [k, v] of batch) {
        const r = readRevision(k, 1);
        const kv = decodeKvRecord(v, r.main);
        if (!match(kv.key.toString('latin1'))) continue;
        const ev: Event = r.tombstone
          ? { type: EventType.DELETE, kv: { key: kv.key, value: EMPTY, createRevision: 0, modRevision: r.main, version: 0, lease: 0n } }
          : { type: EventType.PUT, kv };
        const last = out[out.length - 1];
        if (last !== undefined && last.rev === r.main) last.events.push(ev);
        else out.push({ rev: r.main, events: [ev] });
      }
    }
  } finally {
    await it.close();
  }
  if (withPrevKv) await attachPrevKvs(store, out);
  return out;
}

/** Sets prevKv (the value at modRevision - 1) on every event that is not a creation. */
async function attachPrevKvs(store: KvStore, revs: PastRevision[]): Promise<void> {
  const pending: Array<{ ev: Event; main: number; sub: number }> = [];
  for (const pr of revs) {
    for (const ev of pr.events) {
      if (ev.type === EventType.PUT && ev.kv.createRevision === ev.kv.modRevision) continue;
      const at = store.valueAt(ev.kv.key.toString('latin1'), ev.kv.modRevision - 1);
      if (at === undefined) continue;
      if ('value' in at) {
        ev.prevKv = at;
        continue;
      }
      const fromRing = store.history.get(at.main)?.events[at.sub];
      if (fromRing !== undefined) ev.prevKv = fromRing.kv;
      else pending.push({ ev, main: at.main, sub: at.sub });
    }
  }
  if (pending.length === 0) return;
  const vals = await store.backend.getMany(pending.map((p) => historyKey(p.main, p.sub, false)));
  vals.forEach((v, i) => {
    // Missing: compacted meanwhile; etcd then sends the event without prevKv.
    if (v !== undefined) (pending[i] as { ev: Event }).ev.prevKv = decodeKvRecord(v) as KeyValue;
  });
}
