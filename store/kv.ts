// The `KV` interface of DESIGN.md: everything above the store (apiserver, jepsen, bench) speaks
// to it through this, never to the store's internals. Two implementations: in-process (same
// master, no serialisation) and remote (an etcd v3 gRPC client, so the same code runs against a
// real etcd). Failures are thrown as `EtcdError` (store/api/errors.ts) with etcd's code and message.

import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchCreateRequest,
  WatchResponse,
} from './api/types.js';

/** Receives what one watch produces, in order. */
export interface WatchListener {
  /**
   * Every WatchResponse after the creation acknowledgement: event batches (one revision is never
   * split across calls unless the watch asked for fragments), progress notifications (no events),
   * and a final one with `canceled` set (e.g. compactRevision when the start was compacted).
   */
  onResponse(res: WatchResponse): void;
  /** The watch ended: canceled by the caller (no error), by the server, or by a broken stream. */
  onClose(err?: Error): void;
}

export interface WatchHandle {
  /** Resolves with the server's watch id once the watch is created; rejects if creation failed. */
  readonly created: Promise<number>;
  /** Ask the server for a progress notification on this watch's stream. */
  requestProgress(): void;
  /** Idempotent. onClose() is called once the cancel has taken effect. */
  cancel(): void;
}

export interface KV {
  range(req: RangeRequest): Promise<RangeResponse>;
  put(req: PutRequest): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  compact(req: CompactionRequest): Promise<CompactionResponse>;

  watch(req: WatchCreateRequest, listener: WatchListener): WatchHandle;

  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse>;
  leaseRevoke(id: bigint): Promise<LeaseRevokeResponse>;
  /** One keep-alive round trip (implementations may share one stream for all calls). */
  leaseKeepAliveOnce(id: bigint): Promise<LeaseKeepAliveResponse>;
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<LeaseLeasesResponse>;

  status(): Promise<StatusResponse>;

  /** Releases connections and ends open watches (their onClose is called). */
  close(): Promise<void>;
}
