// keelson's etcd v3 API against etcd 3.4's observed behaviour: the shared conformance suite
// (store/kv-conformance.ts), run over gRPC against a real keelson master process, and in-process
// through LocalKV.

import { describeKVConformance } from '../kv-conformance.js';
import { RemoteKV } from '../kv-remote.js';
import { startKeelsonCluster } from '../../common/keelson-cluster.js';
import { LocalKV } from '../kv-local.js';
import { startInProcessMember } from './in-process-member.js';

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
  const m = await startInProcessMember('local-test');
  const kv = new LocalKV(m.server);
  return {
    kv,
    cleanup: async () => {
      await kv.close();
      await m.stop();
    },
  };
});
