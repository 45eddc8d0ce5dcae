// For tests: one keelson member in the test's own process (its state machine, hub and counters
// can be read), optionally serving the etcd gRPC API on a free loopback port.

import { configFromFlags } from '../../cli/master.js';
import { freePorts } from '../../common/free-port.js';
import { silentLogger } from '../../common/logger.js';
import { makeTempDir } from '../../common/temp-dir.js';
import { EtcdServer } from './etcd-server.js';
import { EtcdGrpcServer } from './grpc-server.js';

export interface InProcessMember {
  server: EtcdServer;
  /** host:port of its client URL (served only with `grpc`). */
  endpoint: string;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

export async function startInProcessMember(token: string, opts: { grpc?: boolean } = {}): Promise<InProcessMember> {
  const tmp = await makeTempDir('keelson-member-');
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
      initialClusterToken: token,
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
  const endpoint = `127.0.0.1:${client}`;
  const grpc = opts.grpc ? new EtcdGrpcServer(server) : undefined;
  await grpc?.start({ listen: [endpoint] });
  return {
    server,
    endpoint,
    stop: async () => {
      await grpc?.stop();
      await server.stop();
      await tmp.cleanup();
    },
  };
}
