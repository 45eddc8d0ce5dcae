// Raft peer transport: framed messages on plain TCP connections (peer-frames.ts).
//
// Per peer, a member dials: two long-lived message streams — one for appends, one for
// everything else — so a large append never holds up a heartbeat or a vote; one connection for
// calls (forwarded proposals, leader-only requests), answered by id; and one connection per
// snapshot sent. Messages queued in the same turn go out as one batch; queues are bounded and a
// peer that is down or slow costs a bounded amount of memory (its messages are dropped and the
// core is told the peer is unreachable, which Raft tolerates). Broken streams are dialed again
// with exponential backoff; idle connections are pinged, and one that stops answering is cut.
//
// Why not gRPC (it carried this before): every message paid grpc-js' call layers on both sides,
// and every forwarded proposal a whole unary call: ~10% of each member's CPU under load, on a
// machine where members and clients share two cores. The dialer's first frame names the
// cluster and both members, so strangers are refused as before; peers are dialed through an
// HTTP CONNECT proxy when the environment names one (peer-dial.ts), as grpc-js did.

import { createWriteStream, promises as fsp } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MessageType, type Message, type NodeId, type SnapshotMetadata } from '../core/types.js';
import { DialError, dial } from './peer-dial.js';
import { FrameKind, FrameReader, Method, callFrame, frame, parseCall } from './peer-frames.js';
import {
  decodeBatch,
  decodeChunk,
  decodeForwardRequest,
  decodeForwardResponse,
  decodeProposeBatchRequest,
  decodeProposeBatchResponse,
  decodeProposeRequest,
  decodeProposeResponse,
  encodeBatch,
  encodeChunk,
  encodeForwardRequest,
  encodeForwardResponse,
  encodeProposeBatchRequest,
  encodeProposeBatchResponse,
  encodeProposeRequest,
  encodeProposeResponse,
  type ForwardRequest,
  type ForwardResponse,
  type ProposeResponse,
} from './raft-codec.js';

/** What a received snapshot stream becomes: a verified file, handed to the runtime. */
export interface ReceivedSnapshot {
  header: Message;
  file: string;
  size: number;
}

/** A state machine snapshot to send: its Raft metadata and its bytes. */
export interface SnapshotSource {
  metadata: SnapshotMetadata;
  chunks: AsyncIterable<Uint8Array>;
}

export interface TransportHandler {
  onMessages(msgs: Message[]): void;
  onSnapshotReceived(snap: ReceivedSnapshot): void;
  onPropose(data: Uint8Array): Promise<ProposeResponse>;
  /** Proposals forwarded together; one result each, in order (default: onPropose for each). */
  onProposeBatch?(datas: Uint8Array[]): Promise<ProposeResponse[]>;
  /** A leader-only application request forwarded by a follower. */
  onForward(req: ForwardRequest): Promise<ForwardResponse>;
  /** A read-only application query from anyone who can reach the peer port. */
  onQuery?(req: ForwardRequest): Promise<ForwardResponse>;
  onUnreachable(peer: NodeId): void;
  onSnapshotStatus(peer: NodeId, ok: boolean): void;
  /** A fresh snapshot of the state machine, for a follower that needs one. */
  snapshotSource(): Promise<SnapshotSource>;
  log(level: 'info' | 'warn' | 'debug', msg: string, fields?: Record<string, unknown>): void;
}

export interface TransportOptions {
  selfId: NodeId;
  clusterId: string;
  /** host:port to listen on for peers. */
  listen: string;
  /** Where received snapshots are written before they are applied. */
  snapshotDir: string;
  handler: TransportHandler;
  /** Messages queued per peer and stream before new ones are dropped. */
  maxQueuedMessages?: number;
  /** Bytes queued per peer before new appends are dropped. */
  maxQueuedBytes?: number;
}

/** A call that failed after its request may have reached the peer (retrying could repeat it). */
export class PeerCallError extends Error {
  override name = 'PeerCallError';
  constructor(
    message: string,
    /** True when the request certainly never left this member. */
    readonly neverSent: boolean,
  ) {
    super(message);
  }
}

type Purpose = 'app' | 'ctl' | 'rpc' | 'snap' | 'query';

