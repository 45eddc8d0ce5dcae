// A lean gRPC server written directly on node:http2, for the etcd v3 API on the client port.
//
// Why not @grpc/grpc-js here: on the dev machine a grpc-js unary call cost the server ~46 µs
// of CPU against ~29 µs for the same call answered straight from node:http2 (grpc-js runs every
// call through interceptors, metadata objects and several promise hops, and sends the trailers
// on a later turn than the answer). All members and the clients share two cores, so that is
// throughput. What etcd clients use is here: unary calls, server streams and bidirectional
// streams, gRPC framing with etcd's receive limit, statuses in trailers (or trailers-only
// answers), and backpressure for long streams. Not here: compression (never negotiated: a
// compressed message is refused), server-side deadlines (clients enforce their own and cancel,
// which ends the call here), TLS (the listener is plain TCP, like the rest of keelson).
//
// Connections come from ClientListener, which hands HTTP/2 sockets to `connection()`.

import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { EtcdError, GrpcCode } from '../api/errors.js';
import { toGrpcStatus } from '../api/grpc-errors.js';
import { FrameError, FrameReader, frameMessage, percentEncode } from './grpc-frames.js';

/** What a method needs from its service definition (store/api/grpc-services.ts has them all). */
export interface WireMethod<Req, Res> {
  path: string;
  requestDeserialize: (bytes: Buffer) => Req;
  responseSerialize: (value: Res | Buffer) => Buffer;
}

export type CallType = 'unary' | 'server_stream' | 'bidi_stream';

/** Called once per finished call with its status code and duration (for metrics). */
export type HandledHook = (code: GrpcCode, seconds: number) => void;

export type UnaryHandler<Req, Res> = (req: Req) => Promise<Res> | Res;
export type ServerStreamHandler<Req, Res> = (req: Req, call: StreamCall<Req, Res>) => void;
export type BidiHandler<Req, Res> = (call: StreamCall<Req, Res>) => void;

export interface GrpcHttp2ServerOptions {
  /** The largest request message accepted (etcd: max-request-bytes + 512 KiB). */
  maxReceiveBytes: number;
  /** A stream's write() reports full above this many buffered bytes (default 1 MiB). */
  streamBufferBytes?: number;
}

const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
const OK_TRAILERS_ONLY = Object.freeze({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' });
const DEFAULT_STREAM_BUFFER = 1 << 20;

function statusOf(e: unknown): { code: GrpcCode; details: string } {
  if (e instanceof FrameError) {
    return e.kind === 'too-large' ? { code: GrpcCode.RESOURCE_EXHAUSTED, details: e.message } : { code: GrpcCode.UNIMPLEMENTED, details: e.message };
  }
  return toGrpcStatus(e);
}

function errorTrailers(code: GrpcCode, details: string): http2.OutgoingHttpHeaders {
  return { 'grpc-status': String(code), 'grpc-message': percentEncode(details) };
}

/** Answers a call with a status and no messages (gRPC's trailers-only response). */
function trailersOnly(stream: http2.ServerHttp2Stream, code: GrpcCode, details: string): void {
  if (stream.destroyed || stream.headersSent) return;
  if (code === GrpcCode.OK) stream.respond(OK_TRAILERS_ONLY, { endStream: true });
  else stream.respond({ ...RESPONSE_HEADERS, ...errorTrailers(code, details) }, { endStream: true });
}

/**
 * A streaming call (server stream or bidi). Set the handlers right away (messages can arrive in
 * the same turn). write() returns false when the client is not keeping up; onDrain follows.
 *
 * Responses written in the same turn go to the HTTP/2 stream as one write at the end of it (a
 * watch stream gets one message per watcher for every revision: writing each on its own cost
 * more than encoding it).
 */
export class StreamCall<Req, Res> {
  onMessage: (req: Req) => void = () => undefined;
  /** The client will send no more (it may still read). */
  onHalfClose: () => void = () => undefined;
  onDrain: () => void = () => undefined;
  /** The call ended without an answer from us: the client cancelled, reset or went away. */
  onCancel: () => void = () => undefined;
  private finished = false;
  private trailers: http2.OutgoingHttpHeaders = OK_TRAILERS;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushQueued = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly method: WireMethod<Req, Res>,
    private readonly bufferBytes: number,
    private readonly handled: HandledHook,
    private readonly startedAt: number,
  ) {
    stream.on('drain', () => {
      if (!this.finished) this.onDrain();
    });
    stream.on('close', () => {
      if (this.finished) return;
      this.finished = true;
      this.pending = [];
      this.handled(GrpcCode.CANCELLED, (performance.now() - this.startedAt) / 1000);
      this.onCancel();
    });
  }

  /** Whether the call is over (answered or cancelled). */
  get ended(): boolean {
    return this.finished || this.stream.destroyed;
  }

  /** Sends one response (a message or its encoded bytes); false when the buffer is full. */
  write(res: Res | Buffer): boolean {
    if (this.ended) return true;
    return this.queue(frameMessage(this.method.responseSerialize(res)));
  }

  /**
   * Sends one response given as the parts of its gRPC frame (5-byte prefix included), e.g. a
   * header of its own and events bytes shared with other calls; false when the buffer is full.
   */
  writeFrameParts(parts: readonly Buffer[]): boolean {
    if (this.ended) return true;
    let ok = true;
    for (const p of parts) ok = this.queue(p);
    return ok;
  }

  /** Ends the call with OK. */
  end(): void {
    this.finish(GrpcCode.OK, '');
  }

  /** Ends the call with the error's status (an EtcdError's code and message). */
  fail(err: unknown): void {
    const st = statusOf(err);
    this.finish(st.code, st.details);
  }

  private queue(bytes: Buffer): boolean {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    return this.stream.writableLength + this.pendingBytes < this.bufferBytes;
  }

  /** Writes what this turn queued, as one write. */
  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const parts = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const s = this.stream;
    if (s.destroyed) return;
    if (!s.headersSent) this.respond();
    s.write(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, bytes));
  }

  private respond(): void {
    const s = this.stream;
    s.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    s.once('wantTrailers', () => {
      if (!s.destroyed) s.sendTrailers(this.trailers);
    });
  }

  private finish(code: GrpcCode, details: string): void {
    if (this.ended) return;
    this.flush();
    this.finished = true;
    this.handled(code, (performance.now() - this.startedAt) / 1000);
    const s = this.stream;
    if (!s.headersSent) {
      trailersOnly(s, code, details);
      return;
    }
    if (code !== GrpcCode.OK) this.trailers = errorTrailers(code, details);
    s.end();
  }
}

