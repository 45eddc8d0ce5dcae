// Lease expiry is the leader's decision, replicated as a revoke; a new leader must not expire a
// lease that is being kept alive (it restarts every lease's clock when it takes over), and a
// lease that is no longer kept alive still expires under the new leader.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startKeelsonCluster } from '../../common/keelson-cluster.js';
import { RemoteKV } from '../kv-remote.js';

const b = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a kept-alive lease survives a leader crash; left alone it expires under the new leader', async (t) => {
  const cluster = await startKeelsonCluster({ members: 3 });
  const kv = new RemoteKV({ endpoints: cluster.endpoints, timeoutMs: 3000 });
  t.after(async () => {
    await kv.close();
    await cluster.stop();
  });
  const TTL = 4;
  const { ID } = await kv.leaseGrant({ TTL });
  await kv.put({ key: b('/lease/held'), value: b('x'), lease: ID });
  const status = await Promise.all(cluster.members.map((m) => new RemoteKV({ endpoints: [m.endpoint] })).map(async (c) => {
    try {
      return await c.status();
    } finally {
      await c.close();
    }
  }));
  const leaderIdx = status.findIndex((s) => s.leader === s.header.memberId);
  assert.ok(leaderIdx >= 0);
  const survivors = cluster.members.filter((_, i) => i !== leaderIdx);
  const reader = new RemoteKV({ endpoints: survivors.map((m) => m.endpoint), timeoutMs: 3000 });
  t.after(() => reader.close());

  // Keep the lease alive every second for 10 s; kill the leader 3 s in.
  let lastKeepAlive = Date.now();
  let stop = false;
  const keeper = (async () => {
    while (!stop) {
      try {
        const r = await kv.leaseKeepAliveOnce(ID);
        if (r.TTL > 0) lastKeepAlive = Date.now();
      } catch {
        // during the election: try again
      }
      await sleep(1000);
    }
  })();
  const present = async (): Promise<boolean> => (await reader.range({ key: b('/lease/held'), serializable: true })).count === 1;
  const t0 = Date.now();
  let killed = false;
  while (Date.now() - t0 < 10_000) {
    if (!killed && Date.now() - t0 > 3000) {
      await cluster.members[leaderIdx]!.kill('SIGKILL');
      killed = true;
    }
    assert.ok(await present(), `the kept-alive key vanished ${Date.now() - t0} ms in (leader killed: ${killed})`);
    await sleep(200);
  }
  stop = true;
  await keeper;
  // Left alone, it must live until a TTL after the last keep-alive, then go.
  const last = lastKeepAlive;
  while (Date.now() < last + (TTL - 1) * 1000) {
    assert.ok(await present(), `the key vanished ${Date.now() - last} ms after the last keep-alive (TTL ${TTL}s)`);
    await sleep(200);
  }
  const deadline = Date.now() + 15_000;
  while (await present()) {
    assert.ok(Date.now() < deadline, 'the abandoned lease never expired');
    await sleep(200);
  }
});
