// The events of the most recent revisions, in memory: the contiguous window [lo, current].
// Synced watchers are fed from here, slow or resuming watchers catch up from here without
// touching level, and history reads find here what the backend may not have written yet.
// Bounded by event count and bytes, but a revision is only evicted once the backend has written
// it, so everything not yet on disk is always here.

import { invariant } from '../../common/assert.js';
import type { Event } from '../api/types.js';

export interface RevisionEvents {
  readonly rev: number;
  /** The revision's events in sub-revision order (event i has sub revision i), with prevKv. */
  readonly events: readonly Event[];
  /** What watchers see of this revision: `events`, less what compaction removed from disk. */
  watch: readonly Event[];
  /** `watch` without prevKv (built on first use, shared by all watchers). */
  noPrev: readonly Event[] | undefined;
  readonly bytes: number;
}

export interface RecentHistoryLimits {
  maxEvents: number;
  maxBytes: number;
}

export const DEFAULT_HISTORY_LIMITS: RecentHistoryLimits = { maxEvents: 50_000, maxBytes: 64 * 1024 * 1024 };

export function eventsWithoutPrev(e: RevisionEvents): readonly Event[] {
  if (e.noPrev === undefined) {
    let any = false;
    for (const ev of e.watch) if (ev.prevKv !== undefined) any = true;
    e.noPrev = any ? e.watch.map((ev) => ({ type: ev.type, kv: ev.kv })) : e.watch;
  }
  return e.noPrev;
}

export class RecentHistory {
  private entries: RevisionEvents[] = [];
  private head = 0;
  private events = 0;
  private bytes = 0;
  private next: number;

  constructor(
    private readonly limits: RecentHistoryLimits,
    nextRev: number,
  ) {
    this.next = nextRev;
  }

  /** The first revision held (== the next revision when empty). */
  get lo(): number {
    return this.head < this.entries.length ? (this.entries[this.head] as RevisionEvents).rev : this.next;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  get(rev: number): RevisionEvents | undefined {
    const i = rev - this.lo;
    if (i < 0 || i >= this.size) return undefined;
    return this.entries[this.head + i];
  }

  push(rev: number, events: readonly Event[]): RevisionEvents {
    invariant(rev === this.next, () => `history gap: pushing ${rev}, expected ${this.next}`);
    let bytes = 64;
    for (const ev of events) bytes += 96 + ev.kv.key.length + ev.kv.value.length;
    const e: RevisionEvents = { rev, events, watch: events, noPrev: undefined, bytes };
    this.entries.push(e);
    this.events += events.length;
    this.bytes += bytes;
    this.next = rev + 1;
    return e;
  }

  /** Evicts the oldest revisions while over the limits, never beyond `persistedRev`. */
  trim(persistedRev: number): void {
    while (this.size > 0 && (this.events > this.limits.maxEvents || this.bytes > this.limits.maxBytes)) {
      const e = this.entries[this.head] as RevisionEvents;
      if (e.rev > persistedRev) break;
      this.entries[this.head] = undefined as never;
      this.head++;
      this.events -= e.events.length;
      this.bytes -= e.bytes;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Hides events of one revision from watchers (compaction removed them from disk). */
  hideFromWatchers(rev: number, keep: (ev: Event, sub: number) => boolean): void {
    const e = this.get(rev);
    if (e === undefined) return;
    e.watch = e.events.filter(keep);
    e.noPrev = undefined;
  }

  /** Forgets everything; the next revision pushed will be `nextRev`. */
  reset(nextRev: number): void {
    this.entries = [];
    this.head = 0;
    this.events = 0;
    this.bytes = 0;
    this.next = nextRev;
  }
}
