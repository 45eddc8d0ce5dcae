// RemoteKV: the `KV` interface over etcd's v3 gRPC API (@grpc/grpc-js), so everything above the
// store runs unchanged against keelson or against a real etcd 3.4.
//
// Endpoints: calls go to the current endpoint (the first at start); a call that fails with
// UNAVAILABLE moves the client to the next one. Idempotent reads (range, read-only txn, lease
// TTL/list, status, member list, alarm GET, hash) are retried on the next endpoint when
// `retryReads` is on (default), within the same overall deadline. Mutations are never retried:
// Jepsen must see an indeterminate outcome as indeterminate.
//
// Errors: an etcd error arrives as the same EtcdError (code and message) the server threw;
// transport failures are EtcdErrors with UNAVAILABLE or DEADLINE_EXCEEDED and a message naming
// the endpoint.
//
// Per-member calls (status, hashKV, defragment, snapshot, moveLeader) go to the current endpoint
// (status/hashKV may be retried on the next one); to address one member, use a RemoteKV with only
// that endpoint, as etcdctl does. Give endpoints as host:port.
//
// An open watch or keep-alive stream keeps the process alive until close().

import * as grpc from '@grpc/grpc-js';
import { EtcdError, GrpcCode } from './api/errors.js';
import { fromGrpcError } from './api/grpc-errors.js';
import {
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  WatchService,
  type EtcdMethod,
} from './api/grpc-services.js';
import type {
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DefragmentResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVRequest,
  HashKVResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  SnapshotResponse,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchCreateRequest,
} from './api/types.js';
import { AlarmAction } from './api/types.js';
import type { HashResponse } from './api/wire-types.js';
import type { KV, WatchHandle, WatchListener } from './kv.js';
import { KeepAliveMux } from './remote-keepalive.js';
import { WatchMux } from './remote-watch.js';

export interface RemoteKVOptions {
  /** "host:port" client endpoints, e.g. ["127.0.0.1:2379"]. At least one. */
  endpoints: string[];
  /** Deadline of each call, retries included (default 5000 ms, like etcdctl's --command-timeout). */
  timeoutMs?: number;
  /** Retry idempotent reads on UNAVAILABLE on the next endpoint (default true). */
  retryReads?: boolean;
  /** gRPC keepalive ping interval on open calls, to notice a dead peer under a watch (default 10 s; 0: off). */
  keepAliveMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_KEEPALIVE_MS = 10_000;
/** etcd's own limit is "send 2 MiB, receive anything"; a large range must not fail in the client. */
const UNLIMITED = -1;

function isReadOnlyOps(ops: readonly RequestOp[]): boolean {
  return ops.every((op) => op.requestRange !== undefined || (op.requestTxn !== undefined && isReadOnlyTxn(op.requestTxn)));
}

function isReadOnlyTxn(txn: TxnRequest): boolean {
  return isReadOnlyOps(txn.success) && isReadOnlyOps(txn.failure);
}

function parseEndpoint(ep: string): string {
  const s = ep.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (!/^[^\s/:]+:\d{1,5}$/.test(s) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(s)) {
    throw new RangeError(`RemoteKV: endpoint must be host:port, got ${JSON.stringify(ep)}`);
  }
  return s;
}

export class RemoteKV implements KV {
  readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly retryReads: boolean;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly clients: (grpc.Client | undefined)[];
  private current = 0;
  private closed = false;
  private readonly watches: WatchMux;
  private readonly keepAlives: KeepAliveMux;

