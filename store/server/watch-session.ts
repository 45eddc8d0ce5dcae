// One client's gRPC Watch stream: its requests (create, cancel, progress) go to a WatchHub
// stream; the hub's responses are encoded and written to the client. An event batch shared by
// many watchers is encoded once (the hub hands every watcher of a group the same Event[]).
// The stream's write buffer is the bound: when it is full the hub stops sending and its
// watchers fall back to catching up from history once the client has drained.

import { encodeWatchResponse } from '../api/codec.js';
import type { WatchRequest, WatchResponse } from '../api/types.js';
import { fragmentWatchResponse } from './watch-fragments.js';
import { encodedEvents, eventFrameParts, isPlainEventResponse } from './watch-frames.js';
import type { WatchStream } from '../mvcc/index.js';
import type { EtcdServer } from './etcd-server.js';
import type { StreamCall } from './grpc-http2-server.js';

interface WatchOptions {
  fragment: boolean;
  progressNotify: boolean;
}

export class WatchSession {
  private readonly stream: WatchStream;
  private readonly watches = new Map<number, WatchOptions>();
  private progressTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly server: EtcdServer,
    private readonly call: StreamCall<WatchRequest, WatchResponse>,
    private readonly fragmentLimit: number,
    progressNotifyMs: number,
  ) {
    this.stream = server.openWatchStream({ send: (res) => this.send(res) });
    call.onMessage = (req) => this.onRequest(req);
    call.onDrain = () => this.stream.resume();
    call.onHalfClose = () => this.close(true);
    call.onCancel = () => this.close(false);
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
      this.close(false);
      this.call.fail(e);
    }
  }

  /** Writes one hub response; false when the client's buffer is full. */
  private send(res: WatchResponse): boolean {
    if (this.closed) return true;
    if (res.canceled) this.watches.delete(res.watchId);
    const enc = res.events.length > 0 ? encodedEvents(res.events) : undefined;
    if (enc !== undefined && isPlainEventResponse(res) && (enc.length + 64 <= this.fragmentLimit || !this.watches.get(res.watchId)?.fragment)) {
      // The common case: header and events shared with every other watcher of this revision.
      // (A frame near the fragment limit takes the exact path below: header and ID are < 64 bytes.)
      return this.call.writeFrameParts(eventFrameParts(res, enc));
    }
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

