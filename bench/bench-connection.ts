// The load generator's etcd v3 client: one HTTP/2 connection to one member speaking gRPC
// directly through node:http2, with the paths and (de)serializers of store/api's service
// definitions (so the codec is the project's). Used unchanged against every target.
//
// Why not RemoteKV / grpc-js: measured on the 2-core dev machine, a grpc-js unary call costs
// ~170 µs of client CPU against ~85 µs here (grpc-js' call layers, filters, metadata and
// per-call async resources), and the client shares the machine's cores with the servers
// being measured. Also grpc-js shares one TCP connection among all clients of a process that
// dial the same address, while each BenchConnection is its own connection. What a benchmark
// does not need is left out: failover, retries, deadlines (a worker bounds the whole run and
// close() ends whatever is still in flight), compression, credentials.

import * as http2 from 'node:http2';
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

const CONNECT_TIMEOUT_MS = 10_000;
/** Bound on one incoming message (etcd sends at most its 2 MiB limit plus headers). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Receive windows: large, so a busy watch stream is not paced by WINDOW_UPDATE round trips. */
const STREAM_WINDOW_BYTES = 1 << 20;
const CONNECTION_WINDOW_BYTES = 16 << 20;

function grpcError(path: string, status: string | undefined, message: string | undefined): Error {
  const msg = message ? decodeURIComponent(message) : '';
  return new Error(`${path}: grpc status ${status ?? '?'}${msg ? `: ${msg}` : ''}`);
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A bidirectional gRPC stream: write requests, get responses in order, end once. */
export class BidiStream<Req, Res> {
  private onMessage: (res: Res) => void = () => undefined;
  /** Set by handleRaw: messages are handed over undecoded. */
  private onRaw: ((msg: Buffer) => void) | undefined;
  private onEnd: (err: Error | undefined) => void = () => undefined;
  private ended = false;
  private status: string | undefined;
  private statusMessage: string | undefined;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly def: EtcdMethod<Req, Res>,
  ) {
    const reader = new FrameReader(MAX_MESSAGE_BYTES);
    stream.on('response', (h) => this.noteStatus(h));
    stream.on('trailers', (h) => this.noteStatus(h));
    stream.on('data', (chunk: Buffer) => {
      const msgs: Buffer[] = [];
      try {
        reader.push(chunk, (m) => msgs.push(m));
      } catch (err) {
        this.finish(err as Error);
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        return;
      }
      try {
        const raw = this.onRaw;
        if (raw) for (const m of msgs) raw(m);
        else for (const m of msgs) this.onMessage(def.responseDeserialize(m));
      } catch (err) {
        this.finish(new Error(`${def.path}: undecodable response: ${(err as Error).message}`));
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
    stream.on('close', () => {
      if (this.status === '0') this.finish(undefined);
      else this.finish(grpcError(def.path, this.status ?? `none (http2 code ${stream.rstCode})`, this.statusMessage));
    });
    stream.on('error', (err: Error) => this.finish(new Error(`${def.path}: ${err.message}`)));
  }

  /** Sets the handlers (before the first message can arrive: call right after opening). */
  handle(onMessage: (res: Res) => void, onEnd: (err: Error | undefined) => void): void {
    this.onMessage = onMessage;
    this.onEnd = onEnd;
  }

  /** Like handle(), with each response message as its bytes (for callers that read them lazily). */
  handleRaw(onRaw: (msg: Buffer) => void, onEnd: (err: Error | undefined) => void): void {
    this.onRaw = onRaw;
    this.onEnd = onEnd;
  }

  /** The message decoder of this stream's method (for handleRaw callers that need a whole one). */
  decode(msg: Buffer): Res {
    return this.def.responseDeserialize(msg);
  }

  write(req: Req): void {
    if (!this.ended) this.stream.write(frameMessage(this.def.requestSerialize(req)));
  }

  /** Cancels the stream; onEnd is not called for a cancel we asked for. */
  cancel(): void {
    this.ended = true;
    if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private noteStatus(h: http2.IncomingHttpHeaders): void {
    const s = headerString(h['grpc-status']);
    if (s !== undefined) {
      this.status = s;
      this.statusMessage = headerString(h['grpc-message']);
    }
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
  private session: http2.ClientHttp2Session | undefined;

  constructor(readonly endpoint: string) {}

  /** Opens the connection, so set-up is not measured as the first call's latency. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://${this.endpoint}`, {
        settings: { initialWindowSize: STREAM_WINDOW_BYTES },
        // Node's default (10 MB) makes a busy session fail with ENHANCE_YOUR_CALM; grpc-js lifts it too.
        maxSessionMemory: Number.MAX_SAFE_INTEGER,
      });
      this.session = session;
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`connect ${this.endpoint}: no connection after ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      session.once('connect', () => {
        clearTimeout(timer);
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
        resolve();
      });
      session.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`connect ${this.endpoint}: ${err.message}`));
      });
      // Later session errors surface as failed calls and streams.
      session.on('error', () => undefined);
    });
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
    return new BidiStream(this.open(WatchService.Watch.path, false), WatchService.Watch);
  }

  keepAliveStream(): KeepAliveStream {
    return new BidiStream(this.open(LeaseService.LeaseKeepAlive.path, false), LeaseService.LeaseKeepAlive);
  }

  /** Closes the connection at once; calls and streams still open fail. */
  close(): void {
    this.session?.destroy();
  }

  private open(path: string, endStream: boolean): http2.ClientHttp2Stream {
    const s = this.session;
    if (!s || s.destroyed) throw new Error(`${this.endpoint}: not connected`);
    return s.request(
      { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' },
      { endStream },
    );
  }

  private unary<Req, Res>(def: EtcdMethod<Req, Res>, req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.open(def.path, false);
      } catch (err) {
        reject(err as Error);
        return;
      }
      const reader = new FrameReader(MAX_MESSAGE_BYTES);
      let res: Buffer | undefined;
      let status: string | undefined;
      let message: string | undefined;
      let failed: Error | undefined;
      const note = (h: http2.IncomingHttpHeaders) => {
        const st = headerString(h['grpc-status']);
        if (st !== undefined) {
          status = st;
          message = headerString(h['grpc-message']);
        }
      };
      stream.on('response', note);
      stream.on('trailers', note);
      stream.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk, (m) => (res ??= m));
        } catch (err) {
          failed = err as Error;
        }
      });
      stream.on('error', (err: Error) => (failed ??= new Error(`${def.path}: ${err.message}`)));
      stream.on('close', () => {
        if (failed) reject(failed);
        else if (status !== '0') reject(grpcError(def.path, status ?? `none (http2 code ${stream.rstCode})`, message));
        else if (res === undefined) reject(new Error(`${def.path}: no response message`));
        else {
          try {
            resolve(def.responseDeserialize(res));
          } catch (err) {
            reject(err as Error);
          }
        }
      });
      stream.end(frameMessage(def.requestSerialize(req)));
    });
  }
}
