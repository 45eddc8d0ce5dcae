// One client's gRPC Watch stream: its requests (create, cancel, progress) go to a WatchHub
// stream; the hub's responses are encoded and written to the client. An event batch shared by
// many watchers is encoded once (the hub hands every watcher of a group the same Event[]).
// The stream's write buffer is the bound: when it is full the hub stops sending and its
// watchers fall back to catching up from history once the client has drained.

import type * as grpc from '@grpc/grpc-js';
import { encodeWatchEvents, encodeWatchResponse } from '../api/codec.js';
import { toGrpcStatus } from '../api/grpc-errors.js';
import type { Event, WatchRequest, WatchResponse } from '../api/types.js';
import { fragmentWatchResponse } from './watch-fragments.js';
import type { WatchStream } from '../mvcc/index.js';
import type { EtcdServer } from './etcd-server.js';

interface WatchOptions {
  fragment: boolean;
  progressNotify: boolean;
}

const encodedBatches = new WeakMap<readonly Event[], Buffer>();

function encodedEvents(events: readonly Event[]): Buffer | undefined {
  if (events.length === 0) return undefined;
  let b = encodedBatches.get(events);
  if (!b) {
    b = encodeWatchEvents(events);
    encodedBatches.set(events, b);
  }
  return b;
}

export class WatchSession {
  private readonly stream: WatchStream;
  private readonly watches = new Map<number, WatchOptions>();
  private progressTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly server: EtcdServer,
    private readonly call: grpc.ServerDuplexStream<WatchRequest, Buffer>,
    private readonly fragmentLimit: number,
    progressNotifyMs: number,
  ) {
    this.stream = server.openWatchStream({ send: (res) => this.send(res) });
    call.on('data', (req: WatchRequest) => this.onRequest(req));
    call.on('drain', () => this.stream.resume());
    call.on('end', () => this.close(true));
    call.on('error', () => this.close(false));
    call.on('cancelled', () => this.close(false));
    this.progressTimer = setInterval(() => {
      for (const [id, o] of this.watches) if (o.progressNotify) this.stream.progress(id);
    }, progressNotifyMs);
    this.progressTimer.unref();
  }

  private onRequest(req: WatchRequest): void {
    if (this.closed) return;
    try {
      if (req.createRequest) {
        const res = this.stream.watch(req.createRequest);
        if (!res.canceled) {
          this.watches.set(res.watchId, { fragment: req.createRequest.fragment === true, progressNotify: req.createRequest.progressNotify === true });
        }
        this.send(res);
      } else if (req.cancelRequest) {
        const res = this.stream.cancel(req.cancelRequest.watchId);
        this.watches.delete(req.cancelRequest.watchId);
        if (res) this.send(res);
      } else if (req.progressRequest) {
        this.stream.requestProgress();
      }
    } catch (e) {
      this.call.emit('error', toGrpcStatus(e));
      this.close(false);
    }
  }

  /** Writes one hub response; false when the client's buffer is full. */
  private send(res: WatchResponse): boolean {
    if (this.closed) return true;
    if (res.canceled) this.watches.delete(res.watchId);
    const enc = encodedEvents(res.events);
    const buf = encodeWatchResponse(res, enc);
    if (buf.length > this.fragmentLimit && res.events.length > 1 && this.watches.get(res.watchId)?.fragment) {
      let ok = true;
      for (const piece of fragmentWatchResponse(res, this.fragmentLimit, buf.length)) ok = this.call.write(encodeWatchResponse(piece)) && ok;
      return ok;
    }
    return this.call.write(buf);
  }

  private close(graceful: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.stream.close();
    if (graceful) this.call.end();
  }
}

