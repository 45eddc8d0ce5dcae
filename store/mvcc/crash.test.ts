// kill -9 at random moments while applying: reopening and re-applying the whole log (as the
// Raft runtime would after a crash) must end in exactly the state of a store that never
// crashed: nothing applied twice, nothing lost, the applied index always matching the data.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Prng } from '../../common/prng.js';
import { crashLog } from './crash-child.js';
import { StoreStateMachine } from './state-machine.js';
import { encodeStoreRequest } from './store-request.js';
import { tempDir } from './test-kit.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const SEED = 21;
const N = 3000;

async function runUntilKilled(dir: string, afterLines: number): Promise<number> {
  const child = spawn(process.execPath, [CHILD, dir, String(SEED), String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let last = 0;
  let lines = 0;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 20_000); // bound, whatever happens
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n')) {
        if (l === '' || l === 'done') continue;
        last = Number(l);
        if (++lines === afterLines) child.kill('SIGKILL');
      }
    });
    child.on('exit', () => resolve());
  });
  clearTimeout(killTimer);
  assert.equal(stderr, '', 'child failed');
  return last;
}

test('kill -9 while applying, then recover and replay the log: same state as without crashes', async (t) => {
  const log = crashLog(SEED, N);
  const refDir = await tempDir(t);
  const ref = await StoreStateMachine.open({ dir: refDir });
  t.after(() => ref.close());
  for (let i = 0; i < log.length; i += 50) {
    await ref.applyBatch(log.slice(i, i + 50).map((r, j) => ({ index: i + j + 1, term: 1, data: encodeStoreRequest(r) })));
  }
  const want = await ref.hashKV({});

  const dir = await tempDir(t);
  const prng = new Prng(5);
  let maxSeen = 0;
  for (let round = 0; round < 4; round++) {
    const reported = await runUntilKilled(dir, 20 + prng.int(120));
    maxSeen = Math.max(maxSeen, reported);
    const sm = await StoreStateMachine.open({ dir });
    // What a killed process had acknowledged as applied may not all be on disk (unsynced
    // batches), but the applied index and the data on disk always agree.
    assert.ok(sm.appliedIndex <= reported + 14);
    assert.ok(reported < N, 'killed before the end');
    // The recovered state is exactly the state after `appliedIndex` entries.
    const at = await StoreStateMachine.open({ dir: await tempDir(t) });
    await at.applyBatch(log.slice(0, sm.appliedIndex).map((r, i) => ({ index: i + 1, term: 1, data: encodeStoreRequest(r) })));
    assert.deepEqual(await sm.hashKV({}), await at.hashKV({}));
    assert.equal(sm.compactRevision, at.compactRevision);
    await at.close();
    await sm.close();
  }
  assert.ok(maxSeen > 0);
  // Replay everything from index 1: applied entries are skipped, the rest applied once.
  const sm = await StoreStateMachine.open({ dir });
  t.after(() => sm.close());
  const results = await sm.applyBatch(log.map((r, i) => ({ index: i + 1, term: 1, data: encodeStoreRequest(r) })));
  assert.ok(results.some((r) => r.kind === 'skipped'));
  assert.deepEqual(await sm.hashKV({}), want);
  assert.deepEqual(
    await sm.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) }),
    await ref.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) }),
  );
});
