// Events expire (kube-apiserver's --event-ttl, default 1 h): each Event is written with an etcd
// lease, so the store itself removes it. Like kube-apiserver's lease manager, one lease is shared
// by all events written within a reuse window, with its TTL lengthened by that window so no event
// lives shorter than the configured TTL. That bounds the number of leases to one per window.

import type { KV } from '../store/kv.js';

export class EventLeases {
  private current: { id: bigint; grantedAt: number } | undefined;
  private pending: Promise<bigint> | undefined;

  constructor(
    private readonly kv: KV,
    private readonly ttlSeconds: number,
    private readonly reuseSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(ttlSeconds > 0) || !(reuseSeconds >= 0)) throw new RangeError(`invalid event TTL ${ttlSeconds}s / reuse ${reuseSeconds}s`);
  }

  /** A lease that keeps a key at least `ttlSeconds` from now. */
  async lease(): Promise<bigint> {
    const c = this.current;
    if (c !== undefined && this.now() - c.grantedAt < this.reuseSeconds * 1000) return c.id;
    this.pending ??= (async () => {
      try {
        const grantedAt = this.now();
        const res = await this.kv.leaseGrant({ TTL: this.ttlSeconds + this.reuseSeconds });
        this.current = { id: res.ID, grantedAt };
        return res.ID;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}
