// Majority arithmetic: which index a majority has acknowledged, and how an election stands.

import type { NodeId } from './types.js';

export enum VoteResult {
  Pending = 'pending',
  Won = 'won',
  Lost = 'lost',
}

/**
 * The largest index acknowledged by a majority of `voters`. An empty configuration commits
 * everything (Infinity), so it never holds the log back in a joint computation.
 */
export function majorityCommitted(voters: ReadonlySet<NodeId>, acked: (id: NodeId) => number | undefined): number {
  const n = voters.size;
  if (n === 0) return Number.MAX_SAFE_INTEGER;
  // Insertion sort, descending: the leader runs this on every append response, and
  // Array.prototype.sort's work array was ~10% of a busy leader's allocations.
  const idx = new Array<number>(n);
  let len = 0;
  for (const id of voters) {
    const v = acked(id) ?? 0;
    let j = len++;
    while (j > 0 && (idx[j - 1] as number) < v) {
      idx[j] = idx[j - 1] as number;
      j--;
    }
    idx[j] = v;
  }
  // The (n/2+1)-th largest: that many voters have at least this index.
  return idx[Math.floor(n / 2)] as number;
}

export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
