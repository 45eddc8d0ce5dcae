// The API server test suites' second backend: an in-process keelson store (one member, in a
// temp folder), reached through LocalKV. Selected with
// KEELSON_APISERVER_TEST_KV=<path of this module> (scripts/run-tests.js runs the apiserver
// tests once on etcd and once on this).

import { freePorts } from '../common/free-port.js';
import { silentLogger } from '../common/logger.js';
import { makeTempDir } from '../common/temp-dir.js';
import { LocalKV } from '../store/kv-local.js';
import { EtcdServer } from '../store/server/etcd-server.js';
import { DEFAULTS } from '../store/server/server-config.js';
import type { KvBackend } from './test-server.js';

export async function startKvBackend(): Promise<KvBackend> {
  const tmp = await makeTempDir('keelson-apiserver-kv-');
  const [peer] = await freePorts(1);
  const peerUrl = `http://127.0.0.1:${peer}`;
  let server: EtcdServer;
  try {
    server = await EtcdServer.start(
      {
        name: 'api-test',
        dataDir: tmp.path,
        listenClientUrls: [],
        advertiseClientUrls: [],
        listenPeerUrls: [peerUrl],
        initialAdvertisePeerUrls: [peerUrl],
        initialCluster: `api-test=${peerUrl}`,
        initialClusterState: 'new',
        initialClusterToken: 'apiserver-test',
        heartbeatMs: DEFAULTS.heartbeatMs,
        electionMs: DEFAULTS.electionMs,
        snapshotCount: DEFAULTS.snapshotCount,
        maxRequestBytes: DEFAULTS.maxRequestBytes,
        maxTxnOps: DEFAULTS.maxTxnOps,
        watchProgressNotifyMs: DEFAULTS.watchProgressNotifyMs,
      },
      silentLogger,
    );
  } catch (e) {
    await tmp.cleanup();
    throw e;
  }
  const kv = new LocalKV(server);
  // The first linearizable request waits for the member to elect itself; do it before the tests.
  for (let i = 0; i < 100; i++) {
    try {
      await kv.range({ key: Buffer.from('/') });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    kv,
    async stop() {
      await kv.close();
      await server.stop({ transferLeadership: false });
      await tmp.cleanup();
    },
  };
}