interface Hello {
  v: number;
  cluster: string;
  from: number;
  to: number;
  purpose: Purpose;
}

const PROTOCOL_VERSION = 1;
const CHUNK = 512 * 1024;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const DIAL_TIMEOUT_MS = 5_000;
const HELLO_TIMEOUT_MS = 10_000;
/** A dialed connection is pinged this often, and cut when nothing came back for KEEPALIVE_DEAD_MS. */
const KEEPALIVE_MS = 5_000;
const KEEPALIVE_DEAD_MS = 15_000;
/** Calls waiting on one peer's call connection before new ones are refused. */
const MAX_PENDING_CALLS = 16_384;

function messageBytes(m: Message): number {
  let n = 64;
  for (const e of m.entries) n += e.data.length + 24;
  return n;
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/**
 * A connection this member dialed: frames in both directions, pings while it lives, and one
 * onClose (with why) when it ends for any reason.
 */
class DialedConn {
  private readonly reader = new FrameReader();
  private lastHeard = Date.now();
  private readonly pinger: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly socket: Socket,
    hello: Hello,
    private readonly onFrame: (kind: number, payload: Buffer) => void,
    private readonly onClose: (why: Error) => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.lastHeard = Date.now();
      try {
        this.reader.push(chunk, (kind, payload) => {
          if (kind === FrameKind.Pong) return;
          if (kind === FrameKind.Refused) {
            this.close(new Error(`refused by the peer: ${payload.toString('utf8')}`));
            return;
          }
          this.onFrame(kind, payload);
        });
      } catch (e) {
        this.close(e as Error);
      }
    });
    socket.on('error', (e: Error) => this.close(e));
    socket.on('close', () => this.close(new Error('connection closed by the peer')));
    socket.write(frame(FrameKind.Hello, utf8(JSON.stringify(hello))));
    socket.resume();
    this.pinger = setInterval(() => {
      if (Date.now() - this.lastHeard > KEEPALIVE_DEAD_MS) this.close(new Error(`no answer from the peer for ${KEEPALIVE_DEAD_MS} ms`));
      else socket.write(frame(FrameKind.Ping, Buffer.alloc(0)));
    }, KEEPALIVE_MS);
    this.pinger.unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(buf: Buffer): boolean {
    return this.socket.write(buf);
  }

  close(why: Error): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    this.socket.destroy();
    this.onClose(why);
  }
}

/** One of the two message streams to a peer. */
class PeerStream {
  private conn: DialedConn | undefined;
  private dialing = false;
  queue: Message[] = [];
  private queuedBytes = 0;
  private draining = false;
  private retryAt = 0;
  private backoffMs = 0;
  private lastUnreachableReport = 0;

  constructor(
    private readonly peer: PeerLink,
    private readonly kind: 'app' | 'ctl',
  ) {}

  enqueue(m: Message): void {
    const o = this.peer.opts;
    const now = Date.now();
    const bytes = messageBytes(m);
    const tooMany = this.queue.length >= (o.maxQueuedMessages ?? 4096);
    const tooBig = this.kind === 'app' && this.queuedBytes + bytes > (o.maxQueuedBytes ?? 64 * 1024 * 1024);
    if (now < this.retryAt || tooMany || tooBig) {
      this.dropped(m);
      return;
    }
    this.queue.push(m);
    this.queuedBytes += bytes;
  }

  private dropped(m: Message): void {
    // Raft recovers from lost messages; tell the core so it stops streaming optimistically.
    const now = Date.now();
    if (now - this.lastUnreachableReport > 50) {
      this.lastUnreachableReport = now;
      this.peer.opts.handler.onUnreachable(this.peer.id);
    }
    if (m.type === MessageType.Snap) this.peer.opts.handler.onSnapshotStatus(this.peer.id, false);
  }

