// What the core reads of the persisted log. The runtime keeps it equal to what is on disk: it
// appends entries and installs snapshots here only after they are durable, so the core can
// treat everything in Storage as stable. Reads are synchronous; the core does no I/O.

import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** The requested index is older than the first entry kept (it was compacted into a snapshot). */
export class CompactedError extends Error {
  override name = 'CompactedError';
  constructor(index: number) {
    super(`raft: requested index ${index} is unavailable due to compaction`);
  }
}

/** The requested index is newer than the last entry. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
  constructor(index: number) {
    super(`raft: requested entry at index ${index} is unavailable`);
  }
}

/** The snapshot offered is older than the one already held. */
export class SnapOutOfDateError extends Error {
  override name = 'SnapOutOfDateError';
  constructor() {
    super('raft: requested index is older than the existing snapshot');
  }
}

/** The application cannot produce a snapshot right now; the leader will try again later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  override name = 'SnapshotTemporarilyUnavailableError';
  constructor() {
    super('raft: snapshot is temporarily unavailable');
  }
}

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /** Entries in [lo, hi), at most maxSize bytes but at least one entry when lo < hi. */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of the entry at index i, for i in [firstIndex()-1, lastIndex()]. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}
