// Why a request to the Raft runtime did not succeed. The store maps each kind to etcd's error.

import type { NodeId } from '../core/types.js';

export type RaftErrorKind =
  /** This member is not the leader (and could not forward); `leader` is the hint, 0 if unknown. */
  | 'not-leader'
  /** No leader is known right now (an election is in progress or no quorum). */
  | 'no-leader'
  /** The proposal was refused (leadership transfer in progress, too many uncommitted entries...). */
  | 'dropped'
  /** No outcome within the deadline: the entry may or may not be committed later. */
  | 'timeout'
  /** A new leader overwrote the proposal: it was not committed and never will be. */
  | 'superseded'
  /** The runtime is stopping or stopped. */
  | 'stopped'
  /** The request is invalid (e.g. a membership change the configuration does not allow). */
  | 'invalid';

export class RaftError extends Error {
  override name = 'RaftError';
  constructor(
    readonly kind: RaftErrorKind,
    message: string,
    readonly leader: NodeId = 0,
  ) {
    super(message);
  }
}
