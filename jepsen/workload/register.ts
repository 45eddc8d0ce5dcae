// The register workload: reads, writes and compare-and-sets on a few keys at a time, each key a
// register the linearizability checker follows on its own (P-compositionality). Values are
// unique integers, so an unobserved write of unknown outcome can be pruned by the checker.
//   read   Range (serializable when --read-mode serializable)
//   write  Txn { success: [put] }
//   cas    Txn { compare: [value == expected], success: [put new] } — a compare that does not
//          match is 'fail' (it changed nothing)
// After the heal every key ever used is read from every member.

import type { Prng } from '../../common/prng.js';
import { CompareResult, CompareTarget } from '../../store/api/types.js';
import type { RemoteKV } from '../../store/kv-remote.js';
import type { ClientLane, OpOutcome } from '../client/client-lane.js';
import { sleep } from '../run/sleep.js';
import { KeyPool } from './key-pool.js';
import { bytes, gapAfter, type Workload, type WorkloadEnv } from './workload.js';

export const REGISTER_PREFIX = 'r/';
const ACTIVE_KEYS = 3;
const OPS_PER_KEY = 120;

function parseValue(b: Buffer): number | string {
  const s = b.toString('utf8');
  return /^-?\d+$/.test(s) ? Number(s) : s;
}

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  private readonly pool = new KeyPool(REGISTER_PREFIX, ACTIVE_KEYS, OPS_PER_KEY);
  /** The last value each key was seen to hold: what a cas expects. */
  private readonly lastSeen = new Map<string, number | string | null>();
  private nextValue = 1;

  constructor(
    private readonly lanes: number,
    private readonly memberOffset = 0,
  ) {}

  async run(env: WorkloadEnv, prng: Prng): Promise<void> {
    const runs: Promise<void>[] = [];
    for (let i = 0; i < this.lanes; i++) {
      const member = env.members[(this.memberOffset + i) % env.members.length] as string;
      const { lane, kv } = env.lane(member);
      runs.push(this.loop(env, lane, kv, prng.fork()));
    }
    await Promise.all(runs);
  }

  private async loop(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV, prng: Prng): Promise<void> {
    while (!env.stopping.aborted) {
      const key = this.pool.pick(prng);
      const r = prng.float();
      const expected = this.lastSeen.get(key);
      let out: OpOutcome;
      if (r < 0.5) out = await this.read(env, lane, kv, key);
      else if (r < 0.75 || expected === undefined || expected === null) out = await this.write(lane, kv, key);
      else out = await this.cas(lane, kv, key, expected);
      await sleep(gapAfter(out, prng), env.stopping);
    }
  }

  private read(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV, key: string): Promise<OpOutcome> {
    return lane.run({ f: 'read', key, value: null, readOnly: true }, async () => {
      const res = await kv.range({ key: bytes(key), serializable: env.readMode === 'serializable' });
      const kvs = res.kvs[0];
      const value = kvs === undefined ? null : parseValue(kvs.value);
      this.lastSeen.set(key, value);
      return { type: 'ok', value };
    });
  }

  private write(lane: ClientLane, kv: RemoteKV, key: string): Promise<OpOutcome> {
    const v = this.nextValue++;
    return lane.run({ f: 'write', key, value: v, readOnly: false }, async () => {
      await kv.txn({ compare: [], success: [{ requestPut: { key: bytes(key), value: bytes(String(v)) } }], failure: [] });
      this.lastSeen.set(key, v);
      return { type: 'ok', value: v };
    });
  }

  private cas(lane: ClientLane, kv: RemoteKV, key: string, expected: number | string): Promise<OpOutcome> {
    const v = this.nextValue++;
    const value = [expected, v];
    return lane.run({ f: 'cas', key, value, readOnly: false }, async () => {
      const res = await kv.txn({
        compare: [{ result: CompareResult.EQUAL, target: CompareTarget.VALUE, key: bytes(key), value: bytes(String(expected)) }],
        success: [{ requestPut: { key: bytes(key), value: bytes(String(v)) } }],
        failure: [],
      });
      if (!res.succeeded) return { type: 'fail', value, error: 'compare failed' };
      this.lastSeen.set(key, v);
      return { type: 'ok', value };
    });
  }

  async finish(env: WorkloadEnv): Promise<void> {
    const keys = this.pool.all();
    await Promise.all(
      env.members.map(async (member) => {
        const { lane, kv } = env.lane(member);
        for (const key of keys) {
          if (env.cancelled.aborted) return;
          await this.read(env, lane, kv, key);
        }
      }),
    );
  }
}
