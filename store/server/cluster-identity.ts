// Who this member is in which cluster: derived from the flags when a cluster is created (as
// etcd derives member and cluster IDs), remembered in the data dir, and from then on taken
// from there (the --initial-* flags are ignored on restart, as etcd ignores them).

import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { clusterIdFor, memberIdFor } from '../../raft/runtime/member-id.js';
import { encodeMemberContext } from './member-context.js';
import { parseInitialCluster, UrlError } from './peer-url.js';
import type { ServerConfig } from './server-config.js';

export interface ClusterIdentity {
  clusterId: number;
  memberId: number;
  name: string;
}

export interface InitialMember {
  id: number;
  name: string;
  peerURLs: string[];
}

export interface Bootstrap {
  identity: ClusterIdentity;
  members: InitialMember[];
  /** The Raft bootstrap entries' contexts: identical on every initial member. */
  raftPeers: { id: number; context: Uint8Array }[];
}

export function identityFile(dataDir: string): string {
  return join(dataDir, 'member', 'identity.json');
}

export function readIdentity(dataDir: string): ClusterIdentity | undefined {
  const f = identityFile(dataDir);
  if (!existsSync(f)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(f, 'utf8'));
  } catch (e) {
    throw new Error(`${f} is damaged: ${(e as Error).message}`);
  }
  const o = v as Partial<{ clusterId: string; memberId: string; name: string }>;
  if (typeof o.clusterId !== 'string' || typeof o.memberId !== 'string' || typeof o.name !== 'string') throw new Error(`${f} is damaged: missing fields`);
  return { clusterId: parseInt(o.clusterId, 16), memberId: parseInt(o.memberId, 16), name: o.name };
}

export function writeIdentity(dataDir: string, id: ClusterIdentity): void {
  const f = identityFile(dataDir);
  mkdirSync(join(dataDir, 'member'), { recursive: true });
  writeFileSync(`${f}.tmp`, JSON.stringify({ clusterId: id.clusterId.toString(16), memberId: id.memberId.toString(16), name: id.name }, null, 2));
  renameSync(`${f}.tmp`, f);
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  const norm = (l: readonly string[]): string => [...l].map((u) => u.replace(/\/$/, '')).sort().join(',');
  return norm(a) === norm(b);
}

/** The identity and bootstrap entries of a brand-new cluster, from the flags (etcd's rules). */
export function planNewCluster(c: Pick<ServerConfig, 'name' | 'initialCluster' | 'initialClusterToken' | 'initialAdvertisePeerUrls'>): Bootstrap {
  const members = parseInitialCluster(c.initialCluster).map((m) => ({ ...m, id: memberIdFor(m.peerURLs, c.initialClusterToken) }));
  const self = members.find((m) => m.name === c.name);
  if (!self) throw new UrlError(`--initial-cluster has no member named "${c.name}" (--name)`);
  if (!sameUrls(self.peerURLs, c.initialAdvertisePeerUrls)) {
    throw new UrlError(
      `--initial-cluster has ${c.name}=${self.peerURLs.join(',')} but --initial-advertise-peer-urls is ${c.initialAdvertisePeerUrls.join(',')}; they must match`,
    );
  }
  const ids = new Set<number>();
  for (const m of members) {
    if (ids.has(m.id)) throw new UrlError(`--initial-cluster lists the peer URLs ${m.peerURLs.join(',')} twice`);
    ids.add(m.id);
  }
  const clusterId = clusterIdFor(members.map((m) => m.id));
  return {
    identity: { clusterId, memberId: self.id, name: c.name },
    members,
    raftPeers: members.map((m) => ({ id: m.id, context: encodeMemberContext({ name: m.name, peerURLs: m.peerURLs, clientURLs: [] }) })),
  };
}
