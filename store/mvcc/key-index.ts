// The revisions of one key, exactly as etcd's keyIndex keeps them: a list of generations, each
// the revisions from a creation up to and including its tombstone; the last generation is the
// open one (empty after a delete). Compaction drops what no revision >= the compaction point can
// see. Revisions of a generation are stored flat ([main0, sub0, main1, sub1, ...]) to keep the
// per-key memory small.

import { invariant } from '../../common/assert.js';
import type { KeyValue } from '../api/types.js';
import { revGreater } from './revision.js';

export class Generation {
  /** Number of puts in this generation (the key's version at its last revision). */
  ver = 0;
  createdMain = 0;
  createdSub = 0;
  /** Flat (main, sub) pairs in increasing order. */
  revs: number[] = [];

  get length(): number {
    return this.revs.length >> 1;
  }
  isEmpty(): boolean {
    return this.revs.length === 0;
  }
  mainAt(i: number): number {
    return this.revs[2 * i] as number;
  }
  subAt(i: number): number {
    return this.revs[2 * i + 1] as number;
  }
  /** Index of the last revision whose main <= atRev, or -1 (etcd's walk with `rev.main > atRev`). */
  lastAtOrBefore(atRev: number): number {
    for (let i = this.length - 1; i >= 0; i--) if (this.mainAt(i) <= atRev) return i;
    return -1;
  }
}

export interface KeyGet {
  modMain: number;
  modSub: number;
  createdMain: number;
  createdSub: number;
  ver: number;
}

/** Receives each (main, sub) revision that compaction keeps or removes; `tombstone` tells
 * whether that revision is a deletion (its disk key carries the tombstone mark). */
export type RevisionSink = (main: number, sub: number, tombstone: boolean) => void;

export class KeyIndex {
  modMain = 0;
  modSub = 0;
  gens: Generation[] = [];
  /** The key's current value (what a read at the current revision sees); undefined if deleted. */
  latest: KeyValue | undefined = undefined;

  constructor(
    readonly key: Buffer,
    readonly keyStr: string,
  ) {}

  isEmpty(): boolean {
    return this.gens.length === 1 && (this.gens[0] as Generation).isEmpty();
  }

  put(main: number, sub: number): void {
    invariant(revGreater(main, sub, this.modMain, this.modSub), () =>
      `put with a smaller revision ${main}.${sub} <= ${this.modMain}.${this.modSub}`,
    );
    if (this.gens.length === 0) this.gens.push(new Generation());
    const g = this.gens[this.gens.length - 1] as Generation;
    if (g.isEmpty()) {
      g.createdMain = main;
      g.createdSub = sub;
    }
    g.revs.push(main, sub);
    g.ver++;
    this.modMain = main;
    this.modSub = sub;
  }

  /** Rebuilds a key from its first surviving record (etcd's restore on start-up). */
  restore(createdMain: number, createdSub: number, modMain: number, modSub: number, ver: number): void {
    invariant(this.gens.length === 0, 'restore on a non-empty keyIndex');
    const g = new Generation();
    g.createdMain = createdMain;
    g.createdSub = createdSub;
    g.ver = ver;
    g.revs.push(modMain, modSub);
    this.gens.push(g);
    this.modMain = modMain;
    this.modSub = modSub;
  }

  /** Returns false (etcd's ErrRevisionNotFound) when the key is already deleted. */
  tombstone(main: number, sub: number): boolean {
    invariant(!this.isEmpty(), 'tombstone on an empty keyIndex');
    if ((this.gens[this.gens.length - 1] as Generation).isEmpty()) return false;
    this.put(main, sub);
    this.gens.push(new Generation());
    return true;
  }

  /** The generation that holds `rev`, or undefined when the key does not exist at `rev`. */
  findGeneration(rev: number): Generation | undefined {
    const last = this.gens.length - 1;
    for (let cg = last; cg >= 0; cg--) {
      const g = this.gens[cg] as Generation;
      if (g.isEmpty()) continue;
      if (cg !== last && g.mainAt(g.length - 1) <= rev) return undefined; // deleted by then
      if (g.mainAt(0) <= rev) return g;
    }
    return undefined;
  }

