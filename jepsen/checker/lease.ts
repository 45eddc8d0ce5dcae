// The lease checker. Two promises of etcd leases:
//  - safety: keys attached to a lease that is being kept alive never vanish. A keep-alive (or
//    the grant) that succeeded was processed somewhere in [call, end] and pushed the expiry to
//    at least call + TTL, so a read that runs entirely within [end, call + TTL) of some
//    successful renewal must see the key (unless someone revoked the lease or touched the key).
//    A keep-alive answering "no such lease" inside such a window is a lost lease.
//  - liveness made checkable: a revoked lease's keys are gone for reads invoked after the
//    revoke completed, and an expired lease's keys are gone for reads invoked well after the
//    last renewal attempt (TTL + a grace period). A leader change legitimately extends leases
//    (etcd refreshes them on promotion), so the expiry clock restarts when a fault ends: pass
//    the run's fault periods. It also restarts after an outage the history shows (no lease write
//    succeeded for outageGapMs): an expiry is a revoke through Raft, which cannot happen while
//    nothing commits, and the cluster may stay unavailable well after the nemesis healed it. A
//    lease renewed, or a key put under it, after it was revoked or had expired is resurrected.
//
// Operations as the lease workload records them (lease ids as decimal strings):
//   lease-grant      invoke {ttl} (seconds)          ok result {lease, ttl}
//   lease-keepalive  invoke {lease}                  ok result {ttl} (ttl ≤ 0: no such lease)
//   lease-revoke     invoke {lease}                  ok / fail / info
//   lease-put        key, invoke {value, lease?}     ok
//   lease-delete     key                             ok
//   lease-read       key, invoke {prefix?}           ok result {kvs: [{key, value, lease?}]}

import type { FaultPeriod, Operation } from '../history.js';
import { isJsonObject, type Json } from '../json.js';

export type LeaseAnomalyType = 'key-vanished' | 'lease-lost' | 'revoked-key-visible' | 'expired-key-visible' | 'lease-resurrected';

export interface LeaseAnomaly {
  type: LeaseAnomalyType;
  lease: string;
  key?: string;
  /** History indexes of the operations involved (the offending one last). */
  ops: number[];
  /** When the offending operation was invoked. */
  time: number;
  message: string;
}

export interface LeaseOptions {
  /** Slack subtracted from a renewal's guaranteed window (clock granularity). Default 0. */
  marginMs?: number;
  /** How long past TTL after the last renewal attempt a lease must be gone. Default 5000. */
  expiryGraceMs?: number;
  /** Fault periods of the run: the expiry clock restarts when one ends. */
  faults?: readonly FaultPeriod[];
  /** A gap this long between successful lease writes counts as an outage, like a fault. Default 1000. */
  outageGapMs?: number;
  /** Bound on anomalies reported (the count stays exact). Default 50. */
  maxReported?: number;
}

export interface LeaseResult {
  checker: 'lease';
  valid: boolean;
  leases: number;
  keys: number;
  readsChecked: number;
  anomalyCount: number;
  anomalies: LeaseAnomaly[];
}

interface Lease {
  id: string;
  ttlMs: number;
  grant: Operation;
  /** Successful grant/keep-alives (ttl > 0), by call time. */
  renewals: Operation[];
  /** Grant/keep-alives that may have renewed it (ok with ttl > 0, or unknown outcome). */
  attempts: Operation[];
  /** Revokes that may have happened (not 'fail'). */
  revokes: Operation[];
  keepalives: Operation[];
  puts: Operation[];
}

const leaseOf = (v: Json): string | undefined => {
  if (!isJsonObject(v)) return undefined;
  const l = v.lease;
  return typeof l === 'string' ? l : typeof l === 'number' ? String(l) : undefined;
};
const ttlOf = (op: Operation): number | undefined => (isJsonObject(op.result) && typeof op.result.ttl === 'number' ? op.result.ttl : undefined);

const LEASE_WRITES = new Set(['lease-grant', 'lease-put', 'lease-revoke', 'lease-delete']);

/** Periods in which no lease write succeeded for longer than `gapMs` (from one completion to the next). */
export function outages(ops: readonly Operation[], gapMs: number): FaultPeriod[] {
  const ends = ops.filter((op) => op.type === 'ok' && LEASE_WRITES.has(op.f) && Number.isFinite(op.end)).map((op) => op.end).sort((a, b) => a - b);
  const out: FaultPeriod[] = [];
  for (let i = 1; i < ends.length; i++) {
    const a = ends[i - 1] as number;
    const b = ends[i] as number;
    if (b - a > gapMs) out.push({ kind: 'outage', targets: [], start: a, end: b, startIndex: -1 });
  }
  return out;
}

