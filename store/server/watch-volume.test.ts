// Many megabytes of events through real Watch streams, every event checked byte for byte: the
// event frames are written into chunks that are reused once the socket has sent them
// (watch-frames.ts), so a chunk reused too early would show here as a wrong key or value. The
// second test stalls the client's connection (a TCP proxy stops reading) until the stream's
// buffer is full and its watchers must catch up from history, then lets it drain.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { WatchResponse } from '../api/types.js';
import { RemoteKV } from '../kv-remote.js';
import { b, prefixEnd, waitUntil } from '../kv-test-support.js';
import { startInProcessMember } from './in-process-member.js';
import { pooledChunkReuses } from './watch-frames.js';

const WATCHERS = 8;
const VALUE_BYTES = 1024;

function valueOf(i: number): Buffer {
  const v = Buffer.alloc(VALUE_BYTES);
  for (let j = 0; j < VALUE_BYTES; j += 4) v.writeUInt32LE((i * 2654435761 + j) >>> 0, j);
  return v;
}

interface Seen {
  key: string;
  value: Buffer;
  rev: number;
}

/** WATCHERS watches on prefix `vol/`; resolves once all are created. */
async function watchAll(kv: RemoteKV): Promise<{ seen: Seen[][]; failure: () => Error | undefined; cancel: () => void }> {
  const seen: Seen[][] = Array.from({ length: WATCHERS }, () => []);
  let failure: Error | undefined;
  const handles = seen.map((got) =>
    kv.watch(
      { key: b('vol/'), rangeEnd: prefixEnd(b('vol/')) },
      {
        onResponse: (res: WatchResponse) => {
          for (const e of res.events) got.push({ key: e.kv.key.toString(), value: Buffer.from(e.kv.value), rev: e.kv.modRevision });
        },
        onClose: (err) => {
          if (err) failure = err;
        },
      },
    ),
  );
  await Promise.all(handles.map((h) => h.created));
  return { seen, failure: () => failure, cancel: () => handles.forEach((h) => h.cancel()) };
}

/** Puts `vol/00000`... `puts` keys, `inFlight` at a time; the revision of each key. */
async function putAll(kv: RemoteKV, puts: number, inFlight: number): Promise<Map<string, number>> {
  const revs = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < puts) {
        const i = next++;
        const key = `vol/${String(i).padStart(5, '0')}`;
        const r = await kv.put({ key: Buffer.from(key), value: valueOf(i) });
        revs.set(key, r.header.revision);
      }
    }),
  );
  return revs;
}

async function checkAll(w: Awaited<ReturnType<typeof watchAll>>, puts: number, revs: Map<string, number>): Promise<void> {
  // On a timeout the assertions below say what was missing.
  await waitUntil('every event at every watcher', () => w.failure() !== undefined || w.seen.every((g) => g.length >= puts), 60_000).catch(() => undefined);
  assert.equal(w.failure(), undefined);
  for (const got of w.seen) {
    assert.equal(got.length, puts);
    for (let k = 0; k < got.length; k++) {
      const e = got[k]!;
      if (k > 0) assert.ok(e.rev > got[k - 1]!.rev, 'events in revision order');
      const i = Number(e.key.slice(4));
      assert.equal(e.rev, revs.get(e.key), `revision of ${e.key}`);
      assert.ok(e.value.equals(valueOf(i)), `value of ${e.key} at position ${k}`);
    }
  }
}

test('a watch stream carries ~12 MB of events to 8 watchers intact while its frame chunks are reused', { timeout: 120_000 }, async () => {
  const m = await startInProcessMember('watch-volume', { grpc: true });
  const kv = new RemoteKV({ endpoints: [m.endpoint], timeoutMs: 30_000 });
  try {
    const reusesBefore = pooledChunkReuses();
    const w = await watchAll(kv);
    // 4 puts in flight: few enough that grpc-js keeps up (a chunk is reused only once the
    // stream's queue is short).
    const puts = 1500;
    await checkAll(w, puts, await putAll(kv, puts, 4));
    assert.ok(pooledChunkReuses() > reusesBefore, 'frames went through reused chunks');
    w.cancel();
  } finally {
    await kv.close();
    await m.stop();
  }
});

test('a watch client that stops reading: its watchers fall behind, catch up, and miss nothing', { timeout: 120_000 }, async () => {
  const m = await startInProcessMember('watch-volume', { grpc: true });
  // The watchers' connection goes through this proxy, which stops reading from the server while
  // `stalled`; the writer talks to the server directly.
  let stalled = false;
  const upstreams = new Set<Socket>();
  const proxy: Server = createServer((down) => {
    const [host, port] = m.endpoint.split(':');
    const up = connect(Number(port), host!);
    upstreams.add(up);
    down.pipe(up);
    up.on('data', (d: Buffer) => {
      if (!down.write(d) || stalled) up.pause();
    });
    down.on('drain', () => {
      if (!stalled) up.resume();
    });
    const close = (): void => {
      down.destroy();
      up.destroy();
      upstreams.delete(up);
    };
    up.on('error', close).on('close', close);
    down.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const proxyPort = (proxy.address() as { port: number }).port;
  const watchKv = new RemoteKV({ endpoints: [`127.0.0.1:${proxyPort}`], timeoutMs: 30_000, keepAliveMs: 0 });
  const writeKv = new RemoteKV({ endpoints: [m.endpoint], timeoutMs: 30_000 });
  try {
    const hub = m.server.sm.watchHub;
    const slowBefore = hub.stats().slowStreamEvents;
    const w = await watchAll(watchKv);
    stalled = true;
    for (const up of upstreams) up.pause();
    // 2,500 puts x 8 watchers x ~1.1 KB = ~22 MB: more than the stream's 8 MiB buffer and the
    // sockets' buffers together.
    const puts = 2500;
    const revs = await putAll(writeKv, puts, 20);
    assert.ok(hub.stats().slowStreamEvents > slowBefore, 'the stream was full and its watchers fell behind');
    stalled = false;
    for (const up of upstreams) up.resume();
    await checkAll(w, puts, revs);
    w.cancel();
  } finally {
    await watchKv.close();
    await writeKv.close();
    await new Promise<void>((r) => proxy.close(() => r()));
    for (const up of upstreams) up.destroy();
    await m.stop();
  }
});
