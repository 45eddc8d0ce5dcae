// A latency histogram in the spirit of HdrHistogram: fixed memory, every sample counted, under
// 1% relative error. Each power of two of microseconds is cut into SUB equal buckets, and a
// value's bucket is read off its float64 bits (exponent, then the top mantissa bits), not with a
// logarithm: a fan-out run records millions of samples per load generator, and Math.log was the
// biggest single item of the generator's own CPU after the scan of the events. One histogram
// covers 1 µs to ~100 s in under 3,500 buckets whatever the number of samples. Workers ship
// theirs to the coordinator as sparse [bucket, count] pairs, where they are merged.

import { invariant } from '../common/assert.js';

/** Buckets per power of two: 2^SUB_BITS. A bucket is 1/128 of its octave wide (< 0.8% of a value). */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Values above ~100 s land in the last bucket (a benchmark op that slow is already a failure). */
const MAX_US = 100_000_000;
const BUCKETS = (Math.floor(Math.log2(MAX_US)) + 1) * SUB;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the high word of a float64 in u32 (the platform's byte order). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** The wire form: non-empty buckets, plus exact count, sum, min and max. */
export interface HistogramSnapshot {
  buckets: [index: number, count: number][];
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

/** The bucket of `us`: its binary exponent times SUB plus the top SUB_BITS bits of its mantissa. */
export function bucketOf(us: number): number {
  if (!(us >= 1)) return 0;
  f64[0] = us;
  const hi = u32[HI]!;
  const i = (((hi >>> 20) - 1023) << SUB_BITS) | ((hi >>> (20 - SUB_BITS)) & (SUB - 1));
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The middle of bucket i: the value reported for samples in it. */
export function bucketValue(i: number): number {
  return 2 ** (i >> SUB_BITS) * (1 + ((i & (SUB - 1)) + 0.5) / SUB);
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;

  get count(): number {
    return this.n;
  }

  recordUs(us: number): void {
    invariant(Number.isFinite(us), () => `histogram: latency must be finite, got ${us}`);
    const v = us < 0 ? 0 : us; // clocks are monotonic; a negative value can only be rounding
    this.counts[bucketOf(v)]! += 1;
    this.n++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  recordNs(ns: number): void {
    this.recordUs(ns / 1000);
  }

  merge(s: HistogramSnapshot): void {
    for (const [i, c] of s.buckets) {
      invariant(Number.isInteger(i) && i >= 0 && i < BUCKETS && c >= 0, () => `histogram: bad bucket ${i}:${c}`);
      this.counts[i]! += c;
    }
    this.n += s.count;
    this.sum += s.sumUs;
    if (s.count > 0) {
      this.min = Math.min(this.min, s.minUs);
      this.max = Math.max(this.max, s.maxUs);
    }
  }

  snapshot(): HistogramSnapshot {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { buckets, count: this.n, sumUs: this.sum, minUs: this.n > 0 ? this.min : 0, maxUs: this.max };
  }

  /** The latency at quantile q (0..1) in µs; 0 when empty. Clamped to the exact min and max. */
  quantileUs(q: number): number {
    invariant(q >= 0 && q <= 1, () => `histogram: quantile must be in [0, 1], got ${q}`);
    if (this.n === 0) return 0;
    if (q === 0) return this.min;
    if (q === 1) return this.max;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, bucketValue(i)));
    }
    return this.max;
  }

  meanUs(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }
}
