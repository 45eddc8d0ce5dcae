// The Ready order (raft-runtime.ts, handleReady): committed entries are applied once they are in
// the member's log file, never before; a leader applies what was durable before a Ready, then
// writes that Ready's new entries.
// Three real runtimes in this process on loopback, with their real logs; each state machine looks
// at its member's log file whenever it is asked to apply.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { freePorts } from '../../common/free-port.js';
import { createLogger } from '../../common/logger.js';
import { makeTempDir } from '../../common/temp-dir.js';
import type { NodeId, SnapshotMetadata } from '../core/types.js';
import { RaftRuntime, type AppliedEntry, type RaftStateMachine } from './raft-runtime.js';
import { KvStateMachine, encodeContext } from './testing/kv-state-machine.js';
import { readWal } from './wal-reader.js';

interface ApplySeen {
  /** The last index of the batch to apply. */
  last: number;
  /** The member's last log index (written or not) when the batch came. */
  raftLast: number;
  /** The last index the member's log had made durable then (the runtime's mirror of its file). */
  durableLast: number;
  /** The last index in the member's log file, read just after. */
  walLast: number;
}

/** The test KV, plus a look at the member's log file before each apply (while `watching`). */
class WatchedStateMachine implements RaftStateMachine {
  watching = false;
  runtime: RaftRuntime | undefined;
  readonly seen: ApplySeen[] = [];

  constructor(
    private readonly inner: KvStateMachine,
    private readonly walDir: string,
  ) {}

  appliedIndex(): number {
    return this.inner.appliedIndex();
  }

  async apply(entries: readonly AppliedEntry[]): Promise<unknown[]> {
    if (this.watching && this.runtime && entries.length > 0) {
      // Read first, synchronously: the runtime's own state as the batch arrives.
      const st = this.runtime.status();
      const last = (entries[entries.length - 1] as AppliedEntry).index;
      const { log } = await readWal(this.walDir);
      this.seen.push({ last, raftLast: st.lastIndex, durableLast: st.durableIndex, walLast: log.base + log.entries.length - 1 });
    }
    return this.inner.apply(entries);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  snapshot(): Promise<{ index: number; chunks: AsyncIterable<Uint8Array> }> {
    return this.inner.snapshot();
  }

  restore(file: string, md: SnapshotMetadata): Promise<void> {
    return this.inner.restore(file, md);
  }

  peerUrls(): Map<NodeId, string> {
    return this.inner.peerUrls();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('members apply only what is durable; a leader applies it before it writes the entries proposed since', async (t) => {
  const tmp = await makeTempDir('keelson-apply-order-');
  t.after(() => tmp.cleanup());
  const ports = await freePorts(3);
  const peers = new Map<NodeId, string>(ports.map((p, i) => [i + 1, `127.0.0.1:${p}`]));
  const machines: WatchedStateMachine[] = [];
  const runtimes: RaftRuntime[] = [];
  const kvs: KvStateMachine[] = [];
  t.after(async () => {
    await Promise.all(runtimes.map((r) => r.stop({ transferLeadership: false })));
    await Promise.all(kvs.map((k) => k.close()));
  });
  for (const [id, url] of peers) {
    const dataDir = join(tmp.path, `m${id}`);
    const kv = await KvStateMachine.open(join(dataDir, 'kv'));
    kvs.push(kv);
    const sm = new WatchedStateMachine(kv, join(dataDir, 'wal'));
    machines.push(sm);
    const rt = await RaftRuntime.start({
      id,
      clusterId: 'apply-order-test',
      dataDir,
      listenPeer: url,
      advertisePeer: url,
      initialPeers: peers,
      bootstrap: [...peers].map(([pid, u]) => ({ id: pid, context: encodeContext({ peerUrl: u }) })),
      stateMachine: sm,
      logger: createLogger({ level: 'warn' }),
      // A 500 ms election timeout: one busy test process must not lose its leader mid-test.
      tickMs: 50,
      requestTimeoutMs: 10_000,
    });
    sm.runtime = rt;
    runtimes.push(rt);
  }
  const deadline = Date.now() + 15_000;
  let leaderAt = -1;
  while (leaderAt < 0 && Date.now() < deadline) {
    leaderAt = runtimes.findIndex((r) => r.isLeader());
    if (leaderAt < 0) await sleep(20);
  }
  assert.ok(leaderAt >= 0, 'a leader within 15 s');
  const leader = runtimes[leaderAt] as RaftRuntime;
  const watched = machines[leaderAt] as WatchedStateMachine;
  // Settle the first writes (the fresh log's zero-fill makes those wait on I/O).
  for (let i = 0; i < 20; i++) await leader.propose(Buffer.from(JSON.stringify({ k: `warm${i}`, v: 'x' })));
  for (const m of machines) m.watching = true;
  // Three proposals a millisecond, answered or not (an open loop): the proposals made while a
  // round is in flight and the acknowledgements that commit it meet in one Ready, and none is
  // made between a Ready and its apply (that is microtasks only).
  const TOTAL = 600;
  const answers: Promise<unknown>[] = [];
  for (let i = 0; i < TOTAL; i++) {
    answers.push(leader.propose(Buffer.from(JSON.stringify({ k: `k${i % 50}`, v: `v${i}` }))));
    if (i % 3 === 2) await sleep(1);
  }
  await Promise.all(answers);
  // The followers apply the last entries once they hear the commit index.
  const last = leader.status().commit;
  while (runtimes.some((r) => r.appliedIndex() < last) && Date.now() < deadline + 20_000) await sleep(10);
  for (const m of machines) m.watching = false;

  for (const [i, m] of machines.entries()) {
    const who = i === leaderAt ? 'the leader' : `follower ${i + 1}`;
    const seen = m.seen;
    assert.ok(seen.length >= 20, `${who} applied in ${seen.length} batches`);
    for (const s of seen) {
      assert.ok(s.last <= s.durableLast, `${who} applied up to ${s.last} with only ${s.durableLast} durable`);
      assert.ok(s.last <= s.walLast, `${who} applied up to ${s.last} with only ${s.walLast} in its log file`);
    }
  }
  // Most of the leader's Readys carry both new proposals and commits: with the write first, a
  // batch would only come with unwritten entries behind it when the write had waited for I/O.
  const seen = watched.seen;
  const ahead = seen.filter((s) => s.durableLast < s.raftLast).length;
  assert.ok(ahead >= seen.length / 2, `${ahead} of ${seen.length} batches were applied ahead of newer entries' write`);
});
