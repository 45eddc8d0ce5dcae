// A kubeconfig for an ApiServer URL, so kubectl and client libraries can reach it
// (`export KUBECONFIG=...`). The API server here speaks plain http on loopback, without
// authentication, so the user entry is empty.

import { writeFile } from 'node:fs/promises';

export interface KubeconfigOptions {
  server: string;
  /** Cluster, user and context name (default "keelson"). */
  name?: string;
  namespace?: string;
}

export function kubeconfigYaml(o: KubeconfigOptions): string {
  const name = o.name ?? 'keelson';
  const q = (s: string): string => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    server: ${q(o.server)}`,
    `  name: ${q(name)}`,
    'contexts:',
    '- context:',
    `    cluster: ${q(name)}`,
    `    user: ${q(name)}`,
    `    namespace: ${q(o.namespace ?? 'default')}`,
    `  name: ${q(name)}`,
    `current-context: ${q(name)}`,
    'preferences: {}',
    'users:',
    `- name: ${q(name)}`,
    '  user: {}',
    '',
  ].join('\n');
}

export async function writeKubeconfig(path: string, o: KubeconfigOptions): Promise<void> {
  await writeFile(path, kubeconfigYaml(o), { mode: 0o600 });
}