  /** The revision visible at `atRev`, or undefined if the key does not exist then. */
  get(atRev: number): KeyGet | undefined {
    invariant(!this.isEmpty(), 'get on an empty keyIndex');
    const g = this.findGeneration(atRev);
    if (g === undefined || g.isEmpty()) return undefined;
    const n = g.lastAtOrBefore(atRev);
    if (n === -1) return undefined;
    return {
      modMain: g.mainAt(n),
      modSub: g.subAt(n),
      createdMain: g.createdMain,
      createdSub: g.createdSub,
      ver: g.ver - (g.length - n - 1),
    };
  }

  /** Revisions with main >= rev; for one main revision only the highest sub (etcd's since). */
  since(rev: number): number[] {
    invariant(!this.isEmpty(), 'since on an empty keyIndex');
    let gi = this.gens.length - 1;
    for (; gi > 0; gi--) {
      const g = this.gens[gi] as Generation;
      if (g.isEmpty()) continue;
      if (revGreater(rev, 0, g.createdMain, g.createdSub)) break;
    }
    const out: number[] = [];
    let last = 0;
    for (; gi < this.gens.length; gi++) {
      const g = this.gens[gi] as Generation;
      for (let i = 0; i < g.length; i++) {
        const m = g.mainAt(i);
        const s = g.subAt(i);
        if (revGreater(rev, 0, m, s)) continue;
        if (m === last) {
          out[out.length - 1] = s;
          continue;
        }
        out.push(m, s);
        last = m;
      }
    }
    return out;
  }

  /**
   * Compacts to `atRev`: removes revisions <= atRev except the one visible at atRev (unless it
   * is a tombstone). `removed` receives every revision dropped from the index, which is exactly
   * what must be deleted from disk.
   */
  compact(atRev: number, removed: RevisionSink): void {
    invariant(!this.isEmpty(), 'compact on an empty keyIndex');
    let [genIdx, revIndex] = this.doCompact(atRev);
    for (let gi = 0; gi < genIdx; gi++) emitAll(this.gens[gi] as Generation, removed);
    const g = this.gens[genIdx] as Generation;
    if (!g.isEmpty()) {
      if (revIndex !== -1) {
        for (let i = 0; i < revIndex; i++) removed(g.mainAt(i), g.subAt(i), false);
        g.revs = g.revs.slice(2 * revIndex);
      }
      // A generation reduced to its tombstone goes away entirely.
      if (g.length === 1 && genIdx !== this.gens.length - 1) {
        // etcd deletes from disk only revisions <= atRev.
        if (g.mainAt(0) <= atRev) removed(g.mainAt(0), g.subAt(0), true);
        genIdx++;
      }
    }
    if (genIdx > 0) this.gens = this.gens.slice(genIdx);
  }

  /** What compaction at atRev would keep for this key (etcd's keep, used by HashKV). */
  keep(atRev: number, kept: RevisionSink): void {
    if (this.isEmpty()) return;
    const [genIdx, revIndex] = this.doCompact(atRev);
    const g = this.gens[genIdx] as Generation;
    if (revIndex === -1) return;
    if (!g.isEmpty() && revIndex === g.length - 1 && genIdx !== this.gens.length - 1) return; // tombstone
    kept(g.mainAt(revIndex), g.subAt(revIndex), false);
  }

  private doCompact(atRev: number): [number, number] {
    let genIdx = 0;
    let g = this.gens[0] as Generation;
    // The first generation that includes atRev or was created after it.
    while (genIdx < this.gens.length - 1) {
      if (g.mainAt(g.length - 1) > atRev) break;
      genIdx++;
      g = this.gens[genIdx] as Generation;
    }
    return [genIdx, g.lastAtOrBefore(atRev)];
  }

  /** Every revision held, in order (flat pairs); for tests and invariant checks. */
  allRevisions(): number[] {
    const out: number[] = [];
    for (const g of this.gens) out.push(...g.revs);
    return out;
  }
}

/** All revisions of a closed generation (its last one is its tombstone). */
function emitAll(g: Generation, sink: RevisionSink): void {
  for (let i = 0; i < g.length; i++) sink(g.mainAt(i), g.subAt(i), i === g.length - 1);
}
