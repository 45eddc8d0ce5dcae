// An in-memory Storage: the log since the last snapshot plus that snapshot. The simulator uses
// it as a node's "disk"; the runtime keeps one as the in-memory mirror of what level holds.
//
// Layout: ents[0] is a dummy entry at the snapshot's (index, term), so term(snapshotIndex) is
// known; real entries follow. Invariant: ents[k].index === ents[0].index + k.

import { invariant } from '../../common/assert.js';
import {
  CompactedError,
  SnapOutOfDateError,
  UnavailableError,
  type InitialState,
  type Storage,
} from './storage.js';
import {
  EntryType,
  emptyHardState,
  limitSize,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './types.js';

export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }];

  initialState(): InitialState {
    return {
      hardState: { ...this.hardState },
      confState: cloneConfState(this.snap.metadata.confState),
    };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  getHardState(): HardState {
    return { ...this.hardState };
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    invariant(lo <= hi, () => `entries: lo ${lo} > hi ${hi}`);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new CompactedError(i);
    if (i - offset >= this.ents.length) throw new UnavailableError(i);
    return (this.ents[i - offset] as Entry).term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole content with a snapshot received from the leader (or loaded from disk). */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new SnapOutOfDateError();
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: EntryType.Normal, data: new Uint8Array(0) }];
  }

  /**
   * Records a snapshot the application took at `index` (<= the applied index). Entries stay until
   * `compact` is called, so slow followers can still be caught up from the log for a while.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapOutOfDateError();
    invariant(index <= this.lastIndex(), () => `createSnapshot: ${index} is beyond last index ${this.lastIndex()}`);
    const term = this.term(index);
    this.snap = { metadata: { index, term, confState: cloneConfState(confState) }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex`; the entry at compactIndex becomes the dummy. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new CompactedError(compactIndex);
    invariant(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - offset;
    const dummy = this.ents[i] as Entry;
    this.ents = [{ term: dummy.term, index: dummy.index, type: EntryType.Normal, data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries, truncating any existing suffix they conflict with. Entries before the
   * first index are ignored (already compacted).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = (entries[entries.length - 1] as Entry).index;
    if (last < first) return;
    let ents = entries as Entry[];
    if (first > (ents[0] as Entry).index) ents = ents.slice(first - (ents[0] as Entry).index);
    const offset = (ents[0] as Entry).index - this.offset();
    invariant(offset <= this.ents.length, () => `missing log entry [last: ${this.lastIndex()}, append at: ${(ents[0] as Entry).index}]`);
    if (offset < this.ents.length) this.ents = this.ents.slice(0, offset);
    for (const e of ents) this.ents.push(e);
  }
}

export function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
