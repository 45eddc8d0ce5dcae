// A lean gRPC server on the project's own HTTP/2 connection layer (http2/server-connection.ts),
// for the etcd v3 API on the client port.
//
// Why not @grpc/grpc-js here: on the dev machine a grpc-js unary call cost the server ~46 µs
// of CPU against ~29 µs for the same call answered straight from node:http2 (grpc-js runs every
// call through interceptors, metadata objects and several promise hops, and sends the trailers
// on a later turn than the answer); and node:http2 itself was later replaced for the same
// reason (see http2/server-connection.ts). All members and the clients share two cores, so that
// is throughput. What etcd clients use is here: unary calls, server streams and bidirectional
// streams, gRPC framing with etcd's receive limit, statuses in trailers (or trailers-only
// answers), and backpressure for long streams. Not here: compression (never negotiated: a
// compressed message is refused), server-side deadlines (clients enforce their own and cancel,
// which ends the call here), TLS (the listener is plain TCP, like the rest of keelson).
//
// Connections come from ClientListener, which hands HTTP/2 sockets to `connection()`.

import type { Duplex } from 'node:stream';
import { EtcdError, GrpcCode } from '../api/errors.js';
import { toGrpcStatus } from '../api/grpc-errors.js';
import { FrameError, FrameReader, percentEncode } from './grpc-frames.js';
import { encodeHeaderBlock, type HeaderFields } from './http2/hpack.js';
import { ServerConnection, type ServerStream } from './http2/server-connection.js';

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

// Header blocks, encoded once.
const RESPONSE_HEADERS = encodeHeaderBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);
const OK_TRAILERS_ONLY = encodeHeaderBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
  ['grpc-status', '0'],
]);
const UNSUPPORTED_MEDIA_TYPE = encodeHeaderBlock([[':status', '415']]);
const DEFAULT_STREAM_BUFFER = 1 << 20;

function statusOf(e: unknown): { code: GrpcCode; details: string } {
  if (e instanceof FrameError) {
    return e.kind === 'too-large' ? { code: GrpcCode.RESOURCE_EXHAUSTED, details: e.message } : { code: GrpcCode.UNIMPLEMENTED, details: e.message };
  }
  return toGrpcStatus(e);
}

function errorTrailers(code: GrpcCode, details: string): Buffer {
  return encodeHeaderBlock([
    ['grpc-status', String(code)],
    ['grpc-message', percentEncode(details)],
  ]);
}

/** Answers a call with a status and no messages (gRPC's trailers-only response). */
function trailersOnly(stream: ServerStream, code: GrpcCode, details: string): void {
  if (stream.closed || stream.responded) return;
  if (code === GrpcCode.OK) stream.respond(OK_TRAILERS_ONLY, true);
  else
    stream.respond(
      encodeHeaderBlock([
        [':status', '200'],
        ['content-type', 'application/grpc'],
        ['grpc-status', String(code)],
        ['grpc-message', percentEncode(details)],
      ]),
      true,
    );
}

/** The 5-byte gRPC message prefix (uncompressed, big-endian length). */
function messagePrefix(length: number): Buffer {
  const p = Buffer.allocUnsafe(5);
  p[0] = 0;
  p.writeUInt32BE(length, 1);
  return p;
}

/**
 * A streaming call (server stream or bidi). Set the handlers right away (messages can arrive in
 * the same turn). write() returns false when the client is not keeping up; onDrain follows.
 * What is written in one turn leaves together (the connection writes once per turn).
 */
export class StreamCall<Req, Res> {
  onMessage: (req: Req) => void = () => undefined;
  /** The client will send no more (it may still read). */
  onHalfClose: () => void = () => undefined;
  onDrain: () => void = () => undefined;
  /** The call ended without an answer from us: the client cancelled, reset or went away. */
  onCancel: () => void = () => undefined;
  private finished = false;

  constructor(
    private readonly stream: ServerStream,
    private readonly method: WireMethod<Req, Res>,
    bufferBytes: number,
    private readonly handled: HandledHook,
    private readonly startedAt: number,
  ) {
    stream.highWater = bufferBytes;
    stream.onDrain = () => {
      if (!this.finished) this.onDrain();
    };
    stream.onClose = () => {
      if (this.finished) return;
      this.finished = true;
      this.handled(GrpcCode.CANCELLED, (performance.now() - this.startedAt) / 1000);
      this.onCancel();
    };
  }

  /** Whether the call is over (answered or cancelled). */
  get ended(): boolean {
    return this.finished || this.stream.closed;
  }

