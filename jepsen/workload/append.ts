// The list-append workload (Elle): transactions of 1–4 micro-ops over a few keys, each either
// appending a unique integer to a key's list or reading the whole list. etcd has no append, so
// a transaction is optimistic, as in Jepsen's etcd tests:
//  1. one Txn of Range ops reads every key it touches (one snapshot; serializable Ranges when
//     --read-mode serializable), noting each key's mod_revision (0 when absent);
//  2. read-only: done — the snapshot is the result;
//     otherwise one Txn compares every touched key's mod_revision with what step 1 saw and, if
//     nothing changed, puts the new lists. A compare that fails means nothing was written: 'fail'.
// So a committed transaction's reads and writes all hold at its commit revision. Lists are
// stored as JSON arrays.

import type { Prng } from '../../common/prng.js';
import { CompareResult, CompareTarget, type RequestOp } from '../../store/api/types.js';
import type { RemoteKV } from '../../store/kv-remote.js';
import type { ClientLane, OpOutcome } from '../client/client-lane.js';
import { describeError } from '../client/outcome.js';
import { sleep } from '../run/sleep.js';
import { KeyPool } from './key-pool.js';
import { bytes, gapAfter, type Workload, type WorkloadEnv } from './workload.js';

export const APPEND_PREFIX = 'a/';
const ACTIVE_KEYS = 5;
const USES_PER_KEY = 48;
const MAX_MOPS = 4;
/** etcd's limit on ops per txn branch. */
const MAX_TXN_OPS = 128;

type Mop = ['append', string, number] | ['r', string, number[] | null];

function parseList(b: Buffer | undefined): number[] {
  if (b === undefined || b.length === 0) return [];
  const v: unknown = JSON.parse(b.toString('utf8'));
  if (!Array.isArray(v)) throw new Error(`not a list: ${b.toString('utf8')}`);
  return v as number[];
}

export class AppendWorkload implements Workload {
  readonly name = 'append';
  private readonly pool = new KeyPool(APPEND_PREFIX, ACTIVE_KEYS, USES_PER_KEY);
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
      const n = 1 + prng.int(MAX_MOPS);
      const mops: Mop[] = [];
      for (let i = 0; i < n; i++) {
        const key = this.pool.pick(prng);
        mops.push(prng.chance(0.5) ? ['append', key, this.nextValue++] : ['r', key, null]);
      }
      const out = await this.txn(env, lane, kv, mops);
      await sleep(gapAfter(out, prng), env.stopping);
    }
  }

  private txn(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV, mops: Mop[]): Promise<OpOutcome> {
    const keys = [...new Set(mops.map((m) => m[1]))];
    const readOnly = mops.every((m) => m[0] === 'r');
    return lane.run({ f: 'txn', value: mops, readOnly }, async () => {
      const serializable = env.readMode === 'serializable';
      let snapshot;
      try {
        snapshot = await kv.txn({ compare: [], success: keys.map((k) => ({ requestRange: { key: bytes(k), serializable } })), failure: [] });
      } catch (err) {
        return { type: 'fail', value: null, error: `read phase: ${describeError(err)}`, threw: true }; // nothing written yet
      }
      const lists = new Map<string, number[]>();
      const modRevs = new Map<string, number>();
      keys.forEach((k, i) => {
        const kvs = snapshot.responses[i]?.responseRange?.kvs[0];
        lists.set(k, parseList(kvs?.value));
        modRevs.set(k, kvs?.modRevision ?? 0);
      });
      const result: Mop[] = mops.map((m): Mop => {
        const list = lists.get(m[1]) as number[];
        if (m[0] === 'append') {
          list.push(m[2]);
          return m;
        }
        return ['r', m[1], list.length === 0 ? null : [...list]];
      });
      if (readOnly) return { type: 'ok', value: result };
      const written = keys.filter((k) => mops.some((m) => m[0] === 'append' && m[1] === k));
      const puts: RequestOp[] = written.map((k) => ({ requestPut: { key: bytes(k), value: bytes(JSON.stringify(lists.get(k))) } }));
      const res = await kv.txn({
        compare: keys.map((k) => ({ result: CompareResult.EQUAL, target: CompareTarget.MOD, key: bytes(k), modRevision: modRevs.get(k) as number })),
        success: puts,
        failure: [],
      });
      if (!res.succeeded) return { type: 'fail', value: null, error: 'conflict: a key changed since it was read' };
      return { type: 'ok', value: result };
    });
  }

  /** Reads every key ever used, from every member, in read-only transactions. */
  async finish(env: WorkloadEnv): Promise<void> {
    const keys = [...this.pool.all()];
    await Promise.all(
      env.members.map(async (member) => {
        const { lane, kv } = env.lane(member);
        for (let i = 0; i < keys.length; i += MAX_TXN_OPS) {
          if (env.cancelled.aborted) return;
          await this.txn(env, lane, kv, keys.slice(i, i + MAX_TXN_OPS).map((k): Mop => ['r', k, null]));
        }
      }),
    );
  }
}
