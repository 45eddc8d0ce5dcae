// A latency histogram in the spirit of HdrHistogram: fixed memory, every sample counted, about
// 1% relative precision. Bucket i holds values in [GROWTH^i, GROWTH^(i+1)) microseconds, so one
// histogram covers 1 µs to ~100 s in under 2000 buckets whatever the number of samples. Workers
// ship theirs to the coordinator as sparse [bucket, count] pairs, where they are merged.

import { invariant } from '../common/assert.js';

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Values above ~100 s land in the last bucket (a benchmark op that slow is already a failure). */
const MAX_US = 100_000_000;
const BUCKETS = Math.ceil(Math.log(MAX_US) / LOG_GROWTH) + 1;

/** The wire form: non-empty buckets, plus exact count, sum, min and max. */
export interface HistogramSnapshot {
  buckets: [index: number, count: number][];
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

function bucketOf(us: number): number {
  if (!(us > 1)) return 0;
  const i = Math.floor(Math.log(us) / LOG_GROWTH);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The geometric middle of bucket i: the value reported for samples in it. */
function bucketValue(i: number): number {
  return Math.pow(GROWTH, i + 0.5);
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
