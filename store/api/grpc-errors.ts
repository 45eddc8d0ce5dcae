// EtcdError <-> gRPC status. etcd sends its errors as a status whose code and details are exactly
// the EtcdError's code and message (errors.ts), so the mapping is 1:1 both ways. Statuses that did
// not come from an etcd server (connection refused, local deadline, client closed) become an
// EtcdError with the same code and a message that says what happened on the client side.

import type { Metadata } from '@grpc/grpc-js';
import { EtcdError, Errors, GrpcCode } from './errors.js';

/** The status a server sends for an EtcdError (or for any other error: UNKNOWN). */
export function toGrpcStatus(err: unknown): { code: number; details: string } {
  if (err instanceof EtcdError) return { code: err.code, details: err.message };
  return { code: GrpcCode.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

/** A status error as grpc-js hands it to callbacks and stream 'error' handlers. */
export interface GrpcStatusError {
  code: number;
  details: string;
  metadata?: Metadata;
}

export function isGrpcStatusError(e: unknown): e is GrpcStatusError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'number' &&
    typeof (e as { details?: unknown }).details === 'string'
  );
}

/** Messages of errors that come from an etcd server, never from the transport. */
function fromServer(details: string): boolean {
  return details.startsWith('etcdserver: ');
}

export interface CallContext {
  /** "KV.Range", "Watch.Watch", ... */
  method: string;
  endpoint: string;
  timeoutMs?: number;
}

/** The EtcdError for a failed call. */
export function fromGrpcError(e: unknown, ctx: CallContext): EtcdError {
  if (e instanceof EtcdError) return e;
  if (!isGrpcStatusError(e)) {
    return new EtcdError(GrpcCode.UNKNOWN, `keelson: ${ctx.method} on ${ctx.endpoint}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { code } = e;
  // grpc-js appends an empty "Resolution note:" to connection errors.
  const details = e.details.replace(/\s*Resolution note:\s*$/, '');
  if (fromServer(details)) return new EtcdError(code, details);
  switch (code) {
    case GrpcCode.UNAVAILABLE:
      return new EtcdError(code, `keelson: ${ctx.method}: cannot reach etcd endpoint ${ctx.endpoint}: ${details}`);
    case GrpcCode.DEADLINE_EXCEEDED:
      return new EtcdError(
        code,
        `keelson: ${ctx.method} on ${ctx.endpoint}: no answer within ${ctx.timeoutMs ?? '?'} ms (outcome unknown)`,
      );
    default:
      return new EtcdError(code, details);
  }
}

const KNOWN_BY_MESSAGE: ReadonlyMap<string, EtcdError> = new Map(
  Object.values(Errors).map((make) => {
    const err = make();
    return [err.message, err] as const;
  }),
);

/**
 * The EtcdError for a watch canceled by the server: its cancel_reason (a message without the
 * "etcdserver: " prefix in etcd 3.4, e.g. "mvcc: watcher range is empty") or, for a compacted
 * start revision, the compacted error.
 */
export function watchCancelError(compactRevision: number, cancelReason: string): EtcdError {
  if (compactRevision > 0) return Errors.compacted();
  const known = KNOWN_BY_MESSAGE.get(cancelReason) ?? KNOWN_BY_MESSAGE.get(`etcdserver: ${cancelReason}`);
  if (known) return new EtcdError(known.code, known.message);
  return new EtcdError(GrpcCode.CANCELLED, cancelReason || 'keelson: watch canceled by the server');
}
