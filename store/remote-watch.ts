// All watches of one RemoteKV share one bidirectional Watch stream, as etcd's clientv3 does.
// etcd answers create requests in the order it received them (a created response, or created +
// canceled with watch_id -1 when the create failed), so pending creates are a FIFO. Everything
// else is routed by watch id. A progress response (watch_id -1, etcd 3.4) goes to every watch.
// A broken stream ends every watch with onClose(err); the next watch() opens a new stream.

import type { ClientDuplexStream } from '@grpc/grpc-js';
import { invariant } from '../common/assert.js';
import { EtcdError, GrpcCode } from './api/errors.js';
import { fromGrpcError, watchCancelError } from './api/grpc-errors.js';
import type { WatchCreateRequest, WatchRequest, WatchResponse } from './api/types.js';
import type { WatchHandle, WatchListener } from './kv.js';

/** Bound on watches (pending + active) on one stream. */
export const MAX_WATCHES_PER_STREAM = 10_000;
/** etcd's id for "no particular watch" (progress responses, failed creates). */
const NO_WATCH_ID = -1;

export type WatchStream = ClientDuplexStream<WatchRequest, WatchResponse>;

export interface WatchStreamOpener {
  /** A new Watch stream on the current endpoint. */
  open(): { stream: WatchStream; endpoint: string };
  /** The stream to `endpoint` failed as unavailable: move to another endpoint. */
  unavailable(endpoint: string): void;
}

type State = 'pending' | 'active' | 'closed';

class Watcher implements WatchHandle {
  state: State = 'pending';
  id = NO_WATCH_ID;
  cancelRequested = false;
  readonly created: Promise<number>;
  resolveCreated!: (id: number) => void;
  rejectCreated!: (err: Error) => void;

  constructor(
    private readonly mux: WatchMux,
    readonly req: WatchCreateRequest,
    readonly listener: WatchListener,
  ) {
    this.created = new Promise<number>((resolve, reject) => {
      this.resolveCreated = resolve;
      this.rejectCreated = reject;
    });
    // Callers may never look at `created`; its rejection must not become an unhandled one.
    this.created.catch(() => undefined);
  }

  requestProgress(): void {
    if (this.state !== 'closed') this.mux.requestProgress();
  }

  cancel(): void {
    if (this.state === 'closed' || this.cancelRequested) return;
    this.cancelRequested = true;
    if (this.state === 'active') this.mux.sendCancel(this);
    // pending: the cancel is sent as soon as the server tells us the id
  }
}

export class WatchMux {
  private stream: WatchStream | undefined;
  private endpoint = '';
  private readonly pending: Watcher[] = [];
  private readonly active = new Map<number, Watcher>();
  private closed = false;

  constructor(private readonly opener: WatchStreamOpener) {}

  get size(): number {
    return this.pending.length + this.active.size;
  }

  watch(req: WatchCreateRequest, listener: WatchListener): WatchHandle {
    const w = new Watcher(this, req, listener);
    if (this.closed) {
      this.finish(w, new EtcdError(GrpcCode.CANCELLED, 'keelson: client is closed'), true);
      return w;
    }
    if (this.size >= MAX_WATCHES_PER_STREAM) {
      const err = new EtcdError(GrpcCode.RESOURCE_EXHAUSTED, `keelson: more than ${MAX_WATCHES_PER_STREAM} watches on one client`);
      this.finish(w, err, true);
      return w;
    }
    let stream: WatchStream;
    try {
      stream = this.ensureStream();
    } catch (err) {
      this.finish(w, fromGrpcError(err, { method: 'Watch.Watch', endpoint: this.endpoint }), true);
      return w;
    }
    this.pending.push(w);
    stream.write({ createRequest: req });
    return w;
  }

  requestProgress(): void {
    this.stream?.write({ progressRequest: {} });
  }

  sendCancel(w: Watcher): void {
    invariant(w.state === 'active', 'cancel sent for a watch that is not active');
    this.stream?.write({ cancelRequest: { watchId: w.id } });
  }

  /** Ends every watch (onClose without error) and the stream. */
  close(): void {
    this.closed = true;
    this.breakStream(undefined);
  }

