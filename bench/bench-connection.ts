// The load generator's etcd v3 client: one HTTP/2 connection to one member speaking gRPC over
// the bench's own HTTP/2 client (h2-client.ts), with the paths and (de)serializers of
// store/api's service definitions (so the codec is the project's). Used unchanged against every
// target.
//
// Why not RemoteKV / grpc-js: measured on the 2-core dev machine, a grpc-js unary call costs
// ~170 µs of client CPU against ~85 µs through node:http2, and the client shares the machine's
// cores with the servers being measured. Also grpc-js shares one TCP connection among all
// clients of a process that dial the same address, while each BenchConnection is its own
// connection. Why not node:http2 (which this used until bench/README.md's entry 12): it hands
// every DATA frame over as a new Buffer, and a fan-out watcher process spent a quarter of its
// CPU collecting them. What a benchmark does not need is left out: failover, retries, deadlines
// (a worker bounds the whole run and close() ends whatever is still in flight), compression,
// credentials.

import type { EtcdMethod } from '../store/api/grpc-services.js';
import { KVService, LeaseService, WatchService } from '../store/api/grpc-services.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchResponse,
} from '../store/api/types.js';
import { FrameReader, frameMessage } from '../store/server/grpc-frames.js';
import { encodeHeaderBlock, type HeaderFields } from '../store/server/http2/hpack.js';
import { H2ClientConnection, type H2ClientStream } from './h2-client.js';

const CONNECT_TIMEOUT_MS = 10_000;
/** Bound on one incoming message (etcd sends at most its 2 MiB limit plus headers). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

function grpcError(path: string, status: string | undefined, message: string | undefined): Error {
  const msg = message ? decodeURIComponent(message) : '';
  return new Error(`${path}: grpc status ${status ?? '?'}${msg ? `: ${msg}` : ''}`);
}

/** A call's grpc-status and grpc-message, from its headers (trailers-only) or trailers. */
class CallStatus {
  status: string | undefined;
  message: string | undefined;

  note(h: HeaderFields): void {
    const st = h['grpc-status'];
    if (st !== undefined) {
      this.status = st;
      this.message = h['grpc-message'];
    }
  }

  /** undefined for OK, otherwise the call's error. */
  error(path: string): Error | undefined {
    return this.status === '0' ? undefined : grpcError(path, this.status ?? 'none (the stream ended without one)', this.message);
  }
}

/** A gRPC call on one HTTP/2 stream (bidirectional; a unary call is one request that ends it). */
export class BidiStream<Req, Res> {
  private onMessage: (res: Res) => void = () => undefined;
  /** Set by handleRaw: messages are handed over undecoded. */
  private onRaw: ((msg: Buffer) => void) | undefined;
  private onEnd: (err: Error | undefined) => void = () => undefined;
  private ended = false;
  private readonly stream: H2ClientStream;

  constructor(
    conn: H2ClientConnection,
    block: Buffer,
    private readonly def: EtcdMethod<Req, Res>,
  ) {
    // Messages are read off the connection's reused read buffer: kept parts are copied.
    const reader = new FrameReader(MAX_MESSAGE_BYTES, false);
    const status = new CallStatus();
    const deliver = (m: Buffer) => {
      const raw = this.onRaw;
      if (raw) raw(m);
      // Decoded messages may hold views of their bytes: decode a copy.
      else this.onMessage(def.responseDeserialize(Buffer.from(m)));
    };
    this.stream = conn.request(block, {
      headers: (h, end) => {
        status.note(h);
        if (end) this.finish(status.error(def.path));
      },
      data: (chunk, end) => {
        try {
          reader.push(chunk, deliver);
        } catch (err) {
          this.stream.reset();
          this.finish(new Error(`${def.path}: undecodable response: ${(err as Error).message}`));
          return;
        }
        if (end) this.finish(status.error(def.path));
      },
      aborted: (err) => this.finish(new Error(`${def.path}: ${err.message}`)),
    });
  }

  /** Sets the handlers (before the first message can arrive: call right after opening). */
  handle(onMessage: (res: Res) => void, onEnd: (err: Error | undefined) => void): void {
    this.onMessage = onMessage;
    this.onEnd = onEnd;
  }

  /**
   * Like handle(), with each response message as its bytes (for callers that read them lazily).
   * The bytes are valid only during the call.
   */
  handleRaw(onRaw: (msg: Buffer) => void, onEnd: (err: Error | undefined) => void): void {
    this.onRaw = onRaw;
    this.onEnd = onEnd;
  }

  /** The message decoder of this stream's method (for handleRaw callers that need a whole one). */
  decode(msg: Buffer): Res {
    return this.def.responseDeserialize(Buffer.from(msg));
  }

  /** Sends a request; `end` ends our side of the stream with it. */
  write(req: Req, end = false): void {
    if (!this.ended) this.stream.write(frameMessage(this.def.requestSerialize(req)), end);
  }

  /** Cancels the stream; onEnd is not called for a cancel we asked for. */
  cancel(): void {
    this.ended = true;
    this.stream.reset();
  }

  private finish(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(err);
  }
}

export type WatchStream = BidiStream<WatchRequest, WatchResponse>;
export type KeepAliveStream = BidiStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;

export class BenchConnection {
  private conn: H2ClientConnection | undefined;
  /** Request header blocks by path (literals without indexing: the same bytes every time). */
  private readonly blocks = new Map<string, Buffer>();

  constructor(readonly endpoint: string) {}

  /** Opens the connection, so set-up is not measured as the first call's latency. */
  async connect(): Promise<void> {
    this.conn = await H2ClientConnection.connect(this.endpoint, CONNECT_TIMEOUT_MS);
  }

  put(req: PutRequest): Promise<PutResponse> {
    return this.unary(KVService.Put, req);
  }

  range(req: RangeRequest): Promise<RangeResponse> {
    return this.unary(KVService.Range, req);
  }

  txn(req: TxnRequest): Promise<TxnResponse> {
    return this.unary(KVService.Txn, req);
  }

  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    return this.unary(LeaseService.LeaseGrant, req);
  }

  leaseRevoke(id: bigint): Promise<LeaseRevokeResponse> {
    return this.unary(LeaseService.LeaseRevoke, { ID: id });
  }

  watchStream(): WatchStream {
    return new BidiStream(this.connection(), this.block(WatchService.Watch.path), WatchService.Watch);
  }

  keepAliveStream(): KeepAliveStream {
    return new BidiStream(this.connection(), this.block(LeaseService.LeaseKeepAlive.path), LeaseService.LeaseKeepAlive);
  }

  /** Closes the connection at once; calls and streams still open fail. */
  close(): void {
    this.conn?.close();
  }

  private connection(): H2ClientConnection {
    const c = this.conn;
    if (!c || !c.usable) throw new Error(`${this.endpoint}: not connected`);
    return c;
  }

  private block(path: string): Buffer {
    let b = this.blocks.get(path);
    if (!b) {
      b = encodeHeaderBlock([
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', path],
        [':authority', this.endpoint],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
      ]);
      this.blocks.set(path, b);
    }
    return b;
  }

  private unary<Req, Res>(def: EtcdMethod<Req, Res>, req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let call: BidiStream<Req, Res>;
      try {
        call = new BidiStream(this.connection(), this.block(def.path), def);
      } catch (err) {
        reject(err as Error);
        return;
      }
      let res: Res | undefined;
      call.handle(
        (m) => (res ??= m),
        (err) => {
          if (err) reject(err);
          else if (res === undefined) reject(new Error(`${def.path}: no response message`));
          else resolve(res);
        },
      );
      call.write(req, true);
    });
  }
}