  constructor(opts: RemoteKVOptions) {
    if (opts.endpoints.length === 0) throw new RangeError('RemoteKV: no endpoints');
    this.endpoints = opts.endpoints.map(parseEndpoint);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new RangeError(`RemoteKV: timeoutMs must be > 0, got ${this.timeoutMs}`);
    this.retryReads = opts.retryReads ?? true;
    const keepAliveMs = opts.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.channelOptions = {
      'grpc.max_receive_message_length': UNLIMITED,
      'grpc.max_send_message_length': UNLIMITED,
      // Come back quickly to a restarted member (grpc's default backoff grows to 120 s).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      ...(keepAliveMs > 0
        ? {
            'grpc.keepalive_time_ms': keepAliveMs,
            'grpc.keepalive_timeout_ms': Math.max(1000, Math.floor(keepAliveMs / 2)),
            // etcd refuses pings without open calls (PermitWithoutStream=false).
            'grpc.keepalive_permit_without_calls': 0,
          }
        : {}),
    };
    this.clients = this.endpoints.map(() => undefined);
    const streamOpener = <Req, Res>(def: EtcdMethod<Req, Res>) => ({
      open: () => {
        const idx = this.current;
        const client = this.clientAt(idx);
        const stream = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
        return { stream, endpoint: this.endpoints[idx]! };
      },
      unavailable: (endpoint: string) => this.failover(this.endpoints.indexOf(endpoint)),
    });
    this.watches = new WatchMux(streamOpener(WatchService.Watch));
    this.keepAlives = new KeepAliveMux(streamOpener(LeaseService.LeaseKeepAlive), this.timeoutMs);
  }

  /** The endpoint calls currently go to. */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  // ---- KV ----

  range(req: RangeRequest): Promise<RangeResponse> {
    return this.unary('KV.Range', KVService.Range, req, this.retryReads);
  }

