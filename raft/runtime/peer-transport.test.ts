// The peer transport between real gRPC servers on loopback: no head-of-line blocking of
// heartbeats behind a large append, bounded memory for a dead peer, reconnect after a restart,
// snapshots streamed in chunks, and strangers refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { freePorts } from '../../common/free-port.js';
import { makeTempDir } from '../../common/temp-dir.js';
import { EntryType, MessageType, newMessage, type Message } from '../core/types.js';
import { PeerTransport, type ReceivedSnapshot, type TransportHandler } from './peer-transport.js';
import { neverSent } from './raft-runtime.js';

interface Probe {
  handler: TransportHandler;
  got: { m: Message; at: number }[];
  snapshots: ReceivedSnapshot[];
  unreachable: number[];
  snapStatus: { peer: number; ok: boolean }[];
}

function probe(snapshotBytes?: Buffer): Probe {
  const p: Probe = { got: [], snapshots: [], unreachable: [], snapStatus: [], handler: undefined as unknown as TransportHandler };
  p.handler = {
    onMessages: (msgs) => {
      for (const m of msgs) p.got.push({ m, at: performance.now() });
    },
    onSnapshotReceived: (s) => p.snapshots.push(s),
    onPropose: async () => ({ term: 1, index: 7, error: '', leader: 1 }),
    onForward: async (req) => ({ payload: Buffer.from(`echo:${req.kind}`), error: '' }),
    onUnreachable: (peer) => p.unreachable.push(peer),
    onSnapshotStatus: (peer, ok) => p.snapStatus.push({ peer, ok }),
    snapshotSource: async () => ({
      metadata: { index: 100, term: 3, confState: { voters: [1, 2], learners: [] } },
      chunks: (async function* () {
        const b = snapshotBytes ?? Buffer.alloc(0);
        for (let off = 0; off < b.length; off += 300_000) yield b.subarray(off, off + 300_000);
      })(),
    }),
    log: () => undefined,
  };
  return p;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function pair(t: { after: (f: () => Promise<void>) => void }, snapshotBytes?: Buffer, opts: { clusterB?: string } = {}) {
  const tmp = await makeTempDir('keelson-transport-');
  const [pa, pb, pc] = await freePorts(3);
  const a = probe(snapshotBytes);
  const b = probe();
  const ta = new PeerTransport({ selfId: 1, clusterId: 'c1', listen: `127.0.0.1:${pa}`, snapshotDir: `${tmp.path}/a`, handler: a.handler, maxQueuedMessages: 1000 });
  const tb = new PeerTransport({ selfId: 2, clusterId: opts.clusterB ?? 'c1', listen: `127.0.0.1:${pb}`, snapshotDir: `${tmp.path}/b`, handler: b.handler });
  await ta.start();
  await tb.start();
  // Member 3 is down: nothing listens on its port.
  ta.setPeers(new Map([[2, `127.0.0.1:${pb}`], [3, `127.0.0.1:${pc}`]]));
  tb.setPeers(new Map([[1, `127.0.0.1:${pa}`]]));
  t.after(async () => {
    await ta.stop();
    await tb.stop();
    await tmp.cleanup();
  });
  return { ta, tb, a, b, ports: { pa, pb, pc }, tmp };
}

const hb = (to: number, term = 1): Message => newMessage(MessageType.Heartbeat, { to, from: 1, term });
const app = (to: number, bytes: number): Message =>
  newMessage(MessageType.App, { to, from: 1, term: 1, entries: [{ term: 1, index: 1, type: EntryType.Normal, data: Buffer.alloc(bytes, 7) }] });

test('a heartbeat is not held up behind a large append', async (t) => {
  const { ta, b } = await pair(t);
  // Warm the connection up.
  ta.send([hb(2)]);
  await until(() => b.got.length === 1, 5000, 'first heartbeat');
  ta.send([app(2, 48 * 1024 * 1024)]);
  ta.send([hb(2, 2)]);
  await until(() => b.got.length === 3, 20_000, 'the append and the heartbeat');
  const order = b.got.slice(1).map((g) => g.m.type);
  assert.deepEqual(order, [MessageType.Heartbeat, MessageType.App], 'the heartbeat waited for the append');
});

test('a dead peer costs bounded memory and does not slow the others', async (t) => {
  const { ta, b, a } = await pair(t);
  for (let i = 0; i < 20_000; i++) ta.send([hb(3), hb(2)]);
  await until(() => b.got.length >= 1000, 10_000, 'messages to the live peer');
  assert.ok(a.unreachable.includes(3), 'the dead peer was never reported unreachable');
  // Bounded: at most maxQueuedMessages can be waiting for the dead peer at any moment.
  const link = (ta as unknown as { peers: Map<number, { ctl: { queue: Message[] } }> }).peers.get(3);
  assert.ok((link?.ctl.queue.length ?? 0) <= 1000);
});

test('streams reconnect after the peer restarts', async (t) => {
  const { ta, tb, b, ports } = await pair(t);
  ta.send([hb(2)]);
  await until(() => b.got.length === 1, 5000, 'first heartbeat');
  await tb.stop();
  const b2 = probe();
  const tb2 = new PeerTransport({ selfId: 2, clusterId: 'c1', listen: `127.0.0.1:${ports.pb}`, snapshotDir: '/tmp/unused-snap', handler: b2.handler });
  t.after(() => tb2.stop());
  await new Promise((r) => setTimeout(r, 100));
  await tb2.start();
  // Keep sending as Raft would (heartbeats every tick) until one gets through again.
  const deadline = Date.now() + 10_000;
  while (b2.got.length === 0 && Date.now() < deadline) {
    ta.send([hb(2)]);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(b2.got.length > 0, 'no message got through after the restart');
});

test('a snapshot is streamed in chunks, verified, and reported', async (t) => {
  const data = Buffer.alloc(5 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const { ta, a, b } = await pair(t, data);
  ta.send([newMessage(MessageType.Snap, { to: 2, from: 1, term: 3, snapshot: { metadata: { index: 50, term: 3, confState: { voters: [1, 2], learners: [] } }, data: new Uint8Array(0) } })]);
  await until(() => b.snapshots.length === 1 && a.snapStatus.length === 1, 10_000, 'the snapshot');
  const s = b.snapshots[0] as ReceivedSnapshot;
  assert.equal(s.size, data.length);
  assert.equal(s.header.snapshot?.metadata.index, 100, 'the header carries the fresh snapshot metadata');
  assert.equal(createHash('sha256').update(readFileSync(s.file)).digest('hex'), createHash('sha256').update(data).digest('hex'));
  assert.deepEqual(a.snapStatus[0], { peer: 2, ok: true });
});

test('a peer from another cluster is refused', async (t) => {
  const { ta, a, b } = await pair(t, undefined, { clusterB: 'other' });
  for (let i = 0; i < 20 && a.unreachable.length === 0; i++) {
    ta.send([hb(2)]);
    await new Promise((r) => setTimeout(r, 50));
  }
  await until(() => a.unreachable.includes(2), 5000, 'the refusal');
  assert.equal(b.got.length, 0);
});

test('a forwarded proposal gets the leader answer', async (t) => {
  const { ta } = await pair(t);
  const r = await ta.propose(2, Buffer.from('x'), 3000);
  assert.deepEqual(r, { term: 1, index: 7, error: '', leader: 1 });
});

test('a forwarded application request gets the peer handler answer', async (t) => {
  const { ta } = await pair(t);
  const r = await ta.forward(2, { kind: 'lease-renew', payload: Buffer.from('x') }, 3000);
  assert.equal(Buffer.from(r.payload).toString(), 'echo:lease-renew');
  assert.equal(r.error, '');
});

test('a proposal to a peer that cannot be reached counts as never sent; an unanswered one does not', async (t) => {
  const { ta } = await pair(t);
  const err = await ta.propose(3, Buffer.from('x'), 2000).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err, 'the dead peer answered');
  assert.equal(neverSent(err), true, String(err));
  // A deadline or a reset may come after the peer took the request: retrying could duplicate it.
  assert.equal(neverSent({ code: 4, details: 'Deadline exceeded' }), false);
  assert.equal(neverSent({ code: 14, details: 'Connection dropped' }), false);
});
