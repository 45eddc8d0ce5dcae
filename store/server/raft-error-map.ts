// Raft runtime failures as the errors etcd clients know (same codes and messages as etcd 3.4),
// so their retry logic (retry on UNAVAILABLE) does the right thing.

import { EtcdError, Errors, GrpcCode } from '../api/errors.js';
import { RaftError } from '../../raft/runtime/raft-errors.js';

export function toEtcdError(e: unknown): EtcdError {
  if (e instanceof EtcdError) return e;
  if (e instanceof RaftError) {
    switch (e.kind) {
      case 'not-leader':
      case 'no-leader':
        return Errors.noLeader();
      case 'timeout':
        return Errors.timeout();
      case 'superseded':
        return Errors.leaderChanged();
      case 'dropped':
        return e.message.includes('too-many-uncommitted') ? Errors.tooManyRequests() : Errors.leaderChanged();
      case 'stopped':
        return Errors.stopped();
      case 'invalid':
        return new EtcdError(GrpcCode.INVALID_ARGUMENT, `etcdserver: ${e.message}`);
    }
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new EtcdError(GrpcCode.UNKNOWN, msg);
}
