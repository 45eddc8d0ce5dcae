// Member and cluster ids, derived as etcd derives them (sha1 of the peer URLs and the cluster
// token), cut to 52 bits so that they are exact JavaScript numbers and still valid uint64 ids.

import { createHash } from 'node:crypto';

function sha1To52Bits(s: string): number {
  const h = createHash('sha1').update(s).digest();
  // The top 52 bits of the first 8 bytes; never 0 (0 means "none" in Raft).
  const hi = h.readUInt32BE(0);
  const lo = h.readUInt32BE(4) >>> 12;
  const id = hi * 2 ** 20 + lo;
  return id === 0 ? 1 : id;
}

export function memberIdFor(peerURLs: readonly string[], clusterToken: string, salt = ''): number {
  return sha1To52Bits([...peerURLs].sort().join('') + clusterToken + salt);
}

export function clusterIdFor(memberIds: readonly number[]): number {
  return sha1To52Bits([...memberIds].sort((a, b) => a - b).map((x) => x.toString(16)).join(','));
}

export function hexId(id: number | bigint): string {
  return id.toString(16);
}