export function checkLease(ops: readonly Operation[], o: LeaseOptions = {}): LeaseResult {
  const margin = o.marginMs ?? 0;
  const grace = o.expiryGraceMs ?? 5000;
  const faults: FaultPeriod[] = [...(o.faults ?? []), ...outages(ops, o.outageGapMs ?? 1000)];
  const anomalies: LeaseAnomaly[] = [];
  const reported = new Set<string>();
  let anomalyCount = 0;
  const add = (a: LeaseAnomaly, dedupe: string): void => {
    if (reported.has(dedupe)) return;
    reported.add(dedupe);
    anomalyCount++;
    anomalies.push(a);
  };

  const leases = new Map<string, Lease>();
  for (const op of ops) {
    if (op.f !== 'lease-grant' || op.type !== 'ok') continue;
    const id = leaseOf(op.result);
    if (id === undefined) continue;
    const ttl = ttlOf(op) ?? (isJsonObject(op.value) && typeof op.value.ttl === 'number' ? op.value.ttl : 0);
    leases.set(id, { id, ttlMs: ttl * 1000, grant: op, renewals: [op], attempts: [op], revokes: [], keepalives: [], puts: [] });
  }
  const writesByKey = new Map<string, Operation[]>();
  const reads: Operation[] = [];
  for (const op of ops) {
    if (op.type === 'fail' && op.f !== 'lease-keepalive') continue;
    if (op.f === 'lease-put' || op.f === 'lease-delete') {
      if (op.key === undefined) continue;
      const list = writesByKey.get(op.key);
      if (list === undefined) writesByKey.set(op.key, [op]);
      else list.push(op);
      const l = op.f === 'lease-put' ? leases.get(leaseOf(op.value) ?? '') : undefined;
      if (l !== undefined && op.type === 'ok') l.puts.push(op);
      continue;
    }
    if (op.f === 'lease-read') {
      if (op.type === 'ok' && op.key !== undefined && isJsonObject(op.result) && Array.isArray(op.result.kvs)) reads.push(op);
      continue;
    }
    const l = leases.get(leaseOf(op.value) ?? '');
    if (l === undefined) continue;
    if (op.f === 'lease-revoke') l.revokes.push(op);
    if (op.f === 'lease-keepalive') {
      l.keepalives.push(op);
      const ttl = ttlOf(op);
      if (op.type === 'ok' && ttl !== undefined && ttl > 0) {
        l.renewals.push(op);
        l.attempts.push(op);
      } else if (op.type === 'info') l.attempts.push(op);
    }
  }

  /** Some successful renewal (other than `except`) covers the whole of [from, to]. */
  const guaranteed = (l: Lease, from: number, to: number, except?: Operation): Operation | undefined =>
    l.renewals.find((r) => r !== except && r.end <= from && to < r.call + l.ttlMs - margin);
  /** A revoke that may have taken effect before `t`. */
  const revokedBefore = (l: Lease, t: number): Operation | undefined => l.revokes.find((v) => v.call < t);
  /** A revoke that surely took effect before `t`. */
  const surelyRevokedBefore = (l: Lease, t: number): Operation | undefined => l.revokes.find((v) => v.type === 'ok' && v.end < t);
  /**
   * When the lease is surely expired, judging at `t`: TTL + grace after the end of the last
   * attempt invoked before `t`, or of the last fault that ended after it (a fault still going
   * on at `t` means it cannot be judged: Infinity).
   */
  const expiredAfter = (l: Lease, t: number, except?: Operation): number => {
    let base = -Infinity;
    for (const a of l.attempts) if (a !== except && a.call < t) base = Math.max(base, a.end);
    for (const f of faults) {
      if (f.start >= t || f.end <= base) continue;
      base = f.end > t ? Infinity : Math.max(base, f.end);
    }
    return base + l.ttlMs + grace;
  };

  // Keep-alives: lost leases and resurrected ones.
  for (const l of leases.values()) {
    for (const k of l.keepalives) {
      const ttl = ttlOf(k);
      const notFound = (k.type === 'ok' && ttl !== undefined && ttl <= 0) || (k.type === 'fail' && /not found/i.test(k.error ?? ''));
      if (notFound && k.ret !== Infinity) {
        const r = guaranteed(l, k.call, k.end, k);
        if (r !== undefined && revokedBefore(l, k.end) === undefined) {
          add(
            { type: 'lease-lost', lease: l.id, ops: [r.index, k.index], time: k.call, message: `keep-alive ${k.index} found no lease ${l.id} although renewal ${r.index} keeps it alive until ${(r.call + l.ttlMs).toFixed(0)} ms` },
            `lost ${l.id}`,
          );
        }
      }
      if (k.type === 'ok' && ttl !== undefined && ttl > 0) resurrection(l, k, 'was renewed by keep-alive');
    }
    for (const p of l.puts) resurrection(l, p, `took a put of ${p.key ?? '?'}`);
  }
  function resurrection(l: Lease, op: Operation, what: string): void {
    const v = surelyRevokedBefore(l, op.call);
    if (v !== undefined) {
      add({ type: 'lease-resurrected', lease: l.id, ops: [v.index, op.index], time: op.call, message: `lease ${l.id} ${what} (op ${op.index}) after revoke ${v.index} completed` }, `res ${l.id}`);
      return;
    }
    if (op.f !== 'lease-keepalive') return;
    const dead = expiredAfter(l, op.call, op);
    if (op.call > dead) {
      add({ type: 'lease-resurrected', lease: l.id, ops: [op.index], time: op.call, message: `lease ${l.id} ${what} (op ${op.index}) at ${op.call.toFixed(0)} ms, after it must have expired (${dead.toFixed(0)} ms)` }, `res ${l.id}`);
    }
  }

  // Reads against every key put under a lease.
  let readsChecked = 0;
  const keys = new Set<string>();
  for (const l of leases.values()) {
    for (const p of l.puts) {
      const key = p.key as string;
      keys.add(key);
      const others = (writesByKey.get(key) ?? []).filter((w) => w !== p);
      for (const r of reads) {
        const rk = r.key as string;
        const prefix = isJsonObject(r.value) && r.value.prefix === true;
        if (!(rk === key || (prefix && key.startsWith(rk)))) continue;
        if (r.call < p.end) continue; // the put may not have happened yet
        if (others.some((w) => w.call < r.end)) continue; // someone else touched the key
        readsChecked++;
        const kvs = (isJsonObject(r.result) && Array.isArray(r.result.kvs) ? r.result.kvs : []) as Json[];
        const present = kvs.some((kv) => isJsonObject(kv) && kv.key === key);
        if (!present) {
          const g = guaranteed(l, r.call, r.end);
          if (g !== undefined && revokedBefore(l, r.end) === undefined) {
            add(
              {
                type: 'key-vanished',
                lease: l.id,
                key,
                ops: [p.index, g.index, r.index],
                time: r.call,
                message: `read ${r.index} at ${r.call.toFixed(0)} ms did not see ${key} (put ${p.index} under lease ${l.id}), which renewal ${g.index} keeps alive until ${(g.call + l.ttlMs).toFixed(0)} ms`,
              },
              `vanished ${l.id} ${key}`,
            );
          }
          continue;
        }
        const v = surelyRevokedBefore(l, r.call);
        if (v !== undefined) {
          add(
            { type: 'revoked-key-visible', lease: l.id, key, ops: [p.index, v.index, r.index], time: r.call, message: `read ${r.index} still saw ${key} after lease ${l.id} was revoked by op ${v.index}` },
            `revoked ${l.id} ${key}`,
          );
          continue;
        }
        const dead = expiredAfter(l, r.end);
        if (r.call > dead) {
          add(
            {
              type: 'expired-key-visible',
              lease: l.id,
              key,
              ops: [p.index, r.index],
              time: r.call,
              message: `read ${r.index} at ${r.call.toFixed(0)} ms still saw ${key}, but lease ${l.id} (TTL ${l.ttlMs / 1000} s) had no renewal attempt since and must have expired by ${dead.toFixed(0)} ms`,
            },
            `expired ${l.id} ${key}`,
          );
        }
      }
    }
  }

  anomalies.sort((a, b) => a.time - b.time);
  return {
    checker: 'lease',
    valid: anomalyCount === 0,
    leases: leases.size,
    keys: keys.size,
    readsChecked,
    anomalyCount,
    anomalies: anomalies.slice(0, o.maxReported ?? 50),
  };
}
