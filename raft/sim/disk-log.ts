// A simulated node's disk: the persisted Raft log (a MemoryStorage, which the core reads as its
// stable storage) plus the prefix hash of every persisted entry, for the checker. It survives
// crashes; everything else of a node does not.

import { invariant } from '../../common/assert.js';
import { MemoryStorage } from '../core/memory-storage.js';
import { RaftNode } from '../core/raft-node.js';
import type { ConfState, Entry, NodeId, Snapshot } from '../core/types.js';
import { chainHash, hashBytes } from './hash.js';

export class DiskLog {
  readonly storage = new MemoryStorage();
  /** ph[k] is the prefix hash at index phOffset + k. */
  private phOffset = 0;
  private ph: number[] = [0];

  /** Prefix hash at i, if i is in [snapshot index, last index]. */
  phAt(i: number): number | undefined {
    if (i < this.phOffset) return undefined;
    return this.ph[i - this.phOffset];
  }

  /** Writes a new member's bootstrap entries (as RaftNode.bootstrap does on a real disk). */
  bootstrap(ids: NodeId[], onEntry: (e: Entry, ph: number) => void): void {
    const scratch = new MemoryStorage();
    RaftNode.bootstrap(scratch, ids.map((id) => ({ id })));
    this.append(scratch.entries(1, scratch.lastIndex() + 1, Infinity), onEntry);
    this.storage.setHardState(scratch.getHardState());
  }

  /** Persists entries (truncating a conflicting suffix); calls back with each one's prefix hash. */
  append(entries: readonly Entry[], onEntry: (e: Entry, ph: number) => void): void {
    if (entries.length === 0) return;
    const first = this.storage.firstIndex();
    const ents = entries.filter((e) => e.index >= first);
    if (ents.length === 0) return;
    this.storage.append(ents);
    const start = (ents[0] as Entry).index;
    invariant(start - 1 >= this.phOffset && start - 1 - this.phOffset < this.ph.length, 'disk log: gap before appended entries');
    this.ph.length = start - this.phOffset;
    let h = this.ph[start - 1 - this.phOffset] as number;
    for (const e of ents) {
      h = chainHash(h, e.term, hashBytes(e.data));
      this.ph.push(h);
      onEntry(e, h);
    }
  }

  applySnapshot(snap: Snapshot, ph: number): void {
    this.storage.applySnapshot(snap);
    this.phOffset = snap.metadata.index;
    this.ph = [ph];
  }

  createSnapshot(index: number, cs: ConfState, data: Uint8Array): void {
    this.storage.createSnapshot(index, cs, data);
  }

  compact(index: number): void {
    if (index <= this.storage.firstIndex() - 1 || index > this.storage.lastIndex()) return;
    this.storage.compact(index);
    this.ph = this.ph.slice(index - this.phOffset);
    this.phOffset = index;
  }
}
