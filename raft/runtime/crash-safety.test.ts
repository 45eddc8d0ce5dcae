// The Raft runtime as real processes on loopback: kill -9 at random moments of a write loop,
// members that miss so much that they need a snapshot, disk use under compaction, and damaged
// log files. The state machine is the small test KV (testing/kv-state-machine.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Prng } from '../../common/prng.js';
import { makeTempDir } from '../../common/temp-dir.js';
import { KvCluster, type KvMember } from './testing/kv-cluster.js';
import { FRAME_HEADER_BYTES } from './wal-frame.js';
import { listSegments } from './wal-reader.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fsp.readdir(dir)) {
    const st = await fsp.stat(join(dir, name));
    total += st.isDirectory() ? await dirSize(join(dir, name)) : st.size;
  }
  return total;
}

async function withCluster(
  t: { after: (f: () => Promise<void>) => void },
  o: { size: number; snapshotCount?: number; catchUp?: number; walSegmentBytes?: number },
): Promise<KvCluster> {
  const tmp = await makeTempDir('keelson-raft-');
  const c = await KvCluster.start({ ...o, root: tmp.path });
  t.after(async () => {
    await c.stop();
    await tmp.cleanup();
  });
  return c;
}

test('acknowledged writes survive kill -9 of any member at random moments of a write loop', async (t) => {
  const c = await withCluster(t, { size: 3, snapshotCount: 150, catchUp: 40 });
  const prng = new Prng(20261123);
  const acked = new Map<string, string>();
  let stop = false;
  let n = 0;
  const writer = (async () => {
    while (!stop && n < 5000) {
      const up = c.members.filter((m) => m.proc);
      const m = up[n % Math.max(1, up.length)];
      const key = `k${n}`;
      const value = `v${n}`;
      n++;
      if (!m) {
        await sleep(20);
        continue;
      }
      const r = await c.put(m, key, value, 4000);
      if (r.ok) acked.set(key, value);
    }
  })();
  // Kill a random member (often the leader) at a random moment, bring it back, repeat.
  const rounds = 12;
  const t0 = Date.now();
  for (let i = 0; i < rounds && Date.now() - t0 < 40_000; i++) {
    await sleep(prng.range(150, 700));
    const victim = prng.pick(c.members) as KvMember;
    await c.kill9(victim);
    await sleep(prng.range(50, 600));
    await c.startMember(victim);
  }
  await sleep(300);
  stop = true;
  await writer;
  assert.ok(acked.size > 50, `too few writes were acknowledged (${acked.size} of ${n})`);
  const data = await c.converged(30_000);
  const lost = [...acked].filter(([k, v]) => data[k] !== v);
  assert.deepEqual(lost, [], 'acknowledged writes were lost');
  // Linearizable reads agree on every member.
  for (const m of c.members) {
    const last = `k${n - 1}`;
    const r = await c.get(m, last);
    assert.ok(r.status === 200 || r.status === 404);
    if (acked.has(last)) assert.equal(r.value, acked.get(last));
  }
});

test('a member down long enough to be compacted past gets a snapshot and converges', async (t) => {
  const c = await withCluster(t, { size: 3, snapshotCount: 40, catchUp: 10 });
  const [m1, m2, m3] = c.members as [KvMember, KvMember, KvMember];
  assert.ok((await c.put(m1, 'before', 'x')).ok);
  await c.kill9(m3);
  for (let i = 0; i < 300; i++) assert.ok((await c.put(i % 2 ? m1 : m2, `a${i}`, `${i}`)).ok, `write ${i} failed`);
  const st = await c.status(m1);
  assert.ok(st.firstIndex > 100, `the log was not compacted (first index ${st.firstIndex})`);
  await c.startMember(m3);
  const data = await c.converged(20_000);
  assert.equal(Object.keys(data).length, 301);
  // Its log line comes through a pipe, which may deliver after the HTTP answers above did.
  for (const until = Date.now() + 5000; !/installed snapshot/.test(m3.stderr) && Date.now() < until; ) await sleep(50);
  assert.match(m3.stderr, /installed snapshot/);
  assert.equal((await c.get(m3, 'a299')).value, '299');
});

