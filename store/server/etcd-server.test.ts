// keelson's etcd v3 API against etcd 3.4's observed behaviour: the shared conformance suite
// (store/kv-conformance.ts), run over gRPC against a real keelson master process, and in-process
// through LocalKV.

import { describeKVConformance } from '../kv-conformance.js';
import { RemoteKV } from '../kv-remote.js';
import { startKeelsonCluster } from '../../common/keelson-cluster.js';
import { freePorts } from '../../common/free-port.js';
import { silentLogger } from '../../common/logger.js';
import { makeTempDir } from '../../common/temp-dir.js';
import { configFromFlags } from '../../cli/master.js';
import { LocalKV } from '../kv-local.js';
import { EtcdServer } from './etcd-server.js';

describeKVConformance('keelson master (1 member) over gRPC', async () => {
  const cluster = await startKeelsonCluster({ members: 1 });
  const kv = new RemoteKV({ endpoints: cluster.endpoints });
  return {
    kv,
    cleanup: async () => {
      await kv.close();
      await cluster.stop();
    },
  };
});

describeKVConformance('keelson store in-process (LocalKV)', async () => {
  const tmp = await makeTempDir('keelson-local-');
  const [peer] = await freePorts(1);
  const server = await EtcdServer.start(
    configFromFlags({
      name: 'solo',
      dataDir: tmp.path,
      listenClientUrls: ['http://127.0.0.1:0'],
      advertiseClientUrls: ['http://127.0.0.1:0'],
      listenPeerUrls: [`http://127.0.0.1:${peer}`],
      initialAdvertisePeerUrls: [`http://127.0.0.1:${peer}`],
      initialClusterState: 'new',
      initialClusterToken: 'local-test',
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
  const kv = new LocalKV(server);
  return {
    kv,
    cleanup: async () => {
      await kv.close();
      await server.stop();
      await tmp.cleanup();
    },
  };
});
