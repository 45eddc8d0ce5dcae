// The systems a Jepsen run can test. Both take etcd's own flags, so a target is only its command
// line (binary and subcommand) plus how its peer links can be faulted:
//  - etcd: peer traffic is HTTP/1.1; members advertise the URL of an inbound fault proxy in front
//    of their real peer listener, which tells senders apart (X-Server-From, else /proc);
//  - keelson: peer traffic is gRPC (HTTP/2); each master dials its peers through its own HTTP
//    CONNECT fault proxy, given to grpc-js as grpc_proxy.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/package-root.js';
import { MASTER_NODE_FLAGS } from '../../common/master-node-flags.js';

export const TARGETS = ['keelson', 'etcd'] as const;
export type TargetName = (typeof TARGETS)[number];

export const ETCD_BINARY = '/usr/bin/etcd';

export interface Target {
  name: TargetName;
  /** The argv before the flags: the binary and any subcommand. */
  command: readonly string[];
  peerProxy: 'inbound' | 'outbound';
  /** Flags after the common ones. */
  extraArgs: readonly string[];
  /** Why the target cannot run here (binary missing), or undefined. */
  unavailable(): string | undefined;
}

export function etcdTarget(binary = ETCD_BINARY): Target {
  return {
    name: 'etcd',
    command: [binary],
    peerProxy: 'inbound',
    extraArgs: ['--logger=zap', '--log-outputs=stderr'],
    unavailable: () => (existsSync(binary) ? undefined : `etcd binary not found at ${binary} (install etcd-server)`),
  };
}

/** `node <package root>/bin/keelson.js master`, exactly like /usr/bin/etcd. */
export function keelsonTarget(root = packageRoot()): Target {
  const bin = join(root, 'bin', 'keelson.js');
  return {
    name: 'keelson',
    command: [process.execPath, ...MASTER_NODE_FLAGS, bin, 'master'],
    peerProxy: 'outbound',
    extraArgs: [],
    unavailable: () => (existsSync(bin) ? undefined : `${bin} not found`),
  };
}

export function targetByName(name: TargetName): Target {
  return name === 'etcd' ? etcdTarget() : keelsonTarget();
}

export interface MemberFlags {
  name: string;
  dataDir: string;
  clientUrl: string;
  listenPeerUrl: string;
  advertisePeerUrl: string;
  /** "n1=http://...,n2=http://..." */
  initialCluster: string;
  state: 'new' | 'existing';
  token: string;
  heartbeatMs: number;
  electionMs: number;
}

export function memberArgs(t: Target, f: MemberFlags): string[] {
  return [
    ...t.command.slice(1),
    `--name=${f.name}`,
    `--data-dir=${f.dataDir}`,
    `--listen-client-urls=${f.clientUrl}`,
    `--advertise-client-urls=${f.clientUrl}`,
    `--listen-peer-urls=${f.listenPeerUrl}`,
    `--initial-advertise-peer-urls=${f.advertisePeerUrl}`,
    `--initial-cluster=${f.initialCluster}`,
    `--initial-cluster-state=${f.state}`,
    `--initial-cluster-token=${f.token}`,
    `--heartbeat-interval=${f.heartbeatMs}`,
    `--election-timeout=${f.electionMs}`,
    ...t.extraArgs,
  ];
}

/**
 * The member's environment: ours without what would change the cluster behind our back (etcd
 * reads ETCD_* as flags) or bypass the fault proxies (no_proxy lists), plus grpc_proxy for
 * targets whose peer links go through an outbound proxy.
 */
export function memberEnv(t: Target, outboundProxyUrl: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('ETCD_') || /^(no_grpc_proxy|no_proxy|grpc_proxy|https?_proxy)$/i.test(k)) delete env[k];
  }
  if (t.peerProxy === 'outbound' && outboundProxyUrl !== undefined) env.grpc_proxy = outboundProxyUrl;
  return env;
}
