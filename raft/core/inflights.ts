// A bounded ring of the last indexes of append messages sent to one follower and not yet
// acknowledged. When full, the leader stops sending to that follower (flow control).

import { invariant } from '../../common/assert.js';

export class Inflights {
  private start = 0;
  private count = 0;
  private readonly buffer: number[];

  constructor(readonly size: number) {
    invariant(size > 0, 'inflights size must be positive');
    this.buffer = new Array<number>(size).fill(0);
  }

  clone(): Inflights {
    const c = new Inflights(this.size);
    for (let i = 0; i < this.count; i++) c.add(this.buffer[(this.start + i) % this.size] as number);
    return c;
  }

  /** Records a message whose last entry is `index`; indexes must be added in increasing order. */
  add(index: number): void {
    invariant(!this.full(), 'cannot add into a full inflights');
    const next = (this.start + this.count) % this.size;
    this.buffer[next] = index;
    this.count++;
  }

  /** Frees every message whose last index is <= to (they are acknowledged). */
  freeLE(to: number): void {
    if (this.count === 0 || to < (this.buffer[this.start] as number)) return;
    let i = 0;
    let idx = this.start;
    for (; i < this.count; i++) {
      if (to < (this.buffer[idx] as number)) break;
      idx = (idx + 1) % this.size;
    }
    this.count -= i;
    this.start = idx;
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest slot (lets one more message out when acks were lost). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.buffer[this.start] as number);
  }

  full(): boolean {
    return this.count === this.size;
  }

  get length(): number {
    return this.count;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
  }
}
