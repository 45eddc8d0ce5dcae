// The in-process `KV`: the apiserver on a master talks to that master's store directly, with no
// serialisation. Same semantics and errors as RemoteKV (it calls the same EtcdServer methods the
// gRPC server calls). Responses may share objects with the store: treat them as read-only.

import { Errors } from './api/errors.js';
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
import { watchCancelError } from './api/grpc-errors.js';
import type { KV, WatchHandle, WatchListener } from './kv.js';
import type { WatchStream } from './mvcc/index.js';
import type { EtcdServer } from './server/etcd-server.js';
import { fragmentLimit, fragmentWatchResponse } from './server/watch-fragments.js';

export class LocalKV implements KV {
  private closed = false;
  private readonly fragmentLimit: number;

  constructor(private readonly server: EtcdServer) {
    this.fragmentLimit = fragmentLimit(server.config.maxRequestBytes);
  }

  private check(): void {
    if (this.closed) throw Errors.stopped();
  }

  async range(req: RangeRequest): Promise<RangeResponse> {
    this.check();
    return this.server.range(req);
  }
  async put(req: PutRequest): Promise<PutResponse> {
    this.check();
    return this.server.put(req);
  }
  async deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    this.check();
    return this.server.deleteRange(req);
  }
  async txn(req: TxnRequest): Promise<TxnResponse> {
    this.check();
    return this.server.txn(req);
  }
  async compact(req: CompactionRequest): Promise<CompactionResponse> {
    this.check();
    return this.server.compact(req);
  }

  /** All watches of this client share one hub stream, as all of RemoteKV's share one gRPC stream. */
  private stream: WatchStream | undefined;
  private readonly watches = new Map<number, { listener: WatchListener; fragment: boolean; finish: (err?: Error) => void }>();

  private hubStream(): WatchStream {
    this.stream ??= this.server.openWatchStream({ send: (res) => this.dispatch(res) });
    return this.stream;
  }

  private dispatch(res: WatchResponse): boolean {
    if (res.watchId === -1) {
      // A stream-wide progress response: every watch gets it, with its own id.
      for (const [id, w] of this.watches) w.listener.onResponse({ ...res, watchId: id });
      return true;
    }
    const w = this.watches.get(res.watchId);
    if (!w) return true;
    const pieces = w.fragment ? fragmentWatchResponse(res, this.fragmentLimit) : [res];
    for (const p of pieces) w.listener.onResponse(p);
    if (res.canceled) w.finish(res.compactRevision > 0 || res.cancelReason ? watchCancelError(res.compactRevision, res.cancelReason) : undefined);
    return true;
  }

  watch(req: WatchCreateRequest, listener: WatchListener): WatchHandle {
    let closed = false;
    let watchId = -1;
    let resolveCreated!: (id: number) => void;
    let rejectCreated!: (e: Error) => void;
    const created = new Promise<number>((res, rej) => {
      resolveCreated = res;
      rejectCreated = rej;
    });
    created.catch(() => undefined);
    const finish = (err?: Error): void => {
      if (closed) return;
      closed = true;
      this.watches.delete(watchId);
      listener.onClose(err);
    };
    try {
      this.check();
      const res = this.hubStream().watch(req);
      if (res.canceled) {
        const err = watchCancelError(res.compactRevision, res.cancelReason);
        rejectCreated(err);
        queueMicrotask(() => finish(err));
      } else {
        watchId = res.watchId;
        this.watches.set(watchId, { listener, fragment: req.fragment === true, finish });
        resolveCreated(watchId);
      }
    } catch (e) {
      rejectCreated(e as Error);
      queueMicrotask(() => finish(e as Error));
    }
    return {
      created,
      requestProgress: () => {
        if (!closed) this.stream?.requestProgress();
      },
      cancel: () => {
        if (closed || watchId < 0) return;
        this.stream?.cancel(watchId);
        finish();
      },
    };
  }

  async leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    this.check();
    return this.server.leaseGrant(req);
  }
  async leaseRevoke(id: bigint): Promise<LeaseRevokeResponse> {
    this.check();
    return this.server.leaseRevoke(id);
  }
  async leaseKeepAliveOnce(id: bigint): Promise<LeaseKeepAliveResponse> {
    this.check();
    return this.server.leaseKeepAliveOnce(id);
  }
  async leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    this.check();
    return this.server.leaseTimeToLive(req);
  }
  async leaseLeases(): Promise<LeaseLeasesResponse> {
    this.check();
    return this.server.leaseLeases();
  }
  async status(): Promise<StatusResponse> {
    this.check();
    return this.server.status();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.watches.values()]) w.finish();
    this.stream?.close();
    this.stream = undefined;
  }
}