  private ensureStream(): WatchStream {
    if (this.stream) return this.stream;
    const { stream, endpoint } = this.opener.open();
    this.stream = stream;
    this.endpoint = endpoint;
    stream.on('data', (res: WatchResponse) => {
      if (this.stream === stream) this.onResponse(res);
    });
    stream.on('error', (e: unknown) => {
      if (this.stream !== stream) return;
      const err = fromGrpcError(e, { method: 'Watch.Watch', endpoint });
      if (err.code === GrpcCode.UNAVAILABLE) this.opener.unavailable(endpoint);
      this.breakStream(err);
    });
    stream.on('status', (status: { code: number }) => {
      // Errors arrive as 'error' too; an OK status means the server ended the stream on purpose.
      if (this.stream !== stream || status.code !== GrpcCode.OK) return;
      this.breakStream(new EtcdError(GrpcCode.UNAVAILABLE, `keelson: watch stream to ${endpoint} was closed by the server`));
    });
    return stream;
  }

  /** Drops the stream; every watch on it ends with `err` (undefined: closed by us, no error). */
  private breakStream(err: EtcdError | undefined): void {
    const stream = this.stream;
    this.stream = undefined;
    const all = [...this.pending, ...this.active.values()];
    this.pending.length = 0;
    this.active.clear();
    if (stream) stream.cancel();
    for (const w of all) this.finish(w, err, w.state === 'pending');
  }

  /** A stream with no watches left is closed, as clientv3 does, so an idle client holds no call. */
  private closeIfIdle(): void {
    if (this.size === 0 && this.stream) {
      const stream = this.stream;
      this.stream = undefined;
      stream.cancel();
    }
  }

  private finish(w: Watcher, err: Error | undefined, rejectCreated: boolean): void {
    if (w.state === 'closed') return;
    w.state = 'closed';
    if (rejectCreated) w.rejectCreated(err ?? new EtcdError(GrpcCode.CANCELLED, 'keelson: watch canceled before it was created'));
    const listener = w.listener;
    // Deferred when called synchronously from watch(), so onClose never runs before watch() returns.
    queueMicrotask(() => listener.onClose(err));
  }

  private deliver(w: Watcher, res: WatchResponse): void {
    try {
      w.listener.onResponse(res);
    } catch (e) {
      // A listener that throws loses its watch, not the stream shared with the others.
      this.active.delete(w.id);
      if (w.state === 'active' && !w.cancelRequested) {
        w.cancelRequested = true;
        this.stream?.write({ cancelRequest: { watchId: w.id } });
      }
      this.finish(w, e instanceof Error ? e : new Error(String(e)), false);
      this.closeIfIdle();
    }
  }

  private onResponse(res: WatchResponse): void {
    if (res.created) {
      const w = this.pending.shift();
      invariant(w !== undefined, () => `watch created response (id ${res.watchId}) without a pending create`);
      if (res.canceled) {
        const err = watchCancelError(res.compactRevision, res.cancelReason);
        this.finish(w, err, true);
        this.closeIfIdle();
        return;
      }
      invariant(!this.active.has(res.watchId), () => `server reused active watch id ${res.watchId}`);
      w.id = res.watchId;
      w.state = 'active';
      this.active.set(w.id, w);
      w.resolveCreated(w.id);
      if (w.cancelRequested) this.sendCancel(w);
      return;
    }
    if (res.watchId === NO_WATCH_ID && !res.canceled) {
      // etcd 3.4 answers a progress request once per stream, for all watches.
      for (const w of [...this.active.values()]) this.deliver(w, { ...res, watchId: w.id });
      return;
    }
    const w = this.active.get(res.watchId);
    if (w === undefined) return; // events that raced with our cancel
    if (!res.canceled) {
      this.deliver(w, res);
      return;
    }
    this.active.delete(w.id);
    const byServer = res.compactRevision > 0 || res.cancelReason !== '' || !w.cancelRequested;
    if (byServer) {
      this.deliver(w, res);
      this.finish(w, watchCancelError(res.compactRevision, res.cancelReason), false);
    } else {
      this.finish(w, undefined, false);
    }
    this.closeIfIdle();
  }
}
