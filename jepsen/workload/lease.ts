// The lease workload: each lane grants short leases, puts keys under them, keeps some alive
// (a keep-alive every TTL/3), revokes some, abandons others (stops renewing: they must expire),
// and reads its keys back. The lease checker then holds etcd's two promises: keys under a lease
// that is being kept alive never vanish; keys of revoked or expired leases do.

import type { Prng } from '../../common/prng.js';
import type { RemoteKV } from '../../store/kv-remote.js';
import type { ClientLane, OpOutcome } from '../client/client-lane.js';
import { sleep } from '../run/sleep.js';
import { bytes, gapAfter, prefixEnd, type Workload, type WorkloadEnv } from './workload.js';

export const LEASE_PREFIX = 'l/';
/** Seconds; above etcd's minimum (1.5 × election timeout, rounded up: 2 s by default). */
const TTL = 3;
const MAX_LEASES_PER_LANE = 3;
const MAX_KEYS_PER_LEASE = 3;

interface HeldLease {
  id: bigint;
  ttl: number;
  keys: string[];
  nextKeepAlive: number;
}

export class LeaseWorkload implements Workload {
  readonly name = 'lease';
  private nextValue = 1;
  private nextKey = 1;

  constructor(
    private readonly lanes: number,
    private readonly memberOffset = 0,
  ) {}

  async run(env: WorkloadEnv, prng: Prng): Promise<void> {
    const runs: Promise<void>[] = [];
    for (let i = 0; i < this.lanes; i++) {
      const member = env.members[(this.memberOffset + i) % env.members.length] as string;
      const { lane, kv } = env.lane(member);
      runs.push(this.loop(env, lane, kv, prng.fork(), i));
    }
    await Promise.all(runs);
  }

  private async loop(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV, prng: Prng, laneNo: number): Promise<void> {
    const held: HeldLease[] = [];
    while (!env.stopping.aborted) {
      let out: OpOutcome | undefined;
      const now = performance.now();
      const due = held.find((l) => l.nextKeepAlive <= now);
      if (due !== undefined) {
        due.nextKeepAlive = now + (due.ttl * 1000) / 3;
        out = await this.keepAlive(lane, kv, due);
        const ttl = out.type === 'ok' ? (out.value as { ttl: number }).ttl : undefined;
        if (ttl !== undefined && ttl <= 0) held.splice(held.indexOf(due), 1); // gone
      } else {
        const r = prng.float();
        const some = held.length > 0 ? held[prng.int(held.length)] : undefined;
        if (r < 0.2 && held.length < MAX_LEASES_PER_LANE) {
          out = await this.grant(lane, kv);
          if (out.type === 'ok') {
            const granted = out.value as { lease: string; ttl: number };
            held.push({ id: BigInt(granted.lease), ttl: granted.ttl, keys: [], nextKeepAlive: performance.now() + (TTL * 1000) / 3 });
          }
        } else if (r < 0.45 && some !== undefined && some.keys.length < MAX_KEYS_PER_LEASE) {
          const key = `${LEASE_PREFIX}${laneNo}/${this.nextKey++}`;
          some.keys.push(key);
          out = await this.put(lane, kv, key, some.id);
        } else if (r < 0.8) {
          if (some !== undefined && some.keys.length > 0 && prng.chance(0.5)) out = await this.read(env, lane, kv, some.keys[prng.int(some.keys.length)] as string, false);
          else out = await this.read(env, lane, kv, LEASE_PREFIX, true);
        } else if (r < 0.88 && some !== undefined) {
          held.splice(held.indexOf(some), 1);
          out = await this.revoke(lane, kv, some.id);
        } else if (r < 0.94 && some !== undefined) {
          held.splice(held.indexOf(some), 1); // abandoned: no more keep-alives, it must expire
        }
      }
      await sleep(gapAfter(out, prng), env.stopping);
    }
  }

  private grant(lane: ClientLane, kv: RemoteKV): Promise<OpOutcome> {
    return lane.run({ f: 'lease-grant', value: { ttl: TTL }, readOnly: false }, async () => {
      const res = await kv.leaseGrant({ TTL });
      return { type: 'ok', value: { lease: res.ID.toString(), ttl: res.TTL } };
    });
  }

  private keepAlive(lane: ClientLane, kv: RemoteKV, l: HeldLease): Promise<OpOutcome> {
    return lane.run({ f: 'lease-keepalive', value: { lease: l.id.toString() }, readOnly: false }, async () => {
      const res = await kv.leaseKeepAliveOnce(l.id);
      return { type: 'ok', value: { ttl: res.TTL } };
    });
  }

  private revoke(lane: ClientLane, kv: RemoteKV, id: bigint): Promise<OpOutcome> {
    return lane.run({ f: 'lease-revoke', value: { lease: id.toString() }, readOnly: false }, async () => {
      await kv.leaseRevoke(id);
      return { type: 'ok', value: null };
    });
  }

  private put(lane: ClientLane, kv: RemoteKV, key: string, lease: bigint): Promise<OpOutcome> {
    const value = `v${this.nextValue++}`;
    return lane.run({ f: 'lease-put', key, value: { value, lease: lease.toString() }, readOnly: false }, async () => {
      await kv.put({ key: bytes(key), value: bytes(value), lease });
      return { type: 'ok', value: null };
    });
  }

  private read(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV, key: string, prefix: boolean): Promise<OpOutcome> {
    return lane.run({ f: 'lease-read', key, value: prefix ? { prefix: true } : {}, readOnly: true }, async () => {
      const res = await kv.range({ key: bytes(key), ...(prefix ? { rangeEnd: prefixEnd(key) } : {}), serializable: env.readMode === 'serializable' });
      return {
        type: 'ok',
        value: { kvs: res.kvs.map((x) => ({ key: x.key.toString('utf8'), value: x.value.toString('utf8'), ...(x.lease !== 0n ? { lease: x.lease.toString() } : {}) })) },
      };
    });
  }

  /** A final read of every lease key from every member. */
  async finish(env: WorkloadEnv): Promise<void> {
    await Promise.all(
      env.members.map(async (member) => {
        const { lane, kv } = env.lane(member);
        if (!env.cancelled.aborted) await this.read(env, lane, kv, LEASE_PREFIX, true);
      }),
    );
  }
}