  /** Bytes written and not yet sent; write() reports full above `bufferBytes`. */
  get bufferedBytes(): number {
    return this.stream.bufferedBytes;
  }

  get bufferBytes(): number {
    return this.stream.highWater;
  }

  /** Everything written before the last `recent` bytes is in the kernel: its buffers may be reused. */
  sentAllBut(recent: number): boolean {
    return this.stream.sentAllBut(recent);
  }

  /** Sends one response (a message or its encoded bytes); false when the buffer is full. */
  write(res: Res | Buffer): boolean {
    if (this.ended) return true;
    const body = this.method.responseSerialize(res);
    this.start();
    this.stream.write(messagePrefix(body.length));
    return this.stream.write(body);
  }

  /** Sends responses already framed (5-byte prefixes included); false when the buffer is full. */
  writeFramed(bytes: Buffer): boolean {
    if (this.ended) return true;
    this.start();
    return this.stream.write(bytes);
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

  private start(): void {
    if (!this.stream.responded) this.stream.respond(RESPONSE_HEADERS);
  }

  private finish(code: GrpcCode, details: string): void {
    if (this.ended) return;
    this.finished = true;
    this.handled(code, (performance.now() - this.startedAt) / 1000);
    const s = this.stream;
    if (!s.responded) {
      trailersOnly(s, code, details);
      return;
    }
    s.end(code === GrpcCode.OK ? OK_TRAILERS : errorTrailers(code, details));
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
  private readonly routes = new Map<string, Route>();
  private readonly connections = new Set<ServerConnection>();
  private readonly maxReceive: number;
  private readonly bufferBytes: number;
  private draining = false;

  constructor(o: GrpcHttp2ServerOptions) {
    this.maxReceive = o.maxReceiveBytes;
    this.bufferBytes = o.streamBufferBytes ?? DEFAULT_STREAM_BUFFER;
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
    const conn = new ServerConnection(socket, { onStream: (stream, headers) => this.onStream(stream, headers) });
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
    if (this.draining) conn.goaway();
  }

  /** Tells every client to go away (GOAWAY); calls in flight go on until they end. */
  drain(): void {
    this.draining = true;
    for (const c of this.connections) c.goaway();
  }

  /** Cuts every connection. */
  close(): void {
    this.draining = true;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private onStream(stream: ServerStream, headers: HeaderFields): void {
    const path = headers[':path'] ?? '';
    const route = this.routes.get(path);
    if (!route) {
      const slash = path.lastIndexOf('/');
      trailersOnly(stream, GrpcCode.UNIMPLEMENTED, `unknown method ${path.slice(slash + 1)} for service ${path.slice(1, Math.max(1, slash))}`);
      return;
    }
    const ct = headers['content-type'];
    if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) {
      stream.respond(UNSUPPORTED_MEDIA_TYPE, true);
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

  private serveUnary(stream: ServerStream, route: Extract<Route, { type: 'unary' }>, t0: number): void {
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
    stream.onData = (chunk: Buffer) => {
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
    };
    stream.onEnd = () => {
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
      const ok = (res: unknown): void => {
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
        stream.respondAll(RESPONSE_HEADERS, [messagePrefix(body.length), body], OK_TRAILERS);
      };
      const failed = (e: unknown): void => {
        const st = statusOf(e);
        answer(st.code, st.details);
      };
      if (p instanceof Promise) p.then(ok, failed);
      else ok(p);
    };
    stream.onClose = () => {
      // The client cancelled (or the connection went) before an answer.
      if (!done) {
        done = true;
        route.handled(GrpcCode.CANCELLED, (performance.now() - t0) / 1000);
      }
    };
  }

  private serveStream(stream: ServerStream, route: Exclude<Route, { type: 'unary' }>, t0: number): void {
    const call = new StreamCall(stream, route.method, this.bufferBytes, route.handled, t0);
    const reader = new FrameReader(this.maxReceive);
    if (route.type === 'bidi_stream') {
      stream.onData = (chunk: Buffer) => {
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
      };
      stream.onEnd = () => {
        if (!call.ended) call.onHalfClose();
      };
      route.handler(call);
      return;
    }
    // A server stream: one request message, then the handler writes.
    let request: Buffer | undefined;
    let count = 0;
    stream.onData = (chunk: Buffer) => {
      if (call.ended) return;
      try {
        reader.push(chunk, (m) => {
          count++;
          request = m;
        });
      } catch (e) {
        call.fail(e);
      }
    };
    stream.onEnd = () => {
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
    };
  }
}