/** The status of a request message that does not decode (grpc-go's wording). */
function unmarshalError(e: unknown): EtcdError {
  return new EtcdError(GrpcCode.INTERNAL, `grpc: error unmarshalling request: ${(e as Error).message}`);
}

type Route =
  | { type: 'unary'; method: WireMethod<unknown, unknown>; handler: UnaryHandler<unknown, unknown>; handled: HandledHook }
  | { type: 'server_stream'; method: WireMethod<unknown, unknown>; handler: ServerStreamHandler<unknown, unknown>; handled: HandledHook }
  | { type: 'bidi_stream'; method: WireMethod<unknown, unknown>; handler: BidiHandler<unknown, unknown>; handled: HandledHook };

export class GrpcHttp2Server {
  private readonly http2: http2.Http2Server;
  private readonly routes = new Map<string, Route>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly maxReceive: number;
  private readonly bufferBytes: number;
  private draining = false;

  constructor(o: GrpcHttp2ServerOptions) {
    this.maxReceive = o.maxReceiveBytes;
    this.bufferBytes = o.streamBufferBytes ?? DEFAULT_STREAM_BUFFER;
    this.http2 = http2.createServer({
      // Node's default (10 MB per session) fails busy watch connections with ENHANCE_YOUR_CALM;
      // what bounds memory here is each stream's write buffer (write() returns false).
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      settings: { initialWindowSize: 1 << 20 },
    });
    this.http2.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
      if (this.draining) session.close();
    });
    this.http2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.onStream(stream, headers));
  }

  unary<Req, Res>(method: WireMethod<Req, Res>, handler: UnaryHandler<Req, Res>, handled: HandledHook): void {
    this.routes.set(method.path, { type: 'unary', method, handler, handled } as Route);
  }

  serverStream<Req, Res>(method: WireMethod<Req, Res>, handler: ServerStreamHandler<Req, Res>, handled: HandledHook): void {
    this.routes.set(method.path, { type: 'server_stream', method, handler, handled } as Route);
  }

  bidi<Req, Res>(method: WireMethod<Req, Res>, handler: BidiHandler<Req, Res>, handled: HandledHook): void {
    this.routes.set(method.path, { type: 'bidi_stream', method, handler, handled } as Route);
  }

  /** Serves an accepted connection whose first bytes are the HTTP/2 preface. */
  connection(socket: Duplex): void {
    this.http2.emit('connection', socket);
  }

  /** Tells every client to go away (GOAWAY); calls in flight go on until they end. */
  drain(): void {
    this.draining = true;
    for (const s of this.sessions) s.close();
  }

  /** Cuts every connection. */
  close(): void {
    this.draining = true;
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const path = headers[':path'] ?? '';
    const route = this.routes.get(path);
    if (!route) {
      const slash = path.lastIndexOf('/');
      trailersOnly(stream, GrpcCode.UNIMPLEMENTED, `unknown method ${path.slice(slash + 1)} for service ${path.slice(1, Math.max(1, slash))}`);
      return;
    }
    const ct = headers['content-type'];
    if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) {
      if (!stream.headersSent) stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    const enc = headers['grpc-encoding'];
    if (enc !== undefined && enc !== 'identity') {
      trailersOnly(stream, GrpcCode.UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${String(enc)}"`);
      return;
    }
    const t0 = performance.now();
    if (route.type === 'unary') this.serveUnary(stream, route, t0);
    else this.serveStream(stream, route, t0);
  }

  private serveUnary(stream: http2.ServerHttp2Stream, route: Extract<Route, { type: 'unary' }>, t0: number): void {
    const reader = new FrameReader(this.maxReceive);
    let request: Buffer | undefined;
    let count = 0;
    let done = false;
    const answer = (code: GrpcCode, details: string): void => {
      if (done) return;
      done = true;
      route.handled(code, (performance.now() - t0) / 1000);
      trailersOnly(stream, code, details);
    };
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        reader.push(chunk, (m) => {
          count++;
          request = m;
        });
      } catch (e) {
        const st = statusOf(e);
        answer(st.code, st.details);
      }
    });
    stream.on('end', () => {
      if (done) return;
      if (count !== 1 || request === undefined || reader.buffered > 0) {
        answer(GrpcCode.INTERNAL, `grpc: a unary call takes exactly one request message, got ${count}`);
        return;
      }
      let req: unknown;
      try {
        req = route.method.requestDeserialize(request);
      } catch (e) {
        answer(GrpcCode.INTERNAL, unmarshalError(e).message);
        return;
      }
      let p: Promise<unknown> | unknown;
      try {
        p = route.handler(req);
      } catch (e) {
        p = Promise.reject(e);
      }
      Promise.resolve(p).then(
        (res) => {
          if (done) return;
          let body: Buffer;
          try {
            body = route.method.responseSerialize(res);
          } catch (e) {
            answer(GrpcCode.INTERNAL, `grpc: error while marshaling: ${(e as Error).message}`);
            return;
          }
          done = true;
          route.handled(GrpcCode.OK, (performance.now() - t0) / 1000);
          if (stream.destroyed) return;
          stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
          stream.once('wantTrailers', () => {
            if (!stream.destroyed) stream.sendTrailers(OK_TRAILERS);
          });
          stream.end(frameMessage(body));
        },
        (e: unknown) => {
          const st = statusOf(e);
          answer(st.code, st.details);
        },
      );
    });
    stream.on('close', () => {
      // The client cancelled (or the connection went) before an answer.
      if (!done) {
        done = true;
        route.handled(GrpcCode.CANCELLED, (performance.now() - t0) / 1000);
      }
    });
  }

  private serveStream(stream: http2.ServerHttp2Stream, route: Exclude<Route, { type: 'unary' }>, t0: number): void {
    const call = new StreamCall(stream, route.method, this.bufferBytes, route.handled, t0);
    const reader = new FrameReader(this.maxReceive);
    if (route.type === 'bidi_stream') {
      stream.on('data', (chunk: Buffer) => {
        if (call.ended) return;
        try {
          reader.push(chunk, (m) => {
            if (call.ended) return;
            let req: unknown;
            try {
              req = route.method.requestDeserialize(m);
            } catch (e) {
              call.fail(unmarshalError(e));
              return;
            }
            call.onMessage(req);
          });
        } catch (e) {
          call.fail(e);
        }
      });
      stream.on('end', () => {
        if (!call.ended) call.onHalfClose();
      });
      route.handler(call);
      return;
    }
    // A server stream: one request message, then the handler writes.
    let request: Buffer | undefined;
    let count = 0;
    stream.on('data', (chunk: Buffer) => {
      if (call.ended) return;
      try {
        reader.push(chunk, (m) => {
          count++;
          request = m;
        });
      } catch (e) {
        call.fail(e);
      }
    });
    stream.on('end', () => {
      if (call.ended) return;
      if (count !== 1 || request === undefined) {
        call.fail(new EtcdError(GrpcCode.INTERNAL, `grpc: a server-streaming call takes exactly one request message, got ${count}`));
        return;
      }
      let req: unknown;
      try {
        req = route.method.requestDeserialize(request);
      } catch (e) {
        call.fail(unmarshalError(e));
        return;
      }
      route.handler(req, call);
    });
  }
}
