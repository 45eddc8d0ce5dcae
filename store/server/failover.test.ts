// The three-master install under the faults operators meet: the leader killed during writes, a
// rolling restart, a member replaced after losing its disk, a snapshot restored into a new
// cluster. Real processes, real etcd clients.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../../common/free-port.js';
import { KEELSON_CLI, startKeelsonCluster } from '../../common/keelson-cluster.js';
import { makeTempDir } from '../../common/temp-dir.js';
import { EtcdError, GrpcCode } from '../api/errors.js';
import type { EtcdMember, EtcdReference } from '../../common/etcd-reference.js';
import { RemoteKV } from '../kv-remote.js';

const b = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function leaderIndex(c: EtcdReference): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const [i, m] of c.members.entries()) {
      if (!m.running) continue;
      const kv = new RemoteKV({ endpoints: [m.endpoint], timeoutMs: 1000 });
      try {
        const s = await kv.status();
        if (s.leader !== 0n && s.leader === s.header.memberId) return i;
      } catch {
        // not answering
      } finally {
        await kv.close();
      }
    }
    await sleep(200);
  }
  throw new Error('no leader');
}

/** Writes keys one by one through all endpoints, retrying each until acknowledged; records acks. */
function writer(kv: RemoteKV, prefix: string): { stop: () => Promise<void>; acked: Map<string, string>; gaps: number[]; failedAttempts: () => number } {
  const acked = new Map<string, string>();
  const gaps: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const key = `${prefix}${String(i).padStart(6, '0')}`;
      const t0 = Date.now();
      for (let attempt = 0; running; attempt++) {
        try {
          await kv.put({ key: b(key), value: b(String(i)) });
          acked.set(key, String(i));
          break;
        } catch (e) {
          // Only retryable errors are acceptable during failover.
          if (!(e instanceof EtcdError) || (e.code !== GrpcCode.UNAVAILABLE && e.code !== GrpcCode.DEADLINE_EXCEEDED)) throw e;
          failed++;
          await sleep(50);
        }
      }
      gaps.push(Date.now() - t0);
    }
  })();
  return {
    acked,
    gaps,
    failedAttempts: () => failed,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function assertAllPresent(kv: RemoteKV, acked: Map<string, string>, prefix: string): Promise<void> {
  const r = await kv.range({ key: b(prefix), rangeEnd: b(`${prefix}\xff`) });
  const got = new Map(r.kvs.map((x) => [x.key.toString(), x.value.toString()]));
  const lost = [...acked].filter(([k, v]) => got.get(k) !== v);
  assert.deepEqual(lost, [], 'acknowledged writes were lost');
}

async function converged(c: EtcdReference, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hashes = await Promise.all(
      c.members.map(async (m) => {
        const kv = new RemoteKV({ endpoints: [m.endpoint], timeoutMs: 2000 });
        try {
          const s = await kv.status();
          return `${s.raftAppliedIndex}:${(await kv.hashKV({ revision: 0 })).hash}`;
        } catch {
          return 'down';
        } finally {
          await kv.close();
        }
      }),
    );
    if (hashes.every((h) => h === hashes[0] && h !== 'down')) return;
    if (Date.now() > deadline) throw new Error(`members did not converge: ${hashes.join(' ')}`);
    await sleep(200);
  }
}

test('kill -9 of the leader during a write loop: writes resume, nothing acknowledged is lost, it rejoins', async (t) => {
  const c = await startKeelsonCluster({ members: 3 });
  const kv = new RemoteKV({ endpoints: c.endpoints, timeoutMs: 3000 });
  t.after(async () => {
    await kv.close();
    await c.stop();
  });
  const w = writer(kv, '/kill/');
  for (let round = 0; round < 3; round++) {
    await sleep(800);
    const li = await leaderIndex(c);
    const killedAt = w.acked.size;
    await c.members[li]!.kill('SIGKILL');
    // Writes resume: within a few election timeouts (1 s each) the count moves again.
    const t0 = Date.now();
    while (w.acked.size <= killedAt + 5) {
      assert.ok(Date.now() - t0 < 10_000, 'writes did not resume after the leader was killed');
      await sleep(50);
    }
    t.diagnostic(`round ${round}: writes resumed ${Date.now() - t0} ms after killing the leader`);
    await c.members[li]!.restart();
  }
  await w.stop();
  assert.ok(w.acked.size > 50);
  await assertAllPresent(kv, w.acked, '/kill/');
  await converged(c);
});

