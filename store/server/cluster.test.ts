// A 3-member keelson cluster through the same cluster/maintenance suite etcd passes.

import { startKeelsonCluster } from '../../common/keelson-cluster.js';
import { describeClusterConformance } from '../cluster-conformance.js';

describeClusterConformance('keelson, 3 members: cluster, maintenance, endpoints', () => startKeelsonCluster({ members: 3 }), {
  boltSnapshot: false,
});
