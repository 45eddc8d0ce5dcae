// A small rotating set of keys: operations spread over `active` keys; a key that has had
// `maxUses` operations is retired and replaced by a fresh one. Bounding the operations per key
// keeps each key's linearizability search (or each list's length) small, as Jepsen's independent
// keys do, while enough operations share a key to collide.

import { invariant } from '../../common/assert.js';
import type { Prng } from '../../common/prng.js';

export class KeyPool {
  private readonly active: Array<{ key: string; uses: number }> = [];
  private readonly used: string[] = [];
  private nextId = 0;

  constructor(
    private readonly prefix: string,
    activeKeys: number,
    private readonly maxUses: number,
  ) {
    invariant(activeKeys >= 1 && maxUses >= 1, 'KeyPool: needs at least one key and one use');
    for (let i = 0; i < activeKeys; i++) this.active.push(this.fresh());
  }

  pick(prng: Prng): string {
    const i = prng.int(this.active.length);
    const slot = this.active[i] as { key: string; uses: number };
    slot.uses++;
    if (slot.uses >= this.maxUses) this.active[i] = this.fresh();
    return slot.key;
  }

  /** Every key ever handed out, in order. */
  all(): readonly string[] {
    return this.used;
  }

  private fresh(): { key: string; uses: number } {
    const key = `${this.prefix}${this.nextId++}`;
    this.used.push(key);
    return { key, uses: 0 };
  }
}
