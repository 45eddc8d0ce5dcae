// The Raft log as the core sees it: stable entries in Storage, then unstable ones.
//
// Invariants (checked by `checkInvariants`):
//   storage.firstIndex()-1 <= applied <= applying <= committed <= lastIndex()
// `applying` is the last index handed to the application in a Ready; `applied` the last one the
// application reported done (advance). Committed entries are never truncated.

import { invariant } from '../../common/assert.js';
import { CompactedError, UnavailableError, type Storage } from './storage.js';
import { Unstable } from './unstable.js';
import { limitSize, type Entry, type Snapshot } from './types.js';

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applying: number;
  applied: number;
  /** Bound on the size of committed entries handed out in one Ready. */
  readonly maxApplyingSize: number;

  constructor(storage: Storage, maxApplyingSize: number) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
    this.maxApplyingSize = maxApplyingSize;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** The term at i; throws CompactedError/UnavailableError when it is not known. */
  term(i: number): number {
    const u = this.unstable.maybeTerm(i);
    if (u !== undefined) return u;
    return this.storage.term(i);
  }

  /**
   * The term at i, or undefined when it is not known (compacted, or beyond the end). Checks the
   * bounds first: asking for an index past the end is routine on the append path and must not
   * cost an exception.
   */
  maybeTerm(i: number): number | undefined {
    if (i > this.lastIndex() || i < this.firstIndex() - 1) return undefined;
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }

  /** The term at i, or 0 when unknown (compacted or beyond the end). */
  zeroTermOnOutOfBounds(i: number): number {
    return this.maybeTerm(i) ?? 0;
  }

  matchTerm(i: number, t: number): boolean {
    return this.maybeTerm(i) === t;
  }

  /**
   * Appends `ents` after the entry (index, logTerm) if it matches, committing up to `committed`.
   * Returns the new last index of the matched prefix, or undefined on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(ci > this.committed, () => `entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    invariant(after >= this.committed, () => `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry in `ents` that is new or conflicts (same index, other term)
   * with the log; 0 if all of them are already present.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off for a rejected append: the largest index <= `index` whose term is <= `term`
   * (so the leader can skip a whole term of mismatching entries in one round trip).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      let t: number;
      try {
        t = this.term(i);
      } catch (e) {
        if (e instanceof CompactedError || e instanceof UnavailableError) return { index: i, term: 0 };
        throw e;
      }
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Entries not yet persisted (including those being written). */
  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Entries not yet persisted nor handed out for writing. */
  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  hasNextUnstableEnts(): boolean {
    return this.unstable.hasNextEntries();
  }

  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  hasNextCommittedEnts(): boolean {
    if (this.hasNextOrInProgressSnapshot()) return false;
    return this.committed > this.applying;
  }

  /** Committed entries not yet handed to the application, bounded by maxApplyingSize. */
  nextCommittedEnts(): Entry[] {
    if (this.hasNextOrInProgressSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxApplyingSize);
  }

  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  nextUnstableSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(tocommit: number): void {
    if (this.committed < tocommit) {
      invariant(
        this.lastIndex() >= tocommit,
        () => `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
      );
      this.committed = tocommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(this.committed >= i && i >= this.applied, () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  applyingTo(i: number): void {
    invariant(this.committed >= i && i >= this.applying, () => `applying(${i}) is out of range [prevApplying(${this.applying}), committed(${this.committed})]`);
    this.applying = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Commits up to maxIndex only if that entry is of `term` (never by counting older terms). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnOutOfBounds(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Candidate's log (lastIndex, lastTerm) is at least as up-to-date as ours (Raft §5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries from i, at most maxSize bytes (at least one). */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** Entries in [lo, hi) across storage and unstable, at most maxSize bytes (at least one). */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxSize);
      // Storage returned fewer entries than asked (size limit): stop there.
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      ents = stored;
    }
    if (hi > this.unstable.offset) {
      const u = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxSize);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    invariant(lo <= hi, () => `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError(lo);
    const length = this.lastIndex() + 1 - fi;
    invariant(hi <= fi + length, () => `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }

  checkInvariants(): void {
    invariant(
      this.storage.firstIndex() - 1 <= this.applied || this.hasNextOrInProgressSnapshot(),
      () => `applied ${this.applied} below first index ${this.storage.firstIndex()}`,
    );
    invariant(this.applied <= this.applying, () => `applied ${this.applied} > applying ${this.applying}`);
    invariant(this.applying <= this.committed, () => `applying ${this.applying} > committed ${this.committed}`);
    invariant(this.committed <= this.lastIndex(), () => `committed ${this.committed} > lastIndex ${this.lastIndex()}`);
  }
}
