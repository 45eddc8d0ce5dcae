// The server side of one HTTP/2 connection (RFC 9113), for the gRPC server on the client port.
//
// Why not node:http2: every call there is an Http2Stream (a Duplex stream with its own
// listeners, header objects and several crossings between JS and nghttp2), and a response's
// trailers leave one event-loop turn after its data, so every unary answer took two socket
// writes and woke the client twice. Measured on the put path, node:http2 and its streams were a
// third of a busy member's main-thread time (bench/README.md, performance log entry 10). This
// implements what gRPC uses of HTTP/2 and nothing else: no server push, no priorities (parsed
// and ignored), no TLS, no HTTP/1.1 upgrade.
//
// - Output of the whole connection is collected during a turn and written at its end (one
//   process.nextTick), so the answers of many calls, and a unary answer's three frames, leave
//   in one write.
// - Flow control both ways. What a stream writes waits in that stream's queue until the peer's
//   windows allow it; queues are drained round-robin, one frame per stream per round, while the
//   socket takes more. write() tells the caller when its stream holds more than `highWater`
//   bytes, and onDrain follows when it is below again.
// - Receive windows are large (1 MiB per stream, 16 MiB per connection by default) and
//   replenished as data arrives: the gRPC layer consumes everything at once and bounds message
//   sizes itself.
// - Limits: concurrent streams, header block size, decoded header list size, output buffered
//   for a peer that does not read. Breaking a limit or the protocol is answered as the RFC says
//   (RST_STREAM for one stream, GOAWAY and close for the connection).

import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  CONNECTION_PREFACE,
  ConnectionError,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  FRAME_HEADER,
  Flag,
  FrameType,
  H2Error,
  MAX_WINDOW,
  Setting,
  frame,
  goawayFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  frameLength,
  writeFrameHeader,
} from './frames.js';
import { HpackDecoder, HpackError, encodeHeaderBlock, type HeaderFields } from './hpack.js';

export interface ServerConnectionOptions {
  /** Streams open at once; more are refused (REFUSED_STREAM). */
  maxConcurrentStreams?: number;
  /** Receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow?: number;
  /** Receive window of the connection. */
  connectionWindow?: number;
  /** Bound on one header block (HEADERS and its CONTINUATIONs). */
  maxHeaderBlockBytes?: number;
  /** Bound on a decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderListBytes?: number;
  /** Output waiting for a peer that does not read beyond this many bytes closes the connection. */
  maxBufferedOutput?: number;
  /** A new stream: its request headers are decoded. Set the stream's callbacks right away. */
  onStream: (stream: ServerStream, headers: HeaderFields) => void;
}

const noop = (): void => undefined;
const SOCKET_HIGH_WATER = 1024 * 1024;
/**
 * A turn's output is joined into buffers of about this size before writing: copying bytes is
 * far cheaper than a socket write() per frame (each is a trip through node's stream machinery).
 */
const JOIN_BYTES = 64 * 1024;
/** A part at least this big is written without joining: its copy would cost more than its write(). */
const WRITE_AS_IS_BYTES = 8 * 1024;
const STATUS_431 = encodeHeaderBlock([[':status', '431']]);

/** One request stream. Callbacks are set by whoever serves it. */
export class ServerStream {
  /** A piece of the request body. */
  onData: (chunk: Buffer) => void = noop;
  /** The client sent all of its request (END_STREAM). */
  onEnd: () => void = noop;
  /** The stream is gone before this side ended it: reset by the client, or the connection closed. */
  onClose: () => void = noop;
  /** What was written is below the high-water mark again (after a write() returned false). */
  onDrain: () => void = noop;

  /** @internal */ recvOpen = true;
  /** @internal */ recvWindow: number;
  /** @internal */ recvUnacked = 0;
  /** @internal */ sendWindow: number;
  /** @internal queued pieces from queue[qHead] on */ queue: Buffer[] = [];
  /** @internal */ qHead = 0;
  /** @internal */ queuedBytes = 0;
  /** @internal */ trailers: Buffer | undefined;
  /** @internal */ needDrain = false;
  private headersSent = false;
  private ended = false;
  /** @internal */ gone = false;

