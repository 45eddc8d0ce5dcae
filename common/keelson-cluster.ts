// A local keelson cluster for tests, benchmarks and Jepsen: the same launcher as the reference
// etcd (common/etcd-reference.ts) with the same etcd flags, because `keelson master` takes
// etcd's flags. The master is run from the build this module belongs to (dist/ or dist-*/).

import { fileURLToPath } from 'node:url';
import { startEtcdReference, type EtcdReference, type EtcdReferenceOptions } from './etcd-reference.js';

export const KEELSON_CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export type KeelsonClusterOptions = Omit<EtcdReferenceOptions, 'binary' | 'prefixArgs' | 'label'>;

export function startKeelsonCluster(options: KeelsonClusterOptions = {}): Promise<EtcdReference> {
  return startEtcdReference({
    dirPrefix: 'keelson-cluster-',
    ...options,
    binary: process.execPath,
    prefixArgs: [KEELSON_CLI, 'master'],
    label: 'keelson',
  });
}
