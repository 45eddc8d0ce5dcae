// Many megabytes of events through one real Watch stream, every event checked byte for byte:
// the event frames are written into chunks that are reused once the socket has sent them
// (watch-frames.ts), so a chunk reused too early would show here as a wrong key or value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromFlags } from '../../cli/master.js';
import { freePorts } from '../../common/free-port.js';
import { silentLogger } from '../../common/logger.js';
import { makeTempDir } from '../../common/temp-dir.js';
import type { WatchResponse } from '../api/types.js';
import { RemoteKV } from '../kv-remote.js';
import { EtcdServer } from './etcd-server.js';
import { EtcdGrpcServer } from './grpc-server.js';
import { pooledChunkReuses } from './watch-frames.js';

const WATCHERS = 8;
const PUTS = 1500;
/** Few enough that grpc-js keeps up: a chunk is reused only once the stream's queue is short. */
const IN_FLIGHT = 4;
const VALUE_BYTES = 1024;

function valueOf(i: number): Buffer {
  const v = Buffer.alloc(VALUE_BYTES);
  for (let j = 0; j < VALUE_BYTES; j += 4) v.writeUInt32LE((i * 2654435761 + j) >>> 0, j);
  return v;
}

test('a watch stream carries ~12 MB of events to 8 watchers intact while its frame chunks are reused', { timeout: 120_000 }, async () => {
  const tmp = await makeTempDir('keelson-watch-volume-');
  const [client, peer] = await freePorts(2);
  const server = await EtcdServer.start(
    configFromFlags({
      name: 'solo',
      dataDir: tmp.path,
      listenClientUrls: [`http://127.0.0.1:${client}`],
      advertiseClientUrls: [`http://127.0.0.1:${client}`],
      listenPeerUrls: [`http://127.0.0.1:${peer}`],
      initialAdvertisePeerUrls: [`http://127.0.0.1:${peer}`],
      initialClusterState: 'new',
      initialClusterToken: 'watch-volume',
      heartbeatInterval: 100,
      electionTimeout: 1000,
      snapshotCount: 100_000,
      maxRequestBytes: 1.5 * 1024 * 1024,
      maxTxnOps: 128,
      experimentalWatchProgressNotifyInterval: 600_000,
      logLevel: 'error',
    }),
    silentLogger,
  );
  // In this process (not a master child) so that the chunk pool's counter can be read.
  const grpc = new EtcdGrpcServer(server);
  await grpc.start({ listen: [`127.0.0.1:${client}`] });
  const kv = new RemoteKV({ endpoints: [`127.0.0.1:${client}`], timeoutMs: 30_000 });
  try {
    const reusesBefore = pooledChunkReuses();
    const seen: { key: string; value: Buffer; rev: number }[][] = Array.from({ length: WATCHERS }, () => []);
    let failure: Error | undefined;
    const handles = seen.map((got) =>
      kv.watch(
        { key: Buffer.from('vol/'), rangeEnd: Buffer.from('vol0') },
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
    const revs = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < PUTS) {
          const i = next++;
          const key = `vol/${String(i).padStart(5, '0')}`;
          const r = await kv.put({ key: Buffer.from(key), value: valueOf(i) });
          revs.set(key, r.header.revision);
        }
      }),
    );
    const deadline = Date.now() + 60_000;
    while (seen.some((g) => g.length < PUTS) && Date.now() < deadline && !failure) await new Promise((r) => setTimeout(r, 20));
    assert.equal(failure, undefined);
    for (const got of seen) {
      assert.equal(got.length, PUTS);
      for (let k = 0; k < got.length; k++) {
        const e = got[k]!;
        if (k > 0) assert.ok(e.rev > got[k - 1]!.rev, 'events in revision order');
        const i = Number(e.key.slice(4));
        assert.equal(e.rev, revs.get(e.key), `revision of ${e.key}`);
        assert.ok(e.value.equals(valueOf(i)), `value of ${e.key} at position ${k}`);
      }
    }
    assert.ok(pooledChunkReuses() > reusesBefore, 'frames went through reused chunks');
    for (const h of handles) h.cancel();
  } finally {
    await kv.close();
    await grpc.stop();
    await server.stop();
    await tmp.cleanup();
  }
});
