// etcd 3.4's lessor (lease/lessor.go). Two halves:
// - replicated state, changed only by applied entries: which leases exist, their granted TTL
//   (raised to the minimum TTL), checkpointed remaining TTLs, and which keys are attached;
// - leader-local timing: expiry instants exist only on the primary (the leader). A follower's
//   leases never expire; promote() gives every lease a full TTL from now (+ extend) so a new
//   leader never revokes a lease before its TTL has passed since the last keep-alive it could
//   have seen; demote() forgets expiries again. The clock is passed in; apply never reads it to
//   decide anything replicated.

import { invariant } from '../../common/assert.js';
import { Errors } from '../api/errors.js';
import type { LeaseAttachments } from './kv-store.js';
import type { LeaseLookup } from './kv-applier.js';
import type { LeaseRecord } from './records.js';

/** etcd's MaxLeaseTTL (seconds). */
export const MAX_LEASE_TTL = 9_000_000_000;
/** etcd's leaseRevokeRate: expired leases revoked per second at most. */
export const LEASE_REVOKE_RATE = 1000;
const FOREVER = Number.POSITIVE_INFINITY;
const MAX_INT64_SECONDS = 9223372036; // time.Duration(math.MaxInt64).Seconds(), truncated

/** etcd's minimum lease TTL: ceil(((3 * electionTicks) / 2) * heartbeat) in seconds. */
export function minLeaseTTLSeconds(electionTicks: number, heartbeatMs: number): number {
  return Math.ceil((Math.trunc((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

export class Lease {
  remainingTTL = 0;
  /** Leader-local expiry instant (ms); +Infinity when not primary. */
  expiry = FOREVER;
  readonly keys = new Set<string>();
  constructor(
    readonly id: bigint,
    public ttl: number,
  ) {}

  /** The TTL a refresh gives: the checkpointed remainder if any, else the granted TTL. */
  remainingTTLSeconds(): number {
    return this.remainingTTL > 0 ? this.remainingTTL : this.ttl;
  }
}

export type RenewResult =
  /** `resetCheckpoint`: the lease carries a checkpointed remaining TTL; etcd then proposes a
   *  leaseCheckpoint { ID, remainingTTL: 0 } (the renewal itself already counts the full TTL). */
  | { kind: 'renewed'; ttl: number; resetCheckpoint: boolean }
  | { kind: 'notFound' }
  | { kind: 'notPrimary' }
  /** Expired and waiting to be revoked: etcd blocks until the revoke applies (then notFound)
   *  or leadership is lost (then notPrimary); see whenGone(). */
  | { kind: 'expired' };

export interface TimeToLive {
  ID: bigint;
  TTL: number;
  grantedTTL: number;
  keys: Buffer[];
}

export interface LessorOptions {
  /** Minimum TTL in seconds (etcd default: 2, from 100 ms heartbeats and 1 s elections). */
  minTTL?: number;
  /** The leader's clock, in ms. */
  now?: () => number;
  /** How long before an expired lease still not revoked is reported again (etcd: 3 s). */
  expiredRetryMs?: number;
}

/** A min-heap of (lease, instant) with update in place (etcd's LeaseQueue). */
class ExpiryHeap {
  private ids: bigint[] = [];
  private times: number[] = [];
  private pos = new Map<bigint, number>();

  get size(): number {
    return this.ids.length;
  }
  peek(): { id: bigint; time: number } | undefined {
    return this.ids.length === 0 ? undefined : { id: this.ids[0] as bigint, time: this.times[0] as number };
  }
  set(id: bigint, time: number): void {
    const i = this.pos.get(id);
    if (i === undefined) {
      this.ids.push(id);
      this.times.push(time);
      this.pos.set(id, this.ids.length - 1);
      this.up(this.ids.length - 1);
      return;
    }
    const old = this.times[i] as number;
    this.times[i] = time;
    if (time < old) this.up(i);
    else this.down(i);
  }
  remove(id: bigint): void {
    const i = this.pos.get(id);
    if (i === undefined) return;
    const last = this.ids.length - 1;
    this.swap(i, last);
    this.ids.pop();
    this.times.pop();
    this.pos.delete(id);
    if (i < this.ids.length) {
      this.up(i);
      this.down(i);
    }
  }
  clear(): void {
    this.ids = [];
    this.times = [];
    this.pos.clear();
  }
  private swap(a: number, b: number): void {
    const ia = this.ids[a] as bigint;
    const ib = this.ids[b] as bigint;
    this.ids[a] = ib;
    this.ids[b] = ia;
    const t = this.times[a] as number;
    this.times[a] = this.times[b] as number;
    this.times[b] = t;
    this.pos.set(ib, a);
    this.pos.set(ia, b);
  }
  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.times[p] as number) <= (this.times[i] as number)) break;
      this.swap(i, p);
      i = p;
    }
  }
  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.ids.length && (this.times[l] as number) < (this.times[m] as number)) m = l;
      if (r < this.ids.length && (this.times[r] as number) < (this.times[m] as number)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

export class Lessor implements LeaseAttachments, LeaseLookup {
  readonly minTTL: number;
  private readonly now: () => number;
  private readonly retryMs: number;
  private readonly leaseMap = new Map<bigint, Lease>();
  private readonly itemMap = new Map<string, bigint>();
  private readonly heap = new ExpiryHeap();
  private primary = false;
  private waiters = new Map<bigint, Array<(why: 'revoked' | 'demoted') => void>>();

  constructor(opts: LessorOptions = {}) {
    this.minTTL = opts.minTTL ?? 2;
    this.now = opts.now ?? Date.now;
    this.retryMs = opts.expiredRetryMs ?? 3000;
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  get size(): number {
    return this.leaseMap.size;
  }

  lookup(id: bigint): Lease | undefined {
    return this.leaseMap.get(id);
  }

  exists(id: bigint): boolean {
    return this.leaseMap.has(id);
  }

  // ---- replicated state (apply) ----

  /** etcd's Grant; throws leaseNotFound for ID 0, leaseTTLTooLarge, leaseExist. */
  grant(id: bigint, ttl: number): Lease {
    if (id === 0n) throw Errors.leaseNotFound();
    if (ttl > MAX_LEASE_TTL) throw Errors.leaseTTLTooLarge();
    if (this.leaseMap.has(id)) throw Errors.leaseExist();
    const l = new Lease(id, Math.max(ttl, this.minTTL));
    this.leaseMap.set(id, l);
    if (this.primary) this.refresh(l, 0);
    return l;
  }

  /** The keys to delete for a revoke, in byte order (the same order on every replica). */
  keysOf(id: bigint): string[] {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw Errors.leaseNotFound();
    return [...l.keys].sort();
  }

  /** Forgets a revoked lease (after its keys were deleted). */
  remove(id: bigint): void {
    const l = this.leaseMap.get(id);
    invariant(l !== undefined, 'removing an unknown lease');
    for (const k of l.keys) this.itemMap.delete(k);
    this.leaseMap.delete(id);
    this.heap.remove(id);
    this.wake(id, 'revoked');
  }

  /** etcd's Checkpoint: records the remaining TTL; unknown leases are ignored. */
  checkpoint(id: bigint, remainingTTL: number): Lease | undefined {
    const l = this.leaseMap.get(id);
    if (l !== undefined) l.remainingTTL = remainingTTL;
    return l;
  }

  getLease(keyStr: string): bigint {
    return this.itemMap.get(keyStr) ?? 0n;
  }

  attach(id: bigint, keyStr: string): void {
    const l = this.leaseMap.get(id);
    if (l === undefined) return; // etcd logs and carries on (a restored key whose lease is gone)
    l.keys.add(keyStr);
    this.itemMap.set(keyStr, id);
  }

  detach(id: bigint, keyStr: string): void {
    const l = this.leaseMap.get(id);
    if (l === undefined) return;
    l.keys.delete(keyStr);
    this.itemMap.delete(keyStr);
  }

  /** Re-creates a lease read from disk (expiry unknown until promotion, as etcd). */
  restore(r: LeaseRecord): void {
    const l = new Lease(r.id, Math.max(r.ttl, this.minTTL));
    l.remainingTTL = r.remainingTTL;
    this.leaseMap.set(r.id, l);
    if (this.primary) this.refresh(l, 0);
  }

  record(l: Lease): LeaseRecord {
    return { id: l.id, ttl: l.ttl, remainingTTL: l.remainingTTL };
  }

  /** Forgets every lease (a snapshot restore); waiters are told the leases are gone. */
  clear(): void {
    for (const id of this.leaseMap.keys()) this.wake(id, 'revoked');
    this.leaseMap.clear();
    this.itemMap.clear();
    this.heap.clear();
  }

  // ---- leader-local timing ----

  private refresh(l: Lease, extendMs: number, fullTTL = false): void {
    l.expiry = this.now() + extendMs + (fullTTL ? l.ttl : l.remainingTTLSeconds()) * 1000;
    this.heap.set(l.id, l.expiry);
  }

  /** Becoming leader: every lease gets its full TTL from now (+ extendMs), spread out like etcd
   *  when so many expire together that revoking them would exceed the revoke rate. */
  promote(extendMs: number): void {
    this.primary = true;
    for (const l of this.leaseMap.values()) this.refresh(l, extendMs);
    if (this.leaseMap.size < LEASE_REVOKE_RATE) return;
    const leases = [...this.leaseMap.values()].sort((a, b) => a.expiry - b.expiry || (a.id < b.id ? -1 : 1));
    let baseWindow = (leases[0] as Lease).remainingTTLSeconds();
    let nextWindow = baseWindow + 1;
    let expires = 0;
    const target = Math.trunc((3 * LEASE_REVOKE_RATE) / 4);
    for (const l of leases) {
      const remaining = l.remainingTTLSeconds();
      if (remaining > nextWindow) {
        baseWindow = remaining;
        nextWindow = baseWindow + 1;
        expires = 1;
        continue;
      }
      expires++;
      if (expires <= target) continue;
      // etcd subtracts the window offset in nanoseconds (sic); kept for the same schedule.
      const delayMs = Math.trunc(1e9 * (expires / target) - (remaining - baseWindow)) / 1e6;
      nextWindow = baseWindow + Math.trunc(delayMs / 1000) + 1;
      this.refresh(l, delayMs + extendMs);
    }
  }

  /** Losing leadership: no lease expires here any more. */
  demote(): void {
    this.primary = false;
    for (const l of this.leaseMap.values()) l.expiry = FOREVER;
    this.heap.clear();
    const waiting = [...this.waiters.keys()];
    for (const id of waiting) this.wake(id, 'demoted');
  }

  /** etcd's Renew (a keep-alive, served by the leader without the log). */
  renew(id: bigint): RenewResult {
    if (!this.primary) return { kind: 'notPrimary' };
    const l = this.leaseMap.get(id);
    if (l === undefined) return { kind: 'notFound' };
    if (l.expiry <= this.now()) return { kind: 'expired' };
    this.refresh(l, 0, true);
    return { kind: 'renewed', ttl: l.ttl, resetCheckpoint: l.remainingTTL > 0 };
  }

  /** Resolves once the lease is revoked (or the lessor is demoted); for expired renewals. */
  whenGone(id: bigint): Promise<'revoked' | 'demoted'> {
    if (!this.leaseMap.has(id)) return Promise.resolve('revoked');
    if (!this.primary) return Promise.resolve('demoted');
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  private wake(id: bigint, why: 'revoked' | 'demoted'): void {
    const list = this.waiters.get(id);
    if (list === undefined) return;
    this.waiters.delete(id);
    for (const w of list) w(why);
  }

  /**
   * Expired leases for the leader to propose revokes for (at most `limit`; etcd checks every
   * 500 ms with limit leaseRevokeRate / 2). A lease reported here is reported again only after
   * the retry interval if its revoke has not applied by then.
   */
  expired(limit = LEASE_REVOKE_RATE / 2): bigint[] {
    const out: bigint[] = [];
    if (!this.primary) return out;
    const now = this.now();
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.time > now) break;
      const l = this.leaseMap.get(top.id);
      if (l === undefined) {
        this.heap.remove(top.id);
        continue;
      }
      this.heap.set(top.id, now + this.retryMs);
      if (l.expiry <= now) {
        out.push(l.id);
        if (out.length === limit) break;
      }
    }
    return out;
  }

  /** etcd's LeaseTimeToLive on the leader; throws leaseNotFound. */
  timeToLive(id: bigint, withKeys: boolean): TimeToLive {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw Errors.leaseNotFound();
    const ttl = l.expiry === FOREVER ? MAX_INT64_SECONDS : Math.trunc((l.expiry - this.now()) / 1000);
    const keys = withKeys ? [...l.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [];
    return { ID: id, TTL: ttl, grantedTTL: l.ttl, keys };
  }

  /** All lease IDs, soonest expiry first (etcd's Leases). */
  leases(): bigint[] {
    return [...this.leaseMap.values()]
      .sort((a, b) => (a.expiry === b.expiry ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.expiry < b.expiry ? -1 : 1))
      .map((l) => l.id);
  }
}
