// The part of the log not yet persisted: possibly an incoming snapshot, then entries.
//
// Invariant: entries[k].index === offset + k; if snapshot is set, offset === snapshot.index + 1.
// Entries here may still be overwritten by a new leader; once the runtime reports them durable
// (stableTo), they move to Storage.
//
// Entries below offsetInProgress have been handed out in a Ready whose write has not finished
// yet (etcd-io/raft's offsetInProgress): the next Ready hands out only those after them, so a
// runtime can take a Ready while earlier ones are still being written, in order.

import { invariant } from '../../common/assert.js';
import type { Entry, Snapshot } from './types.js';

export class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  offset: number;
  /** Entries in [offset, offsetInProgress) are being written; offset <= offsetInProgress <= end. */
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Entries not yet handed out for writing. */
  nextEntries(): Entry[] {
    const from = this.offsetInProgress - this.offset;
    return from === 0 ? this.entries : this.entries.slice(from);
  }

  hasNextEntries(): boolean {
    return this.offsetInProgress < this.offset + this.entries.length;
  }

  /** Everything unstable has now been handed out for writing. */
  acceptInProgress(): void {
    this.offsetInProgress = this.offset + this.entries.length;
  }

  /** The first index, if only a snapshot is unstable. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return (this.entries[i - this.offset] as Entry).term;
  }

  /** Entries up to (i, t) are durable; drop them unless they were replaced meanwhile. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    // Only if the term still matches: a newer leader may have replaced the entry since the Ready.
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
      this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const first = (ents[0] as Entry).index;
    if (first === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (first <= this.offset) {
      // Replaces everything unstable: the log is being rewritten from `first`.
      this.offset = first;
      this.offsetInProgress = first;
      this.entries = [...ents];
    } else {
      this.entries = this.slice(this.offset, first);
      for (const e of ents) this.entries.push(e);
      // A write in flight that holds replaced entries no longer covers them: they go out again.
      this.offsetInProgress = Math.min(this.offsetInProgress, first);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    invariant(
      this.offset <= lo && lo <= hi && hi <= this.offset + this.entries.length,
      () => `unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
