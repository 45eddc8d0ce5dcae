// The processes of a local cluster, as specs that `cluster up/down/status` act on without knowing
// what each one is: today one `keelson master` per master in cluster.json.
//
// Each master also serves the Kubernetes API when the layout gives it an API URL. Extension
// point: a worker node will be one more spec with its own subcommand, data dir, log, pid file and
// health URL. Nothing else in up/down/status changes.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../common/package-root.js';
import { endpointOf, inDir, initialCluster, type ClusterLayout, type MasterLayout } from './cluster-layout.js';

export interface ProcessSpec {
  /** `keelson <subcommand>` this process runs; also part of how a pid is recognised as ours. */
  subcommand: 'master';
  name: string;
  /** Arguments after the entry script: `node <entry> <args...>`. */
  args: string[];
  /** Absolute paths. The data dir identifies the process: its command line holds `--data-dir <dataDir>`. */
  dataDir: string;
  logFile: string;
  pidFile: string;
  /** GET answers {"health":"true"} once the process serves. */
  healthUrl: string;
  /** "host:port" for clients (etcdctl, RemoteKV). */
  endpoint: string;
}

/**
 * The script processes run: bin/keelson.js (what `npx keelson` runs) when this code is the
 * installed build in dist/, otherwise this build's own cli/main.js, so a test of a build in another
 * folder starts masters of that same build.
 */
export function keelsonEntry(): string {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const root = packageRoot();
  return dirname(dirname(main)) === join(root, 'dist') ? join(root, 'bin', 'keelson.js') : main;
}

function masterArgs(dir: string, layout: ClusterLayout, m: MasterLayout): string[] {
  // On a restart the master reads its identity from the data dir and ignores the initial-* flags;
  // they are passed anyway so each command line is complete and the same every time.
  return [
    'master',
    '--name', m.name,
    '--data-dir', inDir(dir, m.dataDir),
    '--listen-client-urls', m.clientUrl,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl,
    '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', initialCluster(layout),
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', layout.token,
    ...(m.apiUrl ? ['--api-listen-url', m.apiUrl] : []),
  ];
}

export function clusterProcesses(dir: string, layout: ClusterLayout): ProcessSpec[] {
  return layout.masters.map((m) => ({
    subcommand: 'master',
    name: m.name,
    args: masterArgs(dir, layout, m),
    dataDir: inDir(dir, m.dataDir),
    logFile: inDir(dir, m.logFile),
    pidFile: inDir(dir, m.pidFile),
    healthUrl: new URL('/health', m.clientUrl).href,
    endpoint: endpointOf(m.clientUrl),
  }));
}
