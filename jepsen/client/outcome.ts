// What a failed client call says about whether the operation happened. Jepsen's rule: an
// operation is 'fail' only when it definitely did not take effect; anything else that went wrong
// is 'info' (indeterminate). Reads have no effect, so a failed read is always 'fail'.
//
// Definite for a mutation: errors the server returns from validation before anything is
// proposed (INVALID_ARGUMENT, e.g. a bad request; NOT_FOUND, e.g. an unknown lease — etcd checks
// it when applying, and the failed op changes nothing), and a call the client refused to send
// (client closed), or a call grpc-js never sent because it had no connection to the member
// ("No connection established": the channel was down when the call started). Timeouts, lost connections, "leader changed", "request timed out", "no
// leader" ... may all follow a proposal that still commits: indeterminate.

import { EtcdError, GrpcCode } from '../../store/api/errors.js';

/** grpc-js's words for a call failed before it was sent (the channel was in TRANSIENT_FAILURE). */
const NEVER_SENT = /: No connection established\b/;

export function definitelyFailed(err: unknown): boolean {
  if (!(err instanceof EtcdError)) return false;
  if (err.code === GrpcCode.INVALID_ARGUMENT || err.code === GrpcCode.NOT_FOUND) return true;
  if (err.code === GrpcCode.UNAVAILABLE && NEVER_SENT.test(err.message)) return true;
  return err.code === GrpcCode.CANCELLED && err.message === 'keelson: client is closed';
}

/** A short text for the history's error field. */
export function describeError(err: unknown): string {
  if (err instanceof EtcdError) return `${GrpcCode[err.code] ?? err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