test('log compaction keeps the raft log on disk bounded', async (t) => {
  // Small segments, so that 3 MB of writes fill many of them.
  const c = await withCluster(t, { size: 3, snapshotCount: 100, catchUp: 20, walSegmentBytes: 64 * 1024 });
  const value = 'x'.repeat(2048);
  const writes = 1500;
  for (let i = 0; i < writes; i++) assert.ok((await c.put(c.members[i % 3] as KvMember, `big${i}`, value)).ok);
  await c.converged();
  for (const m of c.members) {
    const st = await c.status(m);
    assert.ok(st.firstIndex > writes - 200, `member ${m.id}: log not compacted (first index ${st.firstIndex})`);
    const wal = await dirSize(join(m.dataDir, 'wal'));
    // 3 MB went through the log; what is left must be a small fraction of it.
    assert.ok(wal < (writes * value.length) / 4, `member ${m.id}: raft log is ${wal} bytes on disk`);
  }
});

/** The newest segment of a member's raft log, and where its written frames end (zeros follow). */
async function newestSegment(m: KvMember): Promise<{ file: string; dataEnd: number }> {
  const segs = await listSegments(join(m.dataDir, 'wal'));
  const file = (segs[segs.length - 1] as { path: string }).path;
  const buf = await fsp.readFile(file);
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return { file, dataEnd: end };
}

test('a torn tail (the newest log file cut short) recovers or refuses clearly, never serves wrong data', async (t) => {
  const c = await withCluster(t, { size: 3 });
  const [m1, m2] = c.members as [KvMember, KvMember, KvMember];
  const acked = new Map<string, string>();
  const outcomes: string[] = [];
  for (const cut of [1, 7, 33, 200, 5000]) {
    for (let i = 0; i < 30; i++) {
      const k = `c${cut}-${i}`;
      if ((await c.put(m1, k, k)).ok) acked.set(k, k);
    }
    await c.kill9(m2);
    const wal = join(m2.dataDir, 'wal');
    const backup = `${wal}.backup`;
    await fsp.cp(wal, backup, { recursive: true });
    const { file, dataEnd } = await newestSegment(m2);
    await fsp.truncate(file, Math.max(0, dataEnd - cut));
    const r = await c.runExpectingExit(m2);
    let refused: { code: number | null; stderr: string } | undefined = r.started ? undefined : r;
    if (r.started) {
      // It may start, then find out from the leader that it lost entries it had acknowledged.
      const exit = c.exited(m2);
      // Converged, and still alive after a few heartbeats (which carry the leader's commit).
      const alive = c.converged(20_000).then(() => sleep(1000)).then(() => undefined);
      const res = await Promise.race([alive, exit]);
      if (res) {
        refused = res;
        m2.proc = undefined;
      }
    }
    if (!refused) {
      outcomes.push(`cut ${cut}: recovered`);
    } else {
      // Refusing is allowed, but only with a clear message naming the damaged log.
      outcomes.push(`cut ${cut}: refused${r.started ? ' after start' : ''}`);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /raft log .*wal/);
      // The operator puts the disk back; the member then starts normally.
      await fsp.rm(wal, { recursive: true, force: true });
      await fsp.rename(backup, wal);
      await c.startMember(m2);
    }
    await fsp.rm(backup, { recursive: true, force: true });
    const data = await c.converged(20_000);
    for (const [k, v] of acked) assert.equal(data[k], v, `after cutting ${cut} bytes: ${k} lost`);
    // The restarted member answers linearizable reads with the cluster's data.
    const last = [...acked.keys()].pop() as string;
    assert.equal((await c.get(m2, last)).value, acked.get(last));
  }
  t.diagnostic(outcomes.join('; '));
});

test('a damaged record stops the member with a clear message instead of serving from it', async (t) => {
  const c = await withCluster(t, { size: 3 });
  const [m1, , m3] = c.members as [KvMember, KvMember, KvMember];
  for (let i = 0; i < 20; i++) assert.ok((await c.put(m1, `d${i}`, `${i}`)).ok);
  await c.converged();
  await c.kill9(m3);
  // A byte of the first frame of the newest segment: valid frames follow it, so it is not a torn write.
  const { file } = await newestSegment(m3);
  const buf = await fsp.readFile(file);
  buf[FRAME_HEADER_BYTES + 1] = (buf[FRAME_HEADER_BYTES + 1] as number) ^ 0x5a;
  await fsp.writeFile(file, buf);
  const r = await c.runExpectingExit(m3);
  assert.equal(r.started, false);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /raft log .*m3\/wal.*checksum mismatch/s);
});