test('rolling restart with SIGTERM while a client writes: no write fails beyond retries, none lost', async (t) => {
  const c = await startKeelsonCluster({ members: 3 });
  const kv = new RemoteKV({ endpoints: c.endpoints, timeoutMs: 3000 });
  t.after(async () => {
    await kv.close();
    await c.stop();
  });
  const w = writer(kv, '/roll/');
  for (const m of c.members) {
    await sleep(500);
    await m.kill('SIGTERM');
    await m.restart();
  }
  await sleep(500);
  await w.stop();
  t.diagnostic(`${w.acked.size} writes, ${w.failedAttempts()} retried attempts, longest wait ${Math.max(...w.gaps)} ms`);
  await assertAllPresent(kv, w.acked, '/roll/');
  await converged(c);
});

test('replace a member whose disk was lost: remove it, add a fresh one, it catches up by snapshot', async (t) => {
  const c = await startKeelsonCluster({ members: 3, extraArgs: ['--snapshot-count=50'] });
  const kv = new RemoteKV({ endpoints: c.endpoints, timeoutMs: 5000 });
  const tmp = await makeTempDir('keelson-replace-');
  let fresh: ReturnType<typeof spawn> | undefined;
  t.after(async () => {
    fresh?.kill('SIGKILL');
    await kv.close();
    await c.stop();
    await tmp.cleanup();
  });
  for (let i = 0; i < 100; i++) await kv.put({ key: b(`/replace/${i}`), value: b(String(i)) });
  // m2 dies with its disk.
  const lost = c.members[2] as EtcdMember;
  await lost.kill('SIGKILL');
  rmSync(lost.dataDir, { recursive: true, force: true });
  const members = (await kv.memberList()).members;
  const old = members.find((m) => m.name === lost.name)!;
  const survivors = new RemoteKV({ endpoints: c.endpoints.slice(0, 2), timeoutMs: 5000 });
  t.after(() => survivors.close());
  await survivors.memberRemove(old.ID);
  for (let i = 100; i < 300; i++) await survivors.put({ key: b(`/replace/${i}`), value: b(String(i)) });
  // A new member on new ports, added through the CLI (which prints how to start it).
  const [cp, pp] = await freePorts(2);
  const peerUrl = `http://127.0.0.1:${pp}`;
  const clientUrl = `http://127.0.0.1:${cp}`;
  const add = spawnSync(process.execPath, [KEELSON_CLI, 'member', 'add', 'm3', '--peer-urls', peerUrl, '--endpoints', c.endpoints.slice(0, 2).join(',')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(add.status, 0, add.stderr);
  const cluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(add.stdout)?.[1];
  assert.ok(cluster, add.stdout);
  assert.match(add.stdout, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
  fresh = spawn(
    process.execPath,
    [KEELSON_CLI, 'master', '--name', 'm3', '--data-dir', join(tmp.path, 'm3'), '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', cluster, '--initial-cluster-state', 'existing'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  fresh.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const freshKv = new RemoteKV({ endpoints: [`127.0.0.1:${cp}`], timeoutMs: 2000 });
  t.after(() => freshKv.close());
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await freshKv.range({ key: b('/replace/'), rangeEnd: b('/replace0'), serializable: true, countOnly: true });
      if (r.count === 300) break;
    } catch {
      // starting
    }
    assert.ok(Date.now() < deadline, `the new member did not catch up:\n${log.slice(-3000)}`);
    await sleep(200);
  }
  assert.match(log, /installed snapshot/, 'the new member should have caught up by snapshot');
  const list = (await survivors.memberList()).members;
  assert.deepEqual(list.map((m) => m.name).sort(), ['m0', 'm1', 'm3']);
  // Linearizable reads through the new member see the latest write.
  await survivors.put({ key: b('/replace/last'), value: b('x') });
  assert.equal((await freshKv.range({ key: b('/replace/last') })).kvs[0]?.value.toString(), 'x');
});

test('snapshot save, then restore into a new 3-member cluster: identical data', async (t) => {
  const src = await startKeelsonCluster({ members: 3 });
  const kv = new RemoteKV({ endpoints: src.endpoints, timeoutMs: 5000 });
  const tmp = await makeTempDir('keelson-restore-');
  const procs: ReturnType<typeof spawn>[] = [];
  t.after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await kv.close();
    await src.stop();
    await tmp.cleanup();
  });
  for (let i = 0; i < 200; i++) await kv.put({ key: b(`/snap/${i}`), value: b(`value-${i}`) });
  await kv.deleteRange({ key: b('/snap/1'), rangeEnd: b('/snap/2') });
  const before = await kv.range({ key: b('/snap/'), rangeEnd: b('/snap0') });
  const file = join(tmp.path, 'backup.db');
  const save = spawnSync(process.execPath, [KEELSON_CLI, 'snapshot', 'save', file, '--endpoints', src.endpoints[0]!], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(save.status, 0, save.stderr);
  // A new cluster on new ports, each member restored from the same file.
  const ports = await freePorts(6);
  const names = ['r0', 'r1', 'r2'];
  const peer = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const client = (i: number): string => `http://127.0.0.1:${ports[2 * i]}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  for (const [i, n] of names.entries()) {
    const r = spawnSync(
      process.execPath,
      [KEELSON_CLI, 'snapshot', 'restore', file, '--name', n, '--data-dir', join(tmp.path, n), '--initial-cluster', initial, '--initial-cluster-token', 'restored', '--initial-advertise-peer-urls', peer(i)],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
  }
  for (const [i, n] of names.entries()) {
    procs.push(
      spawn(process.execPath, [KEELSON_CLI, 'master', '--name', n, '--data-dir', join(tmp.path, n), '--listen-client-urls', client(i), '--advertise-client-urls', client(i),
        '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i), '--initial-cluster', initial, '--initial-cluster-token', 'restored'], { stdio: 'ignore' }),
    );
  }
  const restored = new RemoteKV({ endpoints: names.map((_, i) => `127.0.0.1:${ports[2 * i]}`), timeoutMs: 3000 });
  t.after(() => restored.close());
  const deadline = Date.now() + 30_000;
  let after;
  for (;;) {
    try {
      after = await restored.range({ key: b('/snap/'), rangeEnd: b('/snap0') });
      break;
    } catch {
      assert.ok(Date.now() < deadline, 'the restored cluster did not come up');
      await sleep(200);
    }
  }
  assert.deepEqual(after.kvs, before.kvs);
  assert.equal(after.header.revision, before.header.revision);
  assert.deepEqual((await restored.memberList()).members.map((m) => m.name).sort(), names);
  // A damaged copy of the file is refused clearly, and leaves no data dir behind.
  const bad = join(tmp.path, 'bad.db');
  const { readFileSync, writeFileSync, existsSync } = await import('node:fs');
  const bytes = readFileSync(file);
  bytes[10] = (bytes[10] ?? 0) ^ 0xff;
  writeFileSync(bad, bytes);
  const refused = spawnSync(process.execPath, [KEELSON_CLI, 'snapshot', 'restore', bad, '--data-dir', join(tmp.path, 'x')], { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /damaged: its SHA-256 does not match/);
  assert.equal(existsSync(join(tmp.path, 'x')), false);
  writeFileSync(bad, readFileSync(file).subarray(0, 300));
  const truncated = spawnSync(process.execPath, [KEELSON_CLI, 'snapshot', 'restore', bad, '--data-dir', join(tmp.path, 'y')], { encoding: 'utf8' });
  assert.equal(truncated.status, 1);
  assert.match(truncated.stderr, /damaged or truncated/);
});
