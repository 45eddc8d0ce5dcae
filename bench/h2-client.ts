// The load generator's HTTP/2 client connection (RFC 9113): just what gRPC calls over cleartext
// HTTP/2 need, on one TCP socket. It reads into one reused buffer (net's `onread`), so the bytes
// of a busy watch stream are parsed where they land instead of arriving as a new Buffer per
// DATA frame: with node:http2 the load generator's ~80 MB/s of watch events per process kept V8
// busy with garbage collection (a quarter of its CPU in a fan-out run), and the load generator
// shares the machine's cores with the servers it measures.
//
// Consequence for callers: a DATA chunk handed to a stream is valid only during the call; what
// must outlive it has to be copied. Left out, because a benchmark against etcd and keelson does
// not need them: TLS, server push (disabled in our SETTINGS), priorities, and a queue for
// streams over the server's MAX_CONCURRENT_STREAMS (the bench opens at most a few dozen per
// connection; both servers allow far more).

import * as net from 'node:net';
import {
  CONNECTION_PREFACE,
  DEFAULT_WINDOW,
  FRAME_HEADER,
  Flag,
  FrameType,
  H2Error,
  Setting,
  frame,
  frameLength,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from '../store/server/http2/frames.js';
import { HpackDecoder, type HeaderFields } from '../store/server/http2/hpack.js';

/** One read's buffer: a fan-out stream arrives in reads of up to this much. */
const READ_BYTES = 256 * 1024;
/**
 * Receive windows: large, so a busy watch stream is not paced by WINDOW_UPDATE round trips.
 * 16 MiB is where grpc-go's clients (etcd's clientv3) take theirs under a stream like this (its
 * BDP estimator's limit). With 1 MiB, a fan-out stream (~50 MB/s) had ~20 ms of data in flight,
 * and a load generator that lost its core for longer left the server waiting on the window.
 */
const STREAM_WINDOW = 16 << 20;
const CONNECTION_WINDOW = 16 << 20;
/** Largest frame accepted (the servers send at most the default 16 KiB). */
const MAX_FRAME_BYTES = 1 << 24;
/** Bound on one header block (with its CONTINUATIONs). */
const MAX_HEADER_BLOCK = 256 * 1024;

/** What a stream hears from the connection. */
export interface H2StreamEvents {
  /** A header block: the response headers, or (endStream) the trailers. Shared: read only. */
  headers(fields: HeaderFields, endStream: boolean): void;
  /** DATA payload, valid only during the call. */
  data(chunk: Buffer, endStream: boolean): void;
  /** The stream ended without the server's END_STREAM: reset, refused or the connection lost. */
  aborted(err: Error): void;
}

export class H2ClientStream {
  /** The server's window for this stream's sends. */
  sendWindow: number;
  /** Bytes received and not yet given back with WINDOW_UPDATE. */
  unacked = 0;
  /** Queued DATA waiting for send window: [bytes, endStream]. */
  readonly queue: [Buffer, boolean][] = [];
  localEnded = false;
  closed = false;

  constructor(
    readonly id: number,
    private readonly conn: H2ClientConnection,
    readonly events: H2StreamEvents,
    initialWindow: number,
  ) {
    this.sendWindow = initialWindow;
  }

  /** Sends DATA (a whole gRPC message or several), ending our side if `end`. */
  write(data: Buffer, end = false): void {
    if (this.localEnded || this.closed) return;
    this.localEnded = end;
    this.queue.push([data, end]);
    this.conn.pump(this);
  }

  /** Resets the stream (RST_STREAM); no further events. */
  reset(code: H2Error = H2Error.CANCEL): void {
    if (this.closed) return;
    this.conn.closeStream(this, code);
  }
}

export class H2ClientConnection {
  private readonly streams = new Map<number, H2ClientStream>();
  private nextId = 1;
  /** The start of a frame that the last read cut off: carry[0..carryLen). */
  private carry = Buffer.allocUnsafe(FRAME_HEADER + 16384);
  private carryLen = 0;
  /**
   * Blocks are decoded with decodeShared(): a server answers every call with the same few
   * blocks (":status 200, content-type", "grpc-status 0"), and decoding them each time took a
   * tenth of a writer's CPU.
   */
  private readonly hpack = new HpackDecoder(4096, MAX_HEADER_BLOCK);
  /** A header block spread over HEADERS and CONTINUATION frames (copied: reads are reused). */
  private block: { stream: number; endStream: boolean; parts: Buffer[]; bytes: number } | undefined;
  private connSendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16384;
  private connUnacked = 0;
  private out: Buffer[] = [];
  private flushQueued = false;
  private failure: Error | undefined;
  /** Streams over this id were not processed by the server (GOAWAY); none may start. */
  private goneAway = false;
  /** connect()'s resolution, on the server's first SETTINGS. */
  private onFirstSettings: (() => void) | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly endpoint: string,
  ) {}

  /** Connects and sends the preface; resolves once the server's first SETTINGS arrived. */
  static connect(endpoint: string, timeoutMs: number): Promise<H2ClientConnection> {
    const colon = endpoint.lastIndexOf(':');
    const host = endpoint.slice(0, colon);
    const port = Number(endpoint.slice(colon + 1));
    return new Promise((resolve, reject) => {
      let conn: H2ClientConnection | undefined = undefined;
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          socket.destroy();
          reject(new Error(`connect ${endpoint}: ${err.message}`));
        } else resolve(conn!);
      };
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const socket = net.connect({
        host,
        port,
        noDelay: true,
        onread: {
          buffer,
          callback: (n: number, buf: Uint8Array) => {
            conn!.onBytes(Buffer.from(buf.buffer, buf.byteOffset, n));
            return true;
          },
        },
      });
      conn = new H2ClientConnection(socket, endpoint);
      conn.onFirstSettings = () => settle();
      const timer = setTimeout(() => settle(new Error(`no HTTP/2 settings after ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', () => {
        conn!.send(CONNECTION_PREFACE);
        conn!.send(
          settingsFrame([
            [Setting.ENABLE_PUSH, 0],
            [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
          ]),
        );
        conn!.send(windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
      });
      socket.on('error', (err) => {
        settle(err);
        conn!.fail(new Error(`${endpoint}: ${err.message}`));
      });
      socket.on('close', () => {
        settle(new Error('connection closed'));
        conn!.fail(new Error(`${endpoint}: connection closed`));
      });
    });
  }

  /** Whether new streams can start. */
  get usable(): boolean {
    return this.failure === undefined && !this.goneAway;
  }

  /** Opens a stream with an encoded request header block (END_HEADERS, not END_STREAM). */
  request(headerBlock: Buffer, events: H2StreamEvents): H2ClientStream {
    if (!this.usable) throw new Error(`${this.endpoint}: not connected`);
    const id = this.nextId;
    this.nextId += 2;
    const s = new H2ClientStream(id, this, events, this.peerInitialWindow);
    this.streams.set(id, s);
    this.sendHeaders(id, headerBlock);
    return s;
  }

  /** Closes the connection at once; open streams are aborted. */
  close(): void {
    this.fail(new Error(`${this.endpoint}: not connected`));
  }

  /** Sends what the windows allow of the stream's queued DATA. */
  pump(s: H2ClientStream): void {
    while (s.queue.length > 0 && !s.closed) {
      const [data, end] = s.queue[0]!;
      const room = Math.min(s.sendWindow, this.connSendWindow, this.peerMaxFrame);
      if (data.length > 0 && room <= 0) return;
      const n = Math.min(data.length, room);
      const last = n === data.length;
      const h = Buffer.allocUnsafe(FRAME_HEADER);
      writeFrameHeader(h, 0, n, FrameType.DATA, last && end ? Flag.END_STREAM : 0, s.id);
      // Header and payload as two parts: the turn's flush joins them with the rest anyway.
      this.send(h);
      if (n > 0) this.send(data.subarray(0, n));
      s.sendWindow -= n;
      this.connSendWindow -= n;
      if (last) s.queue.shift();
      else s.queue[0] = [data.subarray(n), end];
    }
  }

  closeStream(s: H2ClientStream, code: H2Error): void {
    this.send(rstStreamFrame(s.id, code));
    this.forget(s);
  }

  private forget(s: H2ClientStream): void {
    s.closed = true;
    s.queue.length = 0;
    this.streams.delete(s.id);
  }

  private sendHeaders(id: number, block: Buffer): void {
    // Request header blocks are a few dozen bytes: always one frame.
    const f = Buffer.allocUnsafe(FRAME_HEADER + block.length);
    writeFrameHeader(f, 0, block.length, FrameType.HEADERS, Flag.END_HEADERS, id);
    block.copy(f, FRAME_HEADER);
    this.send(f);
  }

  /** Queues bytes for the socket; a turn's frames leave in one write. */
  private send(b: Buffer): void {
    if (this.failure) return;
    this.out.push(b);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const out = this.out;
    this.out = [];
    if (this.failure || out.length === 0) return;
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.out = [];
    this.socket.destroy();
    this.abortAll(err, 0);
  }

  /** Aborts every stream with an id above `above`. */
  private abortAll(err: Error, above: number): void {
    for (const s of [...this.streams.values()]) {
      if (s.id <= above) continue;
      this.forget(s);
      s.events.aborted(err);
    }
  }

  private protocolError(message: string): void {
    this.fail(new Error(`${this.endpoint}: HTTP/2 protocol error: ${message}`));
  }

  private onBytes(chunk: Buffer): void {
    if (this.failure) return;
    let pos = 0;
    // A frame cut by the previous read's end was copied aside (the read buffer is reused): join
    // it with just the bytes that complete it, then parse the rest of this read in place.
    if (this.carryLen > 0) {
      if (this.carryLen < FRAME_HEADER) {
        pos = Math.min(FRAME_HEADER - this.carryLen, chunk.length);
        this.carryIn(chunk, 0, pos);
        if (this.carryLen < FRAME_HEADER) return;
      }
      const len = frameLength(this.carry, 0);
      if (len > MAX_FRAME_BYTES) return this.protocolError(`frame of ${len} bytes`);
      const total = FRAME_HEADER + len;
      const take = Math.min(total - this.carryLen, chunk.length - pos);
      this.carryIn(chunk, pos, pos + take);
      pos += take;
      if (this.carryLen < total) return;
      this.carryLen = 0;
      if (this.parse(this.carry.subarray(0, total), 0) !== total) return; // a protocol error: the connection failed
    }
    const done = this.parse(chunk, pos);
    if (done < chunk.length && !this.failure) this.carryIn(chunk, done, chunk.length);
  }

  /** Appends chunk[from..to] to the carried frame (its buffer is reused, grown when a frame needs it). */
  private carryIn(chunk: Buffer, from: number, to: number): void {
    const need = this.carryLen + to - from;
    if (this.carry.length < need) {
      const bigger = Buffer.allocUnsafe(Math.max(need, 2 * this.carry.length));
      this.carry.copy(bigger, 0, 0, this.carryLen);
      this.carry = bigger;
    }
    chunk.copy(this.carry, this.carryLen, from, to);
    this.carryLen = need;
  }

  /** Handles the whole frames of `buf` from `pos`; returns where the first incomplete one starts. */
  private parse(buf: Buffer, pos: number): number {
    while (buf.length - pos >= FRAME_HEADER && !this.failure) {
      const len = frameLength(buf, pos);
      if (len > MAX_FRAME_BYTES) {
        this.protocolError(`frame of ${len} bytes`);
        break;
      }
      if (buf.length - pos - FRAME_HEADER < len) break;
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const stream = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      const start = pos + FRAME_HEADER;
      pos = start + len;
      this.onFrame(type, flags, stream, buf, start, pos);
    }
    return pos;
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.block && type !== FrameType.CONTINUATION) return this.protocolError('header block interrupted');
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, id, buf, start, end);
      case FrameType.HEADERS: {
        let p = start;
        let e = end;
        if (flags & Flag.PADDED) {
          e -= buf[p]!;
          p += 1;
        }
        if (flags & Flag.PRIORITY) p += 5;
        if (p > e) return this.protocolError('HEADERS padding');
        const endStream = (flags & Flag.END_STREAM) !== 0;
        if (flags & Flag.END_HEADERS) return this.onHeaderBlock(id, endStream, buf.subarray(p, e));
        this.block = { stream: id, endStream, parts: [Buffer.from(buf.subarray(p, e))], bytes: e - p };
        return;
      }
      case FrameType.CONTINUATION: {
        const b = this.block;
        if (!b || b.stream !== id) return this.protocolError('CONTINUATION without HEADERS');
        b.parts.push(Buffer.from(buf.subarray(start, end)));
        b.bytes += end - start;
        if (b.bytes > MAX_HEADER_BLOCK) return this.protocolError('header block too large');
        if (flags & Flag.END_HEADERS) {
          this.block = undefined;
          this.onHeaderBlock(b.stream, b.endStream, Buffer.concat(b.parts, b.bytes));
        }
        return;
      }
      case FrameType.RST_STREAM: {
        const s = this.streams.get(id);
        if (!s || end - start < 4) return;
        this.forget(s);
        s.events.aborted(new Error(`${this.endpoint}: stream reset by the server (http2 code ${buf.readUInt32BE(start)})`));
        return;
      }
      case FrameType.SETTINGS:
        if (flags & Flag.ACK) return;
        for (let p = start; p + 6 <= end; p += 6) {
          const key = buf.readUInt16BE(p);
          const v = buf.readUInt32BE(p + 2);
          if (key === Setting.INITIAL_WINDOW_SIZE) {
            const delta = v - this.peerInitialWindow;
            this.peerInitialWindow = v;
            for (const s of this.streams.values()) s.sendWindow += delta;
          } else if (key === Setting.MAX_FRAME_SIZE) this.peerMaxFrame = v;
        }
        this.send(frame(FrameType.SETTINGS, Flag.ACK, 0));
        for (const s of this.streams.values()) this.pump(s);
        if (this.onFirstSettings) {
          const f = this.onFirstSettings;
          this.onFirstSettings = undefined;
          f();
        }
        return;
      case FrameType.PING:
        if (!(flags & Flag.ACK)) this.send(frame(FrameType.PING, Flag.ACK, 0, buf.subarray(start, end)));
        return;
      case FrameType.GOAWAY: {
        this.goneAway = true;
        const last = buf.readUInt32BE(start) & 0x7fffffff;
        this.abortAll(new Error(`${this.endpoint}: connection going away (http2 code ${buf.readUInt32BE(start + 4)})`), last);
        return;
      }
      case FrameType.WINDOW_UPDATE: {
        const inc = buf.readUInt32BE(start) & 0x7fffffff;
        if (id === 0) {
          this.connSendWindow += inc;
          for (const s of this.streams.values()) if (s.queue.length > 0) this.pump(s);
        } else {
          const s = this.streams.get(id);
          if (s) {
            s.sendWindow += inc;
            this.pump(s);
          }
        }
        return;
      }
      case FrameType.PUSH_PROMISE:
        return this.protocolError('PUSH_PROMISE with push disabled');
      default:
        return; // PRIORITY and unknown types are ignored (RFC 9113 §4.1, §5.5)
    }
  }

  private onData(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    const len = end - start;
    let p = start;
    let e = end;
    if (flags & Flag.PADDED) {
      e -= buf[p]!;
      p += 1;
      if (p > e) return this.protocolError('DATA padding');
    }
    // Flow control counts the whole payload, padding included.
    this.connUnacked += len;
    if (this.connUnacked >= CONNECTION_WINDOW / 2) {
      this.send(windowUpdateFrame(0, this.connUnacked));
      this.connUnacked = 0;
    }
    const s = this.streams.get(id);
    if (!s) return; // a stream we reset or forgot: its bytes still count for the connection
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (!endStream) {
      s.unacked += len;
      if (s.unacked >= STREAM_WINDOW / 2) {
        this.send(windowUpdateFrame(id, s.unacked));
        s.unacked = 0;
      }
    }
    if (endStream) this.remoteEnd(s);
    s.events.data(buf.subarray(p, e), endStream);
  }

  /** A whole header block of stream `id` (decoded at once: `bytes` may be in the read buffer). */
  private onHeaderBlock(id: number, endStream: boolean, bytes: Buffer): void {
    let fields: HeaderFields | undefined;
    try {
      fields = this.hpack.decodeShared(bytes);
    } catch (err) {
      return this.protocolError(`header block: ${(err as Error).message}`);
    }
    if (fields === undefined) return this.protocolError('header block too large');
    const s = this.streams.get(id);
    if (!s) return;
    if (endStream) this.remoteEnd(s);
    s.events.headers(fields, endStream);
  }

  /** The server ended its side: the call is over (a gRPC server ends with its trailers). */
  private remoteEnd(s: H2ClientStream): void {
    if (!s.localEnded) {
      // Our side was still open (a bidi stream): nothing more of it is wanted.
      this.send(rstStreamFrame(s.id, H2Error.NO_ERROR));
    }
    this.forget(s);
  }
}