  put(req: PutRequest): Promise<PutResponse> {
    return this.unary('KV.Put', KVService.Put, req, false);
  }

  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.unary('KV.DeleteRange', KVService.DeleteRange, req, false);
  }

  txn(req: TxnRequest): Promise<TxnResponse> {
    return this.unary('KV.Txn', KVService.Txn, req, this.retryReads && isReadOnlyTxn(req));
  }

  compact(req: CompactionRequest): Promise<CompactionResponse> {
    return this.unary('KV.Compact', KVService.Compact, req, false);
  }

  watch(req: WatchCreateRequest, listener: WatchListener): WatchHandle {
    return this.watches.watch(req, listener);
  }

  // ---- Lease ----

  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    return this.unary('Lease.LeaseGrant', LeaseService.LeaseGrant, req, false);
  }

  leaseRevoke(id: bigint): Promise<LeaseRevokeResponse> {
    return this.unary('Lease.LeaseRevoke', LeaseService.LeaseRevoke, { ID: id }, false);
  }

  leaseKeepAliveOnce(id: bigint): Promise<LeaseKeepAliveResponse> {
    return this.keepAlives.keepAliveOnce(id);
  }

  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    return this.unary('Lease.LeaseTimeToLive', LeaseService.LeaseTimeToLive, req, this.retryReads);
  }

  leaseLeases(): Promise<LeaseLeasesResponse> {
    return this.unary('Lease.LeaseLeases', LeaseService.LeaseLeases, {}, this.retryReads);
  }

  // ---- Cluster ----

  memberList(): Promise<MemberListResponse> {
    return this.unary('Cluster.MemberList', ClusterService.MemberList, {}, this.retryReads);
  }

  memberAdd(req: MemberAddRequest): Promise<MemberAddResponse> {
    return this.unary('Cluster.MemberAdd', ClusterService.MemberAdd, req, false);
  }

  memberRemove(id: bigint): Promise<MemberRemoveResponse> {
    return this.unary('Cluster.MemberRemove', ClusterService.MemberRemove, { ID: id }, false);
  }

  memberUpdate(req: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    return this.unary('Cluster.MemberUpdate', ClusterService.MemberUpdate, req, false);
  }

  memberPromote(id: bigint): Promise<MemberPromoteResponse> {
    return this.unary('Cluster.MemberPromote', ClusterService.MemberPromote, { ID: id }, false);
  }

  // ---- Maintenance (the current endpoint's member) ----

  status(): Promise<StatusResponse> {
    return this.unary('Maintenance.Status', MaintenanceService.Status, {}, this.retryReads);
  }

  alarm(req: AlarmRequest): Promise<AlarmResponse> {
    return this.unary('Maintenance.Alarm', MaintenanceService.Alarm, req, this.retryReads && req.action === AlarmAction.GET);
  }

  defragment(): Promise<DefragmentResponse> {
    return this.unary('Maintenance.Defragment', MaintenanceService.Defragment, {}, false);
  }

  hash(): Promise<HashResponse> {
    return this.unary('Maintenance.Hash', MaintenanceService.Hash, {}, this.retryReads);
  }

  hashKV(req: HashKVRequest = {}): Promise<HashKVResponse> {
    return this.unary('Maintenance.HashKV', MaintenanceService.HashKV, req, this.retryReads);
  }

  /** Asks the current endpoint, which must be the leader, to hand leadership to `targetId`. */
  moveLeader(targetId: bigint): Promise<MoveLeaderResponse> {
    return this.unary('Maintenance.MoveLeader', MaintenanceService.MoveLeader, { targetID: targetId }, false);
  }

  /**
   * The current endpoint's backend as a stream of chunks (etcdctl snapshot save writes their
   * blobs in order). Fails with DEADLINE_EXCEEDED when no chunk arrives for timeoutMs; breaking
   * out of the loop cancels the call.
   */
  async *snapshot(): AsyncGenerator<SnapshotResponse, void, undefined> {
    this.checkOpen();
    const idx = this.current;
    const endpoint = this.endpoints[idx]!;
    const def = MaintenanceService.Snapshot;
    const call = this.clientAt(idx).makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, {});
    let idle: NodeJS.Timeout | undefined;
    let timedOut = false;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        call.cancel();
      }, this.timeoutMs);
    };
    try {
      arm();
      for await (const chunk of call as AsyncIterable<SnapshotResponse>) {
        arm();
        yield chunk;
      }
    } catch (e) {
      const err = timedOut ? { code: GrpcCode.DEADLINE_EXCEEDED, details: 'idle' } : e;
      const mapped = fromGrpcError(err, { method: 'Maintenance.Snapshot', endpoint, timeoutMs: this.timeoutMs });
      if (mapped.code === GrpcCode.UNAVAILABLE) this.failover(idx);
      throw mapped;
    } finally {
      clearTimeout(idle);
      call.cancel();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watches.close();
    this.keepAlives.close();
    for (const c of this.clients) c?.close();
  }

  // ---- plumbing ----

  private checkOpen(): void {
    if (this.closed) throw new EtcdError(GrpcCode.CANCELLED, 'keelson: client is closed');
  }

  private clientAt(idx: number): grpc.Client {
    this.checkOpen();
    let c = this.clients[idx];
    if (!c) {
      c = new grpc.Client(this.endpoints[idx]!, grpc.credentials.createInsecure(), this.channelOptions);
      this.clients[idx] = c;
    }
    return c;
  }

  /** The endpoint at `idx` failed: later calls go to the next one (unless someone moved already). */
  private failover(idx: number): void {
    if (idx === this.current && this.endpoints.length > 1) this.current = (idx + 1) % this.endpoints.length;
  }

  private async unary<Req, Res>(method: string, def: EtcdMethod<Req, Res>, req: Req, retry: boolean): Promise<Res> {
    this.checkOpen();
    const deadline = Date.now() + this.timeoutMs;
    const attempts = retry ? this.endpoints.length : 1;
    for (let attempt = 1; ; attempt++) {
      const idx = this.current;
      const endpoint = this.endpoints[idx]!;
      try {
        return await this.callOnce(this.clientAt(idx), def, req, deadline);
      } catch (e) {
        const err = fromGrpcError(e, { method, endpoint, timeoutMs: this.timeoutMs });
        if (err.code !== GrpcCode.UNAVAILABLE) throw err;
        this.failover(idx);
        if (attempt >= attempts || Date.now() >= deadline || this.closed) throw err;
      }
    }
  }

  private callOnce<Req, Res>(client: grpc.Client, def: EtcdMethod<Req, Res>, req: Req, deadline: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        new grpc.Metadata(),
        { deadline },
        (err, res) => {
          if (err) reject(err);
          else if (res === undefined) reject(new EtcdError(GrpcCode.INTERNAL, `keelson: ${def.path}: empty response`));
          else resolve(res);
        },
      );
    });
  }
}
