// The set of operations linearized so far on one search path, as a bitset with an incremental
// Zobrist hash, plus the memo of (set, model state) configurations already explored (Lowe's
// optimisation of the Wing–Gong search, as in Porcupine's cache).
//
// Two regions of ids. Determinate operations (ids [0, determinate)) are numbered in invocation
// order and must be linearized before they return, so on a search path their set is nearly
// always "every op below some id, plus a few in a window of concurrent ones": a snapshot stores
// only the words from the first non-full word to the last non-empty one. Operations of unknown
// outcome (ids from `optionalBase`, a word boundary) may stay unlinearized to the end; they are
// few, so their words are always stored whole. Memory grows with concurrency and with the number
// of indeterminate operations, not with history length.

import { invariant } from '../../common/assert.js';
import { Prng } from '../../common/prng.js';

export class OpSet {
  readonly words: Uint32Array;
  /** First word of the optional region. */
  readonly optionalBase: number;
  /** Two independent 32-bit Zobrist hashes of the set. */
  h1 = 0;
  h2 = 0;
  /** Every determinate word below `low` is full. */
  low = 0;
  /** Every determinate word at or above `high` is empty (high ≤ optionalBase word). */
  high = 0;
  private readonly z1: Int32Array;
  private readonly z2: Int32Array;
  private readonly lastMask: number;
  private readonly detWords: number;

  constructor(
    readonly determinate: number,
    readonly optional: number,
  ) {
    invariant(Number.isSafeInteger(determinate) && determinate >= 0 && Number.isSafeInteger(optional) && optional >= 0, 'OpSet: bad size');
    this.detWords = Math.ceil(determinate / 32);
    this.optionalBase = this.detWords * 32;
    const size = this.optionalBase + optional;
    this.words = new Uint32Array(Math.ceil(size / 32));
    this.z1 = new Int32Array(size);
    this.z2 = new Int32Array(size);
    // Fixed seed: hashes (and so the memo's layout) replay exactly.
    const prng = new Prng(0x6a09e667);
    for (let i = 0; i < size; i++) {
      this.z1[i] = prng.u32() | 0;
      this.z2[i] = prng.u32() | 0;
    }
    const rem = determinate % 32;
    this.lastMask = rem === 0 ? 0xffffffff : ((1 << rem) >>> 0) - 1;
  }

  /** The id of the k-th optional operation. */
  optionalId(k: number): number {
    return this.optionalBase + k;
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5] as number) & (1 << (i & 31))) !== 0;
  }

  add(i: number): void {
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const cur = this.words[w] as number;
    invariant((cur & bit) === 0, () => `OpSet.add: ${i} already present`);
    this.words[w] = (cur | bit) >>> 0;
    this.h1 ^= this.z1[i] as number;
    this.h2 ^= this.z2[i] as number;
    if (w >= this.detWords) return;
    if (w + 1 > this.high) this.high = w + 1;
    while (this.low < this.detWords && this.words[this.low] === this.fullMask(this.low)) this.low++;
  }

  delete(i: number): void {
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const cur = this.words[w] as number;
    invariant((cur & bit) !== 0, () => `OpSet.delete: ${i} absent`);
    this.words[w] = (cur & ~bit) >>> 0;
    this.h1 ^= this.z1[i] as number;
    this.h2 ^= this.z2[i] as number;
    if (w >= this.detWords) return;
    if (w < this.low) this.low = w;
    while (this.high > 0 && this.words[this.high - 1] === 0) this.high--;
  }

  /** Number of words a snapshot holds: the determinate window, then the optional region. */
  snapshotLength(): number {
    return Math.max(0, this.high - this.low) + (this.words.length - this.detWords);
  }

  /** The k-th word of the snapshot (see snapshotLength). */
  snapshotWord(k: number): number {
    const a = Math.max(0, this.high - this.low);
    return (k < a ? this.words[this.low + k] : this.words[this.detWords + k - a]) as number;
  }

  private fullMask(w: number): number {
    return w === this.detWords - 1 ? this.lastMask : 0xffffffff;
  }
}

export class ConfigurationMemo {
  size = 0;
  private mask: number;
  private h1: Int32Array;
  private h2: Int32Array;
  private state: Int32Array; // interned state + 1; 0 marks an empty slot
  private low: Int32Array;
  private off: Int32Array;
  private len: Int32Array;
  private arena = new Uint32Array(1 << 16);
  private used = 0;

  constructor(initialCapacity = 1 << 12) {
    const cap = 1 << Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.mask = cap - 1;
    this.h1 = new Int32Array(cap);
    this.h2 = new Int32Array(cap);
    this.state = new Int32Array(cap);
    this.low = new Int32Array(cap);
    this.off = new Int32Array(cap);
    this.len = new Int32Array(cap);
  }

  /** Records the configuration; false when it was already there (the path can be pruned). */
  add(set: OpSet, state: number): boolean {
    invariant(state >= 0 && state < 0x7fffffff, 'ConfigurationMemo: state id out of range');
    const st = state + 1;
    const a = set.h1;
    const b = set.h2;
    const low = set.low;
    const n = set.snapshotLength();
    let i = (a ^ Math.imul(st, 0x9e3779b1)) & this.mask;
    for (;;) {
      const s = this.state[i] as number;
      if (s === 0) break;
      // Hash equality is only a hint; the sets themselves decide (no false pruning, ever).
      if (s === st && this.h1[i] === a && this.h2[i] === b && this.low[i] === low && this.len[i] === n && this.sameWords(set, i, n)) {
        return false;
      }
      i = (i + 1) & this.mask;
    }
    if (this.used + n > this.arena.length) {
      const grown = new Uint32Array(Math.max(this.arena.length * 2, this.used + n));
      grown.set(this.arena.subarray(0, this.used));
      this.arena = grown;
    }
    for (let k = 0; k < n; k++) this.arena[this.used + k] = set.snapshotWord(k);
    this.state[i] = st;
    this.h1[i] = a;
    this.h2[i] = b;
    this.low[i] = low;
    this.off[i] = this.used;
    this.len[i] = n;
    this.used += n;
    this.size++;
    if (this.size * 2 > this.mask) this.grow();
    return true;
  }

  private sameWords(set: OpSet, i: number, n: number): boolean {
    const off = this.off[i] as number;
    for (let k = 0; k < n; k++) if (this.arena[off + k] !== set.snapshotWord(k)) return false;
    return true;
  }

  private grow(): void {
    const old = { h1: this.h1, h2: this.h2, state: this.state, low: this.low, off: this.off, len: this.len };
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.h1 = new Int32Array(cap);
    this.h2 = new Int32Array(cap);
    this.state = new Int32Array(cap);
    this.low = new Int32Array(cap);
    this.off = new Int32Array(cap);
    this.len = new Int32Array(cap);
    for (let j = 0; j < old.state.length; j++) {
      const st = old.state[j] as number;
      if (st === 0) continue;
      let i = ((old.h1[j] as number) ^ Math.imul(st, 0x9e3779b1)) & this.mask;
      while (this.state[i] !== 0) i = (i + 1) & this.mask;
      this.state[i] = st;
      this.h1[i] = old.h1[j] as number;
      this.h2[i] = old.h2[j] as number;
      this.low[i] = old.low[j] as number;
      this.off[i] = old.off[j] as number;
      this.len[i] = old.len[j] as number;
    }
  }
}