  private connect(): void {
    if (this.dialing || this.peer.closed) return;
    this.dialing = true;
    dial(this.peer.url, DIAL_TIMEOUT_MS).then(
      (socket) => {
        this.dialing = false;
        if (this.peer.closed) {
          socket.destroy();
          return;
        }
        const c: DialedConn = new DialedConn(
          socket,
          this.peer.hello(this.kind),
          () => undefined,
          (why) => {
            if (this.conn === c) this.broken(why);
          },
        );
        socket.on('drain', () => {
          if (this.conn !== c) return;
          this.draining = false;
          this.flush();
        });
        this.conn = c;
        this.flush();
      },
      (e: unknown) => {
        this.dialing = false;
        this.broken(e as Error);
      },
    );
  }

  private broken(err: Error): void {
    this.conn = undefined;
    this.draining = false;
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 50), 2000);
    this.retryAt = Date.now() + this.backoffMs;
    const lost = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.peer.opts.handler.log('debug', `peer stream to ${this.peer.id} (${this.kind}) broke: ${err.message}; retry in ${this.backoffMs}ms`);
    this.peer.opts.handler.onUnreachable(this.peer.id);
    for (const m of lost) if (m.type === MessageType.Snap) this.peer.opts.handler.onSnapshotStatus(this.peer.id, false);
  }

  flush(): void {
    if (this.queue.length === 0 || this.draining || this.peer.closed) return;
    const c = this.conn;
    if (!c || c.isClosed) {
      this.connect();
      return;
    }
    const s = c.socket;
    s.cork();
    while (this.queue.length > 0 && !this.draining) {
      // Batches are cut at a byte bound so one frame stays well under the frame limit.
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && (n === 0 || bytes + messageBytes(this.queue[n] as Message) <= MAX_BATCH_BYTES)) {
        bytes += messageBytes(this.queue[n] as Message);
        n++;
      }
      const batch = n === this.queue.length ? this.queue : this.queue.slice(0, n);
      this.queue = n === this.queue.length ? [] : this.queue.slice(n);
      this.queuedBytes -= bytes;
      const ok = c.write(frame(FrameKind.Batch, encodeBatch(batch)));
      // A stream that accepted data is healthy again.
      this.backoffMs = 0;
      if (!ok) this.draining = true;
    }
    s.uncork();
  }

  close(): void {
    const c = this.conn;
    this.conn = undefined;
    this.queue = [];
    this.queuedBytes = 0;
    c?.close(new Error('closed'));
  }
}

interface PendingCall {
  frame: Buffer;
  sent: boolean;
  resolve: (body: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Calls to one peer on one connection, answered by id, in any order. */
class CallChannel {
  private conn: DialedConn | undefined;
  private dialing = false;
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private unsent: number[] = [];

  constructor(
    private readonly url: string,
    private readonly hello: () => Hello,
    private readonly isClosed: () => boolean,
  ) {}

  call(method: Method, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.isClosed()) return Promise.reject(new PeerCallError('transport stopped', true));
    if (this.pending.size >= MAX_PENDING_CALLS) return Promise.reject(new PeerCallError(`${this.pending.size} calls already wait on ${this.url}`, true));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        p.reject(new PeerCallError(`no answer from ${this.url} within ${timeoutMs} ms`, !p.sent));
      }, timeoutMs);
      const p: PendingCall = { frame: callFrame(FrameKind.Request, id, method, payload), sent: false, resolve, reject, timer };
      this.pending.set(id, p);
      const c = this.conn;
      if (c && !c.isClosed) {
        p.sent = true;
        c.write(p.frame);
      } else {
        this.unsent.push(id);
        this.connect();
      }
    });
  }

  private connect(): void {
    if (this.dialing) return;
    this.dialing = true;
    dial(this.url, DIAL_TIMEOUT_MS).then(
      (socket) => {
        this.dialing = false;
        if (this.isClosed()) {
          socket.destroy();
          this.failAll(new Error('transport stopped'));
          return;
        }
        const c: DialedConn = new DialedConn(
          socket,
          this.hello(),
          (kind, payload) => this.onFrame(kind, payload),
          (why) => {
            if (this.conn === c) {
              this.conn = undefined;
              this.failAll(why);
            }
          },
        );
        this.conn = c;
        const ids = this.unsent;
        this.unsent = [];
        socket.cork();
        for (const id of ids) {
          const p = this.pending.get(id);
          if (!p) continue;
          p.sent = true;
          c.write(p.frame);
        }
        socket.uncork();
      },
      (e: unknown) => {
        this.dialing = false;
        this.failAll(e as Error);
      },
    );
  }

  private onFrame(kind: number, payload: Buffer): void {
    if (kind !== FrameKind.Response) return;
    const { id, flag, body } = parseCall(payload);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (flag === 1) p.resolve(body);
    else p.reject(new PeerCallError(body.toString('utf8'), false));
  }

  /** Fails every call: those never written as never sent, the others as maybe delivered. */
  private failAll(why: Error): void {
    this.unsent = [];
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new PeerCallError(`${p.sent ? 'connection lost' : 'no connection'} to ${this.url}: ${why.message}`, !p.sent || why instanceof DialError));
    }
  }

  close(): void {
    const c = this.conn;
    this.conn = undefined;
    this.failAll(new Error('transport stopped'));
    c?.close(new Error('closed'));
  }
}