  constructor(
    readonly id: number,
    private readonly conn: ServerConnection,
    recvWindow: number,
    sendWindow: number,
    /** write() reports full above this many queued bytes. */
    public highWater = 1024 * 1024,
  ) {
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  /** Bytes written but not yet handed to the socket (waiting for flow control). */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Whether every byte written to this stream before its last `recent` bytes has been handed to
   * the kernel (queued here are at most those, and nothing waits in the connection's output or
   * the socket's buffer): a buffer written before them may be written over. False whenever that
   * cannot be known.
   */
  sentAllBut(recent: number): boolean {
    return this.queuedBytes <= recent && this.conn.outputIdle;
  }

  /** Whether this side has ended the stream or the stream is gone. */
  get closed(): boolean {
    return this.ended || this.gone;
  }

  get responded(): boolean {
    return this.headersSent;
  }

  /** Sends the response headers (an HPACK block from encodeHeaderBlock); endStream: nothing follows. */
  respond(block: Buffer, endStream = false): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    this.conn.sendHeaders(this.id, block, endStream);
    if (endStream) this.finish();
  }

  /** Queues response body bytes; false when the stream holds more than its high-water mark. */
  write(data: Buffer): boolean {
    if (this.closed) return true;
    if (data.length > 0) {
      this.queue.push(data);
      this.queuedBytes += data.length;
      this.conn.schedulePump(this);
    }
    if (this.queuedBytes > this.highWater) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Ends the response with trailers (an HPACK block), sent once everything written is. */
  end(trailerBlock: Buffer): void {
    if (this.closed) return;
    this.ended = true;
    this.trailers = trailerBlock;
    this.conn.schedulePump(this);
  }

  /**
   * A whole answer in one go when flow control allows it at once: headers, then `data` (the
   * concatenation of its parts) as one DATA frame, then the trailers. Otherwise the same
   * through respond/write/end.
   */
  respondAll(block: Buffer, data: readonly Buffer[], trailerBlock: Buffer): void {
    if (this.closed || this.headersSent) return;
    if (this.conn.trySendAll(this, block, data, trailerBlock)) {
      this.headersSent = true;
      this.ended = true;
      this.finish();
      return;
    }
    this.respond(block);
    for (const d of data) this.write(d);
    this.end(trailerBlock);
  }

  /** Resets the stream (RST_STREAM). */
  reset(code: H2Error = H2Error.CANCEL): void {
    if (this.gone) return;
    this.ended = true;
    this.conn.resetStream(this, code);
  }

  /** @internal the last frame of the response went out */
  finish(): void {
    this.ended = true;
    this.conn.finished(this);
  }
}

export class ServerConnection {
  private readonly o: Required<Omit<ServerConnectionOptions, 'onStream'>>;
  private readonly onStream: ServerConnectionOptions['onStream'];
  private readonly hpack: HpackDecoder;
  private readonly streams = new Map<number, ServerStream>();
  private lastStreamId = 0;
  /** Streams with something to send (data or trailers), in the order they got it. */
  private readonly ready = new Set<ServerStream>();
  private out: Buffer[] = [];
  private outBytes = 0;
  /** pump() then flush() at the end of this turn (one process.nextTick). */
  private turnScheduled = false;
  private socketFull = false;
  private closed = false;
  private goingAway = false;
  private prefaceSeen = false;
  private pending: Buffer | undefined;
  // Header block being assembled from HEADERS + CONTINUATION frames.
  private headerStream = 0;
  private headerFlags = 0;
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  // Flow control.
  private connSendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  private connRecvWindow: number;
  private connRecvUnacked = 0;
  /**
   * A net.Socket (TCP or TLS) takes a write it completes at once into the kernel (or the TLS
   * engine); any other Duplex may keep the Buffer itself (a PassThrough hands it to its reader).
   */
  private readonly socketCopies: boolean;

  constructor(
    private readonly socket: Duplex,
    opts: ServerConnectionOptions,
  ) {
    this.o = {
      maxConcurrentStreams: opts.maxConcurrentStreams ?? 65536,
      streamWindow: opts.streamWindow ?? 1024 * 1024,
      connectionWindow: opts.connectionWindow ?? 16 * 1024 * 1024,
      maxHeaderBlockBytes: opts.maxHeaderBlockBytes ?? 256 * 1024,
      maxHeaderListBytes: opts.maxHeaderListBytes ?? 64 * 1024,
      maxBufferedOutput: opts.maxBufferedOutput ?? 256 * 1024 * 1024,
    };
    this.onStream = opts.onStream;
    this.socketCopies = socket instanceof Socket;
    this.hpack = new HpackDecoder(4096, this.o.maxHeaderListBytes);
    this.connRecvWindow = this.o.connectionWindow;
    this.send(
      settingsFrame([
        [Setting.MAX_CONCURRENT_STREAMS, this.o.maxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, this.o.streamWindow],
        [Setting.MAX_HEADER_LIST_SIZE, this.o.maxHeaderListBytes],
      ]),
    );
    if (this.o.connectionWindow > DEFAULT_WINDOW) this.send(windowUpdateFrame(0, this.o.connectionWindow - DEFAULT_WINDOW));
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => {
      this.socketFull = false;
      this.turnEnd();
    });
    socket.on('error', noop);
    socket.on('close', () => this.onSocketClose());
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Graceful close: GOAWAY now, no new streams; the connection closes once open streams end. */
  goaway(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.send(goawayFrame(this.lastStreamId, H2Error.NO_ERROR));
    this.maybeEnd();
  }

  /** Closes at once; open streams see onClose. */
  destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.onSocketClose();
  }

  // ------------------------------------------------------------------ input

  private onSocketData(chunk: Buffer): void {
    if (this.closed) return;
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    try {
      if (!this.prefaceSeen) {
        if (buf.length < CONNECTION_PREFACE.length) {
          if (!CONNECTION_PREFACE.subarray(0, buf.length).equals(buf)) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'not an HTTP/2 connection preface');
          this.pending = buf;
          return;
        }
        if (!CONNECTION_PREFACE.equals(buf.subarray(0, CONNECTION_PREFACE.length))) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'not an HTTP/2 connection preface');
        this.prefaceSeen = true;
        pos = CONNECTION_PREFACE.length;
      }
      while (buf.length - pos >= FRAME_HEADER) {
        const len = frameLength(buf, pos);
        if (len > DEFAULT_MAX_FRAME_SIZE) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${len} bytes over the maximum ${DEFAULT_MAX_FRAME_SIZE}`);
        if (buf.length - pos - FRAME_HEADER < len) break;
        const type = buf[pos + 3] as number;
        const flags = buf[pos + 4] as number;
        const sid = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len);
        pos += FRAME_HEADER + len;
        this.onFrame(type, flags, sid, payload);
        if (this.closed) return;
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    if (pos < buf.length) this.pending = buf.subarray(pos);
  }

  private onFrame(type: number, flags: number, sid: number, p: Buffer): void {
    if (this.headerStream !== 0 && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a header block was interrupted by another frame');
    }
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, sid, p);
      case FrameType.HEADERS:
        return this.onHeaders(flags, sid, p);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, sid, p);
      case FrameType.PRIORITY:
        if (sid === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PRIORITY frame of the wrong size');
        return;
      case FrameType.RST_STREAM:
        return this.onRstStream(sid, p);
      case FrameType.SETTINGS:
        return this.onSettings(flags, sid, p);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (sid !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PING frame of the wrong size');
        if (!(flags & Flag.ACK)) this.send(frame(FrameType.PING, Flag.ACK, 0, p));
        return;
      case FrameType.GOAWAY:
        if (sid !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
        this.goingAway = true;
        this.maybeEnd();
        return;
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(sid, p);
      default:
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  /** The frame's payload without its padding (PADDED flag). */
  private unpad(flags: number, p: Buffer, what: string): Buffer {
    if (!(flags & Flag.PADDED)) return p;
    if (p.length < 1) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `padded ${what} frame without a pad length`);
    const pad = p[0] as number;
    if (pad >= p.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `${what} padding longer than the frame`);
    return p.subarray(1, p.length - pad);
  }

  private onData(flags: number, sid: number, p: Buffer): void {
    if (sid === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    // Flow control counts the whole frame, padding included, whatever becomes of the stream.
    this.connRecvWindow -= p.length;
    if (this.connRecvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.connRecvUnacked += p.length;
    if (this.connRecvUnacked >= this.o.connectionWindow / 2) {
      this.send(windowUpdateFrame(0, this.connRecvUnacked));
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
    }
    const s = this.streams.get(sid);
    if (!s) {
      if (sid > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `DATA on idle stream ${sid}`);
      return; // a stream closed meanwhile
    }
    if (!s.recvOpen) {
      this.resetStream(s, H2Error.STREAM_CLOSED);
      return;
    }
    s.recvWindow -= p.length;
    if (s.recvWindow < 0) {
      this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    const data = this.unpad(flags, p, 'DATA');
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (!endStream) {
      s.recvUnacked += p.length;
      if (s.recvUnacked >= this.o.streamWindow / 2) {
        this.send(windowUpdateFrame(sid, s.recvUnacked));
        s.recvWindow += s.recvUnacked;
        s.recvUnacked = 0;
      }
    }
    if (data.length > 0) s.onData(data);
    if (endStream && !s.gone) this.endOfRequest(s);
  }

  private endOfRequest(s: ServerStream): void {
    s.recvOpen = false;
    s.onEnd();
  }

  private onHeaders(flags: number, sid: number, p: Buffer): void {
    if (sid === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let block = this.unpad(flags, p, 'HEADERS');
    if (flags & Flag.PRIORITY) {
      if (block.length < 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'HEADERS priority fields missing');
      block = block.subarray(5);
    }
    if (flags & Flag.END_HEADERS) {
      this.onHeaderBlock(sid, flags, block);
      return;
    }
    this.headerStream = sid;
    this.headerFlags = flags;
    this.headerParts = [Buffer.from(block)];
    this.headerBytes = block.length;
  }

  private onContinuation(flags: number, sid: number, p: Buffer): void {
    if (this.headerStream === 0 || sid !== this.headerStream) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'CONTINUATION without a header block in progress');
    this.headerBytes += p.length;
    if (this.headerBytes > this.o.maxHeaderBlockBytes) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, `header block over ${this.o.maxHeaderBlockBytes} bytes`);
    this.headerParts.push(Buffer.from(p));
    if (!(flags & Flag.END_HEADERS)) return;
    const block = Buffer.concat(this.headerParts, this.headerBytes);
    const hflags = this.headerFlags;
    this.headerStream = 0;
    this.headerParts = [];
    this.headerBytes = 0;
    this.onHeaderBlock(sid, hflags, block);
  }

  private onHeaderBlock(sid: number, flags: number, block: Buffer): void {
    let fields: HeaderFields | undefined;
    try {
      // Always decoded, whatever becomes of the stream: the table must follow every block.
      fields = this.hpack.decodeShared(block);
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionError(H2Error.COMPRESSION_ERROR, e.message);
      throw e;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(sid);
    if (existing) {
      // Trailers of a request: they must end it.
      if (!existing.recvOpen || !endStream) {
        this.resetStream(existing, H2Error.PROTOCOL_ERROR);
        return;
      }
      this.endOfRequest(existing);
      return;
    }
    if (sid <= this.lastStreamId) return; // a stream that is already closed
    if (sid % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `client stream ${sid} has an even id`);
    this.lastStreamId = sid;
    if (this.goingAway) return; // after GOAWAY, new streams are ignored
    const s = new ServerStream(sid, this, this.o.streamWindow, this.peerInitialWindow);
    if (this.streams.size >= this.o.maxConcurrentStreams) {
      this.send(rstStreamFrame(sid, H2Error.REFUSED_STREAM));
      return;
    }
    this.streams.set(sid, s);
    if (!fields) {
      s.respond(STATUS_431, true);
      return;
    }
    // Set before onStream: an answer given from inside it must know the request is complete.
    if (endStream) s.recvOpen = false;
    this.onStream(s, fields);
    if (endStream && !s.gone) this.endOfRequest(s);
  }

  private onRstStream(sid: number, p: Buffer): void {
    if (sid === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (p.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM frame of the wrong size');
    const s = this.streams.get(sid);
    if (!s) {
      if (sid > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `RST_STREAM on idle stream ${sid}`);
      return;
    }
    this.drop(s);
  }

  private onSettings(flags: number, sid: number, p: Buffer): void {
    if (sid !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (p.length !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (p.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS frame of the wrong size');
    for (let i = 0; i < p.length; i += 6) {
      const id = p.readUInt16BE(i);
      const v = p.readUInt32BE(i + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (v > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${v}`);
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (v > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${v}`);
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (v < DEFAULT_MAX_FRAME_SIZE || v > 16777215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${v}`);
          this.peerMaxFrame = v;
          break;
        default:
          // HEADER_TABLE_SIZE: this encoder never uses the peer's table. MAX_CONCURRENT_STREAMS:
          // a server opens none. MAX_HEADER_LIST_SIZE: advisory. Unknown ones are ignored.
          break;
      }
    }
    this.send(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.schedulePump();
  }

  private onWindowUpdate(sid: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE frame of the wrong size');
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (sid === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      this.schedulePump();
      return;
    }
    const s = this.streams.get(sid);
    if (!s) return;
    if (inc === 0) {
      this.resetStream(s, H2Error.PROTOCOL_ERROR);
      return;
    }
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) {
      this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
      return;
    }
    if (s.queuedBytes > 0 || s.trailers) this.schedulePump(s);
  }

  // ------------------------------------------------------------------ streams

  /** @internal */
  sendHeaders(sid: number, block: Buffer, endStream: boolean): void {
    // Blocks this server sends are small (a few fields); a frame of them never needs CONTINUATION.
    this.send(frame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), sid, block));
  }

  /** @internal headers + one DATA frame + trailers, if the windows take the data now. */
  trySendAll(s: ServerStream, block: Buffer, data: readonly Buffer[], trailers: Buffer): boolean {
    let n = 0;
    for (const d of data) n += d.length;
    if (this.closed || s.queuedBytes > 0 || n > this.connSendWindow || n > s.sendWindow || n > this.peerMaxFrame) return false;
    const size = 3 * FRAME_HEADER + block.length + n + trailers.length;
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    writeFrameHeader(buf, at, block.length, FrameType.HEADERS, Flag.END_HEADERS, s.id);
    at += FRAME_HEADER;
    at += block.copy(buf, at);
    writeFrameHeader(buf, at, n, FrameType.DATA, 0, s.id);
    at += FRAME_HEADER;
    for (const d of data) at += d.copy(buf, at);
    writeFrameHeader(buf, at, trailers.length, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, s.id);
    trailers.copy(buf, at + FRAME_HEADER);
    this.connSendWindow -= n;
    s.sendWindow -= n;
    this.send(buf);
    return true;
  }

  /** @internal */
  schedulePump(s?: ServerStream): void {
    if (s) this.ready.add(s);
    this.scheduleTurnEnd();
  }

  private scheduleTurnEnd(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    process.nextTick(() => this.turnEnd());
  }

  private turnEnd(): void {
    this.turnScheduled = false;
    this.pump();
    this.flush();
  }

  /** Moves queued data into the output, one frame per stream per round, while windows and the socket allow. */
  private pump(): void {
    if (this.closed) return;
    let progress = true;
    while (progress && this.ready.size > 0 && !this.socketFull) {
      progress = false;
      for (const s of this.ready) {
        if (s.gone) {
          this.ready.delete(s);
          continue;
        }
        if (s.queuedBytes > 0) {
          // One DATA frame of up to what the windows allow, from as many queued pieces as it takes.
          let n = Math.min(s.queuedBytes, this.connSendWindow, s.sendWindow, this.peerMaxFrame);
          if (n <= 0) continue;
          s.queuedBytes -= n;
          this.connSendWindow -= n;
          s.sendWindow -= n;
          const h = Buffer.allocUnsafe(FRAME_HEADER);
          writeFrameHeader(h, 0, n, FrameType.DATA, 0, s.id);
          this.send(h);
          while (n > 0) {
            const head = s.queue[s.qHead] as Buffer;
            if (head.length <= n) {
              s.qHead++;
              this.send(head);
              n -= head.length;
            } else {
              this.send(head.subarray(0, n));
              s.queue[s.qHead] = head.subarray(n);
              n = 0;
            }
          }
          if (s.qHead === s.queue.length) {
            s.queue = [];
            s.qHead = 0;
          } else if (s.qHead > 1024 && s.qHead * 2 > s.queue.length) {
            s.queue = s.queue.slice(s.qHead);
            s.qHead = 0;
          }
          progress = true;
        }
        if (s.queuedBytes === 0) {
          this.ready.delete(s);
          if (s.trailers) {
            const t = s.trailers;
            s.trailers = undefined;
            this.sendHeaders(s.id, t, true);
            s.finish();
          }
        }
        if (s.needDrain && s.queuedBytes <= s.highWater) {
          s.needDrain = false;
          s.onDrain();
        }
      }
    }
  }

  /** @internal the response is complete */
  finished(s: ServerStream): void {
    if (s.gone) return;
    if (s.queuedBytes > 0 || s.trailers) return;
    if (s.recvOpen) {
      // The client is still sending: tell it to stop, without error (RFC 9113 §8.1).
      this.send(rstStreamFrame(s.id, H2Error.NO_ERROR));
    }
    this.release(s);
  }

  /** @internal */
  resetStream(s: ServerStream, code: H2Error): void {
    if (s.gone) return;
    this.send(rstStreamFrame(s.id, code));
    this.drop(s);
  }

  /** Forgets a stream that ended normally. */
  private release(s: ServerStream): void {
    s.gone = true;
    this.streams.delete(s.id);
    this.ready.delete(s);
    this.maybeEnd();
  }

  /** Forgets a stream that did not end normally, and says so. */
  private drop(s: ServerStream): void {
    const wasEnded = s.closed;
    s.gone = true;
    s.queue = [];
    s.qHead = 0;
    s.queuedBytes = 0;
    s.trailers = undefined;
    this.streams.delete(s.id);
    this.ready.delete(s);
    if (!wasEnded) s.onClose();
    this.maybeEnd();
  }

  // ------------------------------------------------------------------ output

  /**
   * Nothing waits to be written: the output of this turn is flushed and the socket wrote all of
   * it (node counts a write as done when the kernel has the bytes; one it could not finish at
   * once stays in writableLength until it does). @internal
   */
  get outputIdle(): boolean {
    return this.socketCopies && this.out.length === 0 && this.socket.writableLength === 0;
  }

  private send(buf: Buffer): void {
    if (this.closed) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    this.scheduleTurnEnd();
  }

  private flush(): void {
    if (this.closed || this.out.length === 0) return;
    const parts = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    const sock = this.socket;
    let ok: boolean;
    if (parts.length === 1) ok = sock.write(parts[0] as Buffer);
    else if (bytes <= JOIN_BYTES) ok = sock.write(Buffer.concat(parts, bytes));
    else {
      // Runs of small parts (frame headers, answers) are joined; a part of WRITE_AS_IS_BYTES or
      // more (a stream's batch of watch events, sliced into DATA frames) goes to the socket as
      // it is, so its bytes are not copied once more. Corked, it all leaves in one writev.
      sock.cork();
      let from = 0;
      let size = 0;
      const writeRun = (to: number): void => {
        if (to - from === 1) sock.write(parts[from] as Buffer);
        else if (to > from) sock.write(Buffer.concat(parts.slice(from, to), size));
        from = to;
        size = 0;
      };
      for (let i = 0; i < parts.length; i++) {
        const len = (parts[i] as Buffer).length;
        if (len >= WRITE_AS_IS_BYTES) {
          writeRun(i);
          sock.write(parts[i] as Buffer);
          from = i + 1;
          continue;
        }
        size += len;
        if (size >= JOIN_BYTES) writeRun(i + 1);
      }
      writeRun(parts.length);
      sock.uncork();
      ok = sock.writableLength < SOCKET_HIGH_WATER;
    }
    if (!ok && sock.writableLength >= SOCKET_HIGH_WATER) this.socketFull = true;
    if (sock.writableLength > this.o.maxBufferedOutput) {
      // A peer that reads nothing while it makes us answer (pings, resets...).
      this.fail(new ConnectionError(H2Error.ENHANCE_YOUR_CALM, `over ${this.o.maxBufferedOutput} bytes buffered for a peer that does not read`));
    }
  }

  /** After GOAWAY (either way), the connection ends once its last stream does. */
  private maybeEnd(): void {
    if (!this.goingAway || this.streams.size > 0 || this.closed) return;
    process.nextTick(() => {
      if (this.closed || this.streams.size > 0) return;
      this.flush();
      this.socket.end();
    });
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    const code = e instanceof ConnectionError ? e.code : H2Error.INTERNAL_ERROR;
    const msg = e instanceof Error ? e.message : String(e);
    this.send(goawayFrame(this.lastStreamId, code, msg));
    this.flush();
    this.socket.end();
    // A peer that never closes its side is cut off.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.onSocketClose();
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    this.outBytes = 0;
    for (const s of [...this.streams.values()]) this.drop(s);
  }
}
