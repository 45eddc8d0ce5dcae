// One client's gRPC Watch stream: its requests (create, cancel, progress) go to a WatchHub
// stream; the hub's responses are encoded and written to the client. An event batch shared by
// many watchers is encoded once (the hub hands every watcher of a group the same Event[]).
// The stream's write buffer is the bound: when it is full the hub stops sending and its
// watchers fall back to catching up from history once the client has drained.

import { encodeWatchResponse } from '../api/codec.js';
import type { Event, ResponseHeader, WatchRequest, WatchResponse } from '../api/types.js';
import { fragmentWatchResponse } from './watch-fragments.js';
import { EventFrameBatch, encodedEvents, isPlainEventResponse } from './watch-frames.js';
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
  /** Plain event responses of this turn, framed into one buffer (see EventFrameBatch). */
  private readonly batch: EventFrameBatch;
  /** The hub was told the stream is full by sendEvents: it must hear when it is not. */
  private reportedFull = false;

  constructor(
    private readonly server: EtcdServer,
    private readonly call: StreamCall<WatchRequest, WatchResponse>,
    private readonly fragmentLimit: number,
    progressNotifyMs: number,
  ) {
    this.batch = new EventFrameBatch(
      (bytes) => this.flushBatch(bytes),
      (recent) => this.call.sentAllBut(recent),
    );
    this.stream = server.openWatchStream({
      send: (res) => this.send(res),
      sendEvents: (watchId, header, events) => this.sendEvents(watchId, header, events),
    });
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

  /**
   * The hub's fast path for events of a synced watcher: framed into this turn's batch. False
   * when the stream's buffer (what waits to be sent plus the batch) is over its limit.
   */
  private sendEvents(watchId: number, header: ResponseHeader, events: readonly Event[]): boolean {
    if (this.closed) return true;
    const enc = encodedEvents(events);
    if (watchId >= 0 && this.unfragmented(watchId, enc)) return this.batched(watchId, header, enc);
    return this.send({ header, watchId, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: events as Event[] });
  }

  /**
   * Whether events `enc` for `watchId` go out as one response: always unless the watch asked
   * for fragments and they are near the limit (header and ID are < 64 bytes; such a frame takes
   * the exact path, which fragments).
   */
  private unfragmented(watchId: number, enc: Buffer): boolean {
    return enc.length + 64 <= this.fragmentLimit || !this.watches.get(watchId)?.fragment;
  }

  /** Frames a plain event response into this turn's batch; false when over the buffer limit. */
  private batched(watchId: number, header: ResponseHeader, enc: Buffer): boolean {
    this.batch.add(watchId, header, enc);
    if (this.call.bufferedBytes + this.batch.bytes <= this.call.bufferBytes) return true;
    this.reportedFull = true;
    return false;
  }

  private flushBatch(bytes: Buffer): void {
    if (this.closed) return;
    const ok = this.call.writeFramed(bytes);
    if (ok && this.reportedFull) {
      // The call took it all without going over its limit, so it will not report a drain.
      this.reportedFull = false;
      queueMicrotask(() => {
        if (!this.closed) this.stream.resume();
      });
    } else if (!ok) this.reportedFull = false; // the call's onDrain resumes the stream
  }

  /** Writes one hub response; false when the client's buffer is full. */
  private send(res: WatchResponse): boolean {
    if (this.closed) return true;
    if (res.canceled) this.watches.delete(res.watchId);
    const enc = res.events.length > 0 ? encodedEvents(res.events) : undefined;
    // The common case: header and events shared with every other watcher of this revision.
    if (enc !== undefined && isPlainEventResponse(res) && this.unfragmented(res.watchId, enc)) return this.batched(res.watchId, res.header, enc);
    // Batched events go first: responses leave in the order the hub made them.
    this.batch.flush();
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
    if (graceful) this.batch.flush();
    this.closed = true;
    this.batch.clear();
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.stream.close();
    if (graceful) this.call.end();
  }
}