class PeerLink {
  readonly app: PeerStream;
  readonly ctl: PeerStream;
  readonly calls: CallChannel;
  closed = false;
  snapshotInFlight = false;

  constructor(
    readonly id: NodeId,
    readonly url: string,
    readonly opts: TransportOptions,
  ) {
    this.app = new PeerStream(this, 'app');
    this.ctl = new PeerStream(this, 'ctl');
    this.calls = new CallChannel(url, () => this.hello('rpc'), () => this.closed);
  }

  hello(purpose: Purpose): Hello {
    return { v: PROTOCOL_VERSION, cluster: this.opts.clusterId, from: this.opts.selfId, to: this.id, purpose };
  }

  send(m: Message): void {
    if (m.type === MessageType.App) this.app.enqueue(m);
    else this.ctl.enqueue(m);
  }

  /** Writes what was queued (one batch per stream). */
  flush(): void {
    this.app.flush();
    this.ctl.flush();
  }

  close(): void {
    this.closed = true;
    this.app.close();
    this.ctl.close();
    this.calls.close();
  }
}

export class PeerTransport {
  private server: Server | undefined;
  private readonly peers = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<Socket>();
  boundPort = 0;
  private snapshotSeq = 0;

  constructor(private readonly opts: TransportOptions) {}

  async start(): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    const colon = this.opts.listen.lastIndexOf(':');
    const host = this.opts.listen.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(this.opts.listen.slice(colon + 1));
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
    server.on('error', (e) => this.opts.handler.log('warn', `peer listener: ${e.message}`));
    this.server = server;
  }

  /** Why a dialer may not talk to us, or undefined. */
  private checkCaller(h: Hello): string | undefined {
    if (h.cluster !== this.opts.clusterId) return `cluster ID mismatch: ours is ${this.opts.clusterId}, the peer's is ${String(h.cluster)}`;
    if (h.to !== this.opts.selfId) return `member ID mismatch: this is member ${this.opts.selfId}, the peer addressed ${String(h.to)}`;
    return undefined;
  }

  // ------------------------------------------------------------------ the listening side

  private serve(socket: Socket): void {
    this.inbound.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('close', () => this.inbound.delete(socket));
    const reader = new FrameReader();
    let hello: Hello | undefined;
    let snap: SnapshotReceiver | undefined;
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const refuse = (why: string): void => {
      clearTimeout(helloTimer);
      socket.end(frame(FrameKind.Refused, utf8(why)));
      socket.destroySoon();
    };
    const onFrame = (kind: number, payload: Buffer): void => {
      if (kind === FrameKind.Ping) {
        socket.write(frame(FrameKind.Pong, Buffer.alloc(0)));
        return;
      }
      if (hello === undefined) {
        if (kind !== FrameKind.Hello) return refuse('the first frame must be a hello');
        let h: Hello;
        try {
          h = JSON.parse(payload.toString('utf8')) as Hello;
        } catch {
          return refuse('undecodable hello');
        }
        if (h.v !== PROTOCOL_VERSION) return refuse(`protocol version ${String(h.v)} is not ${PROTOCOL_VERSION}`);
        if (h.purpose !== 'query') {
          const bad = this.checkCaller(h);
          if (bad) return refuse(bad);
        }
        clearTimeout(helloTimer);
        hello = h;
        if (h.purpose === 'snap') snap = new SnapshotReceiver(this, socket);
        return;
      }
      switch (kind) {
        case FrameKind.Batch:
          if (hello.purpose !== 'app' && hello.purpose !== 'ctl') return;
          this.onBatch(payload);
          return;
        case FrameKind.Request:
          if (hello.purpose !== 'rpc' && hello.purpose !== 'query') return;
          this.onRequest(socket, payload, hello.purpose === 'query');
          return;
        case FrameKind.Chunk:
          snap?.push(payload);
          return;
        default:
          return;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, onFrame);
      } catch (e) {
        this.opts.handler.log('warn', `bad frame from a peer: ${(e as Error).message}`);
        socket.destroy();
      }
    });
  }

  private onBatch(payload: Buffer): void {
    let msgs: Message[];
    try {
      // A copy: decoded entries keep their bytes for as long as the log holds them, which must
      // not pin the whole socket chunk they arrived in.
      msgs = decodeBatch(Buffer.from(payload));
    } catch (e) {
      this.opts.handler.log('warn', `undecodable batch from a peer: ${(e as Error).message}`);
      return;
    }
    this.opts.handler.onMessages(msgs);
  }

  private onRequest(socket: Socket, payload: Buffer, queryOnly: boolean): void {
    let call: { id: number; flag: number; body: Buffer };
    try {
      call = parseCall(payload);
    } catch {
      return;
    }
    const { id, flag: method } = call;
    const body = Buffer.from(call.body);
    const answer = (p: Promise<Uint8Array>): void => {
      p.then(
        (res) => {
          if (!socket.destroyed) socket.write(callFrame(FrameKind.Response, id, 1, res));
        },
        (e: unknown) => {
          if (!socket.destroyed) socket.write(callFrame(FrameKind.Response, id, 0, utf8((e as Error).message || String(e))));
        },
      );
    };
    const h = this.opts.handler;
    if (queryOnly && method !== Method.Query) {
      answer(Promise.reject(new Error('only queries on this connection')));
      return;
    }
    switch (method) {
      case Method.Propose:
        answer(Promise.resolve().then(() => h.onPropose(decodeProposeRequest(body))).then(encodeProposeResponse));
        return;
      case Method.ProposeBatch:
        answer(
          Promise.resolve()
            .then(() => {
              const datas = decodeProposeBatchRequest(body);
              return h.onProposeBatch ? h.onProposeBatch(datas) : Promise.all(datas.map((d) => h.onPropose(d)));
            })
            .then(encodeProposeBatchResponse),
        );
        return;
      case Method.Forward:
        answer(Promise.resolve().then(() => h.onForward(decodeForwardRequest(body))).then(encodeForwardResponse));
        return;
      case Method.Query: {
        const q = h.onQuery;
        answer(
          Promise.resolve()
            .then(() => (q ? q(decodeForwardRequest(body)) : { payload: new Uint8Array(0), error: 'no queries here' }))
            .then(encodeForwardResponse),
        );
        return;
      }
      default:
        answer(Promise.reject(new Error(`unknown method ${method}`)));
    }
  }

  /** @internal where a SnapshotReceiver writes, and whom it tells. */
  newSnapshotFile(): string {
    return join(this.opts.snapshotDir, `incoming-${process.pid}-${++this.snapshotSeq}.snap.tmp`);
  }

  /** @internal */
  get snapshotDir(): string {
    return this.opts.snapshotDir;
  }

  /** @internal */
  snapshotReceived(s: ReceivedSnapshot): void {
    this.opts.handler.onSnapshotReceived(s);
  }

  // ------------------------------------------------------------------ the dialing side

  /** Sends a leader-only application request to `leader`. */
  async forward(leader: NodeId, req: ForwardRequest, timeoutMs: number): Promise<ForwardResponse> {
    const link = this.peers.get(leader);
    if (!link) throw new PeerCallError(`no address known for leader ${leader}`, true);
    return decodeForwardResponse(await link.calls.call(Method.Forward, encodeForwardRequest(req), timeoutMs));
  }

  /** Sets the peers to talk to (all members but self), keeping links whose URL did not change. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    for (const [id, link] of this.peers) {
      if (peers.get(id) !== link.url) {
        link.close();
        this.peers.delete(id);
      }
    }
    for (const [id, url] of peers) {
      if (id === this.opts.selfId || this.peers.has(id)) continue;
      this.peers.set(id, new PeerLink(id, url, this.opts));
    }
  }

  /**
   * Sends messages; those to the same peer and stream go out as one batch, written now rather
   * than on a later turn of the event loop (a busy loop would delay every hop).
   */
  send(msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    const touched = new Set<PeerLink>();
    for (const m of msgs) {
      const link = this.peers.get(m.to);
      if (!link) {
        this.opts.handler.onUnreachable(m.to);
        if (m.type === MessageType.Snap) this.opts.handler.onSnapshotStatus(m.to, false);
        continue;
      }
      if (m.type === MessageType.Snap) void this.sendSnapshot(link, m);
      else {
        link.send(m);
        touched.add(link);
      }
    }
    for (const link of touched) link.flush();
  }

  private async sendSnapshot(link: PeerLink, m: Message): Promise<void> {
    const h = this.opts.handler;
    if (link.snapshotInFlight) return;
    link.snapshotInFlight = true;
    let socket: Socket | undefined;
    try {
      const src = await h.snapshotSource();
      const header: Message = { ...m, snapshot: { metadata: src.metadata, data: new Uint8Array(0) } };
      socket = await dial(link.url, DIAL_TIMEOUT_MS);
      const s = socket;
      await new Promise<void>((resolve, reject) => {
        let done = false;
        let resume: (() => void) | undefined;
        const finish = (err: Error | undefined): void => {
          if (done) return;
          done = true;
          resume?.();
          if (err) reject(err);
          else resolve();
        };
        const conn = new DialedConn(
          s,
          link.hello('snap'),
          (kind, payload) => {
            if (kind !== FrameKind.SnapshotDone) return;
            if (payload[0] === 1) finish(undefined);
            else finish(new Error(payload.subarray(1).toString('utf8')));
          },
          (why) => finish(why),
        );
        s.on('drain', () => resume?.());
        void (async () => {
          const write = async (buf: Uint8Array): Promise<void> => {
            if (done) throw new Error('snapshot stream ended');
            if (!conn.write(frame(FrameKind.Chunk, buf))) await new Promise<void>((r) => (resume = r));
            resume = undefined;
          };
          let size = 0;
          let crc = 0;
          let first = true;
          try {
            for await (const piece of src.chunks) {
              for (let off = 0; off < piece.length; off += CHUNK) {
                const data = piece.subarray(off, Math.min(piece.length, off + CHUNK));
                size += data.length;
                crc = crc32(data, crc);
                await write(encodeChunk(first ? { header, data, last: false, totalSize: 0, crc32: 0 } : { data, last: false, totalSize: 0, crc32: 0 }));
                first = false;
              }
            }
            const last = { data: new Uint8Array(0), last: true, totalSize: size, crc32: crc };
            await write(encodeChunk(first ? { ...last, header } : last));
          } catch (e) {
            finish(e as Error);
          }
        })();
      }).finally(() => s.destroy());
      h.log('info', `sent snapshot at ${src.metadata.index} to ${link.id}`);
      h.onSnapshotStatus(link.id, true);
    } catch (e) {
      socket?.destroy();
      h.log('warn', `sending snapshot to ${link.id} failed: ${(e as Error).message}`);
      h.onSnapshotStatus(link.id, false);
    } finally {
      link.snapshotInFlight = false;
    }
  }

  /** Forwards a proposal to the leader; resolves with the leader's answer. */
  async propose(leader: NodeId, data: Uint8Array, timeoutMs: number): Promise<ProposeResponse> {
    const link = this.peers.get(leader);
    if (!link) throw new PeerCallError(`no address known for leader ${leader}`, true);
    return decodeProposeResponse(await link.calls.call(Method.Propose, encodeProposeRequest(data), timeoutMs));
  }

  /**
   * Forwards proposals to the leader in one call; resolves with the leader's answer to each, in
   * order. A failed call fails them all alike (see neverSent in raft-runtime.ts).
   */
  async proposeBatch(leader: NodeId, datas: readonly Uint8Array[], timeoutMs: number): Promise<ProposeResponse[]> {
    const link = this.peers.get(leader);
    if (!link) throw new PeerCallError(`no address known for leader ${leader}`, true);
    const rs = decodeProposeBatchResponse(await link.calls.call(Method.ProposeBatch, encodeProposeBatchRequest(datas), timeoutMs));
    if (rs.length !== datas.length) throw new PeerCallError(`leader answered ${rs.length} of ${datas.length} proposals`, false);
    return rs;
  }

  async stop(): Promise<void> {
    for (const l of this.peers.values()) l.close();
    this.peers.clear();
    const s = this.server;
    this.server = undefined;
    // Peers' streams never end on their own: cut them rather than wait.
    for (const sock of this.inbound) sock.destroy();
    this.inbound.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/** A snapshot arriving on a 'snap' connection: chunks to a temp file, verified, then handed over. */
class SnapshotReceiver {
  private readonly file: string;
  private out: ReturnType<typeof createWriteStream> | undefined;
  private header: Message | undefined;
  private size = 0;
  private crc = 0;
  private finished = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly t: PeerTransport,
    private readonly socket: Socket,
  ) {
    this.file = t.newSnapshotFile();
    socket.once('close', () => {
      if (!this.finished) void this.fail('snapshot stream ended before its last chunk', false);
    });
  }

  push(payload: Buffer): void {
    const buf = Buffer.from(payload);
    // Chunks are written in order; the socket pauses while the file catches up.
    this.chain = this.chain.then(() => this.onChunk(buf)).catch((e: unknown) => this.fail(`snapshot stream failed: ${(e as Error).message}`, true));
  }

  private async onChunk(buf: Buffer): Promise<void> {
    if (this.finished) return;
    if (!this.out) {
      await fsp.mkdir(this.t.snapshotDir, { recursive: true });
      this.out = createWriteStream(this.file);
    }
    const out = this.out;
    const c = decodeChunk(buf);
    if (c.header) this.header = c.header;
    if (c.data.length > 0) {
      this.size += c.data.length;
      this.crc = crc32(c.data, this.crc);
      if (!out.write(c.data)) {
        this.socket.pause();
        await new Promise<void>((r) => out.once('drain', () => r()));
        this.socket.resume();
      }
    }
    if (!c.last) return;
    const header = this.header;
    if (!header?.snapshot) return this.fail('snapshot stream without a header', true);
    if (c.totalSize !== this.size || c.crc32 !== this.crc) {
      return this.fail(`snapshot stream damaged: got ${this.size} bytes crc ${this.crc.toString(16)}, sender says ${c.totalSize} bytes crc ${c.crc32.toString(16)}`, true);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const file = join(this.t.snapshotDir, `${header.snapshot.metadata.term}-${header.snapshot.metadata.index}.snap`);
    await fsp.rename(this.file, file);
    this.finished = true;
    this.t.snapshotReceived({ header, file, size: this.size });
    if (!this.socket.destroyed) this.socket.end(frame(FrameKind.SnapshotDone, Buffer.from([1])));
  }

  private async fail(msg: string, tell: boolean): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.out?.destroy();
    await fsp.rm(this.file, { force: true });
    if (tell && !this.socket.destroyed) this.socket.end(frame(FrameKind.SnapshotDone, Buffer.concat([Buffer.from([0]), utf8(msg)])));
  }
}

/** Asks the member at peer address `addr` (host:port) an application query, without a transport. */
export async function queryPeer(addr: string, req: ForwardRequest, timeoutMs: number): Promise<ForwardResponse> {
  let closed = false;
  const ch = new CallChannel(addr, () => ({ v: PROTOCOL_VERSION, cluster: '', from: 0, to: 0, purpose: 'query' }), () => closed);
  try {
    return decodeForwardResponse(await ch.call(Method.Query, encodeForwardRequest(req), timeoutMs));
  } finally {
    closed = true;
    ch.close();
  }
}
