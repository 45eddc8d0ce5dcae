// Child process for crash.test.ts: applies a deterministic log to a store in a directory,
// batch after batch, until it is killed. argv: dir seed entries
import { Prng } from '../../common/prng.js';
import type { RequestOp } from '../api/types.js';
import { StoreStateMachine } from './state-machine.js';
import { encodeStoreRequest, type StoreRequest } from './store-request.js';

/** The log both the child and the test apply: entry i (1-based) is requests[i - 1]. */
export function crashLog(seed: number, n: number): StoreRequest[] {
  const prng = new Prng(seed);
  const out: StoreRequest[] = [{ leaseGrant: { ID: 1n, TTL: 60 } }];
  for (let i = 1; i < n; i++) {
    const k = Buffer.from(`k${prng.int(200)}`);
    const x = prng.int(20);
    if (x < 12) out.push({ put: { key: k, value: Buffer.alloc(prng.int(300), i % 251), ...(x === 0 ? { lease: 1n } : {}) } });
    else if (x < 15) out.push({ deleteRange: { key: k } });
    else if (x < 19) {
      const ops: RequestOp[] = [0, 1, 2].map((j) => ({ requestPut: { key: Buffer.from(`t${prng.int(50)}/${j}`), value: Buffer.from(`${i}`) } }));
      out.push({ txn: { compare: [], success: ops, failure: [] } });
    } else out.push({ compaction: { revision: Math.max(2, Math.floor(i * 0.8)) } });
  }
  return out;
}

async function main(): Promise<void> {
  const [dir, seedArg, nArg] = process.argv.slice(2);
  const log = crashLog(Number(seedArg), Number(nArg));
  const sm = await StoreStateMachine.open({ dir: dir as string });
  let i = sm.appliedIndex;
  while (i < log.length) {
    const batch = log.slice(i, i + 1 + (i % 13)).map((r, j) => ({ index: i + j + 1, term: 1, data: encodeStoreRequest(r) }));
    await sm.applyBatch(batch, { sync: i % 5 === 0 });
    i += batch.length;
    process.stdout.write(`${i}\n`);
  }
  await sm.close();
  process.stdout.write('done\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
