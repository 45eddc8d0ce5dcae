// Raft peer transport over gRPC (@grpc/grpc-js). Per peer: two long-lived client streams — one
// for appends, one for everything else — so a large append never holds up a heartbeat or a
// vote; messages queued in the same event-loop turn go out as one batch; queues are bounded
// and a peer that is down or slow costs a bounded amount of memory (its messages are dropped
// and the core is told the peer is unreachable, which Raft tolerates). Broken streams are
// re-opened with exponential backoff. Snapshots stream in chunks on their own RPC.

import { createWriteStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { MessageType, type Message, type NodeId, type SnapshotMetadata } from '../core/types.js';
import {
  decodeBatch,
  decodeChunk,
  decodeProposeRequest,
  decodeProposeResponse,
  encodeBatch,
  encodeChunk,
  encodeProposeRequest,
  encodeProposeResponse,
  decodeForwardRequest,
  decodeForwardResponse,
  encodeForwardRequest,
  encodeForwardResponse,
  type ForwardRequest,
  type ForwardResponse,
  type ProposeResponse,
} from './raft-codec.js';

const SERVICE = '/keelson.raft.RaftPeer';
const identity = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const passthrough = (b: Buffer): Buffer => b;

const serviceDefinition: grpc.ServiceDefinition = {
  Send: { path: `${SERVICE}/Send`, requestStream: true, responseStream: false, requestSerialize: identity, requestDeserialize: passthrough, responseSerialize: identity, responseDeserialize: passthrough },
  SendSnapshot: { path: `${SERVICE}/SendSnapshot`, requestStream: true, responseStream: false, requestSerialize: identity, requestDeserialize: passthrough, responseSerialize: identity, responseDeserialize: passthrough },
  Propose: { path: `${SERVICE}/Propose`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: passthrough, responseSerialize: identity, responseDeserialize: passthrough },
  Forward: { path: `${SERVICE}/Forward`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: passthrough, responseSerialize: identity, responseDeserialize: passthrough },
  Query: { path: `${SERVICE}/Query`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: passthrough, responseSerialize: identity, responseDeserialize: passthrough },
};

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

const CHUNK = 512 * 1024;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

function messageBytes(m: Message): number {
  let n = 64;
  for (const e of m.entries) n += e.data.length + 24;
  return n;
}

function meta(o: TransportOptions, to: NodeId): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-keelson-cluster-id', o.clusterId);
  md.set('x-keelson-from', String(o.selfId));
  md.set('x-keelson-to', String(to));
  return md;
}

/** One of the two message streams to a peer. */
class PeerStream {
  private stream: grpc.ClientWritableStream<Uint8Array> | undefined;
  private queue: Message[] = [];
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

  private open(): grpc.ClientWritableStream<Uint8Array> {
    const client = this.peer.client();
    const s = client.makeClientStreamRequest<Uint8Array, Buffer>(
      `${SERVICE}/Send`,
      identity,
      passthrough,
      meta(this.peer.opts, this.peer.id),
      {},
      (err) => {
        if (this.stream === s) this.broken(err ?? new Error('stream closed by peer'));
      },
    );
    s.on('error', (err: Error) => {
      if (this.stream === s) this.broken(err);
    });
    s.on('drain', () => {
      this.draining = false;
      this.flush();
    });
    this.stream = s;
    return s;
  }

  private broken(err: Error): void {
    this.stream = undefined;
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
    const s = this.stream ?? this.open();
    while (this.queue.length > 0 && !this.draining) {
      // Batches are cut at a byte bound so one write stays well under gRPC's message limit.
      let n = 0;
      let bytes = 0;
      while (n < this.queue.length && (n === 0 || bytes + messageBytes(this.queue[n] as Message) <= MAX_BATCH_BYTES)) {
        bytes += messageBytes(this.queue[n] as Message);
        n++;
      }
      const batch = this.queue.splice(0, n);
      this.queuedBytes -= bytes;
      const ok = s.write(encodeBatch(batch));
      // A stream that accepted data is healthy again.
      this.backoffMs = 0;
      if (!ok) this.draining = true;
    }
  }

  close(): void {
    const s = this.stream;
    this.stream = undefined;
    this.queue = [];
    this.queuedBytes = 0;
    if (s) {
      s.end();
      s.cancel?.();
    }
  }
}

class PeerLink {
  private grpcClient: grpc.Client | undefined;
  readonly app: PeerStream;
  readonly ctl: PeerStream;
  closed = false;
  snapshotInFlight = false;

  constructor(
    readonly id: NodeId,
    readonly url: string,
    readonly opts: TransportOptions,
  ) {
    this.app = new PeerStream(this, 'app');
    this.ctl = new PeerStream(this, 'ctl');
  }

  client(): grpc.Client {
    this.grpcClient ??= new grpc.Client(this.url, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    return this.grpcClient;
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
    this.grpcClient?.close();
  }
}

export class PeerTransport {
  private server: grpc.Server | undefined;
  private readonly peers = new Map<NodeId, PeerLink>();
  boundPort = 0;
  private snapshotSeq = 0;

  constructor(private readonly opts: TransportOptions) {}

  async start(): Promise<void> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    server.addService(serviceDefinition, {
      Send: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.serveSend(call, cb),
      SendSnapshot: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => void this.serveSnapshot(call, cb),
      Propose: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.servePropose(call, cb),
      Forward: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.serveForward(call, cb),
      Query: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.serveQuery(call, cb),
    });
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.opts.listen, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
  }

  /** Rejects streams from another cluster or addressed to another member. */
  private checkCaller(md: grpc.Metadata): string | undefined {
    const cluster = md.get('x-keelson-cluster-id')[0];
    if (cluster !== this.opts.clusterId) return `cluster ID mismatch: ours is ${this.opts.clusterId}, the peer's is ${String(cluster)}`;
    const to = md.get('x-keelson-to')[0];
    if (to !== undefined && String(to) !== String(this.opts.selfId)) return `member ID mismatch: this is member ${this.opts.selfId}, the peer addressed ${String(to)}`;
    return undefined;
  }

  private serveSend(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    const bad = this.checkCaller(call.metadata);
    if (bad) {
      cb({ code: grpc.status.FAILED_PRECONDITION, details: bad });
      return;
    }
    call.on('data', (buf: Buffer) => {
      let msgs: Message[];
      try {
        msgs = decodeBatch(buf);
      } catch (e) {
        this.opts.handler.log('warn', `undecodable batch from a peer: ${(e as Error).message}`);
        return;
      }
      this.opts.handler.onMessages(msgs);
    });
    call.on('end', () => cb(null, Buffer.alloc(0)));
    call.on('error', () => undefined);
  }

  private async serveSnapshot(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): Promise<void> {
    const bad = this.checkCaller(call.metadata);
    if (bad) {
      cb({ code: grpc.status.FAILED_PRECONDITION, details: bad });
      return;
    }
    await fsp.mkdir(this.opts.snapshotDir, { recursive: true });
    const tmp = join(this.opts.snapshotDir, `incoming-${process.pid}-${++this.snapshotSeq}.snap.tmp`);
    const out = createWriteStream(tmp);
    let header: Message | undefined;
    let size = 0;
    let crc = 0;
    let finished = false;
    const fail = async (msg: string): Promise<void> => {
      if (finished) return;
      finished = true;
      out.destroy();
      await fsp.rm(tmp, { force: true });
      cb({ code: grpc.status.DATA_LOSS, details: msg });
    };
    try {
      for await (const buf of call as AsyncIterable<Buffer>) {
        const c = decodeChunk(buf);
        if (c.header) header = c.header;
        if (c.data.length > 0) {
          size += c.data.length;
          crc = crc32(c.data, crc);
          if (!out.write(c.data)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
        if (c.last) {
          if (!header?.snapshot) return void (await fail('snapshot stream without a header'));
          if (c.totalSize !== size || c.crc32 !== crc) {
            return void (await fail(`snapshot stream damaged: got ${size} bytes crc ${crc.toString(16)}, sender says ${c.totalSize} bytes crc ${c.crc32.toString(16)}`));
          }
          await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
          const file = join(this.opts.snapshotDir, `${header.snapshot.metadata.term}-${header.snapshot.metadata.index}.snap`);
          await fsp.rename(tmp, file);
          finished = true;
          this.opts.handler.onSnapshotReceived({ header, file, size });
          cb(null, Buffer.alloc(0));
          return;
        }
      }
      await fail('snapshot stream ended before its last chunk');
    } catch (e) {
      await fail(`snapshot stream failed: ${(e as Error).message}`);
    }
  }

  private servePropose(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    const bad = this.checkCaller(call.metadata);
    if (bad) {
      cb({ code: grpc.status.FAILED_PRECONDITION, details: bad });
      return;
    }
    this.opts.handler
      .onPropose(decodeProposeRequest(call.request))
      .then((r) => cb(null, Buffer.from(encodeProposeResponse(r))))
      .catch((e: Error) => cb({ code: grpc.status.UNAVAILABLE, details: e.message }));
  }

  private serveForward(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    const bad = this.checkCaller(call.metadata);
    if (bad) {
      cb({ code: grpc.status.FAILED_PRECONDITION, details: bad });
      return;
    }
    let req: ForwardRequest;
    try {
      req = decodeForwardRequest(call.request);
    } catch (e) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
      return;
    }
    this.opts.handler
      .onForward(req)
      .then((r) => cb(null, Buffer.from(encodeForwardResponse(r))))
      .catch((e: Error) => cb({ code: grpc.status.UNAVAILABLE, details: e.message }));
  }

  private serveQuery(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    const h = this.opts.handler.onQuery;
    if (!h) {
      cb({ code: grpc.status.UNIMPLEMENTED, details: 'no queries here' });
      return;
    }
    let req: ForwardRequest;
    try {
      req = decodeForwardRequest(call.request);
    } catch (e) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
      return;
    }
    h(req)
      .then((r) => cb(null, Buffer.from(encodeForwardResponse(r))))
      .catch((e: Error) => cb({ code: grpc.status.UNAVAILABLE, details: e.message }));
  }

  /** Sends a leader-only application request to `leader`. */
  forward(leader: NodeId, req: ForwardRequest, timeoutMs: number): Promise<ForwardResponse> {
    const link = this.peers.get(leader);
    if (!link) return Promise.reject(new Error(`no address known for leader ${leader}`));
    return new Promise((resolve, reject) => {
      link.client().makeUnaryRequest<Uint8Array, Buffer>(
        `${SERVICE}/Forward`,
        identity,
        passthrough,
        encodeForwardRequest(req),
        meta(this.opts, leader),
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err || !res ? reject(err ?? new Error('empty answer')) : resolve(decodeForwardResponse(res))),
      );
    });
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
    try {
      const src = await h.snapshotSource();
      const header: Message = { ...m, snapshot: { metadata: src.metadata, data: new Uint8Array(0) } };
      await new Promise<void>((resolve, reject) => {
        const stream = link.client().makeClientStreamRequest<Uint8Array, Buffer>(
          `${SERVICE}/SendSnapshot`,
          identity,
          passthrough,
          meta(this.opts, link.id),
          {},
          (err) => (err ? reject(err) : resolve()),
        );
        stream.on('error', () => undefined);
        void (async () => {
          const write = async (buf: Uint8Array): Promise<void> => {
            if (!stream.write(buf)) await new Promise<void>((r) => stream.once('drain', () => r()));
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
            stream.end();
          } catch (e) {
            stream.cancel();
            reject(e as Error);
          }
        })();
      });
      h.log('info', `sent snapshot at ${src.metadata.index} to ${link.id}`);
      h.onSnapshotStatus(link.id, true);
    } catch (e) {
      h.log('warn', `sending snapshot to ${link.id} failed: ${(e as Error).message}`);
      h.onSnapshotStatus(link.id, false);
    } finally {
      link.snapshotInFlight = false;
    }
  }

  /** Forwards a proposal to the leader; resolves with the leader's answer. */
  propose(leader: NodeId, data: Uint8Array, timeoutMs: number): Promise<ProposeResponse> {
    const link = this.peers.get(leader);
    if (!link) return Promise.reject(new Error(`no address known for leader ${leader}`));
    return new Promise((resolve, reject) => {
      link.client().makeUnaryRequest<Uint8Array, Buffer>(
        `${SERVICE}/Propose`,
        identity,
        passthrough,
        encodeProposeRequest(data),
        meta(this.opts, leader),
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err || !res ? reject(err ?? new Error('empty answer')) : resolve(decodeProposeResponse(res))),
      );
    });
  }

  async stop(): Promise<void> {
    for (const l of this.peers.values()) l.close();
    this.peers.clear();
    const s = this.server;
    this.server = undefined;
    // Peers' streams never end on their own: cut them rather than wait.
    s?.forceShutdown();
  }
}

/** Asks the member at peer address `addr` (host:port) an application query, without a transport. */
export function queryPeer(addr: string, req: ForwardRequest, timeoutMs: number): Promise<ForwardResponse> {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  return new Promise<ForwardResponse>((resolve, reject) => {
    client.makeUnaryRequest<Uint8Array, Buffer>(
      `${SERVICE}/Query`,
      identity,
      passthrough,
      encodeForwardRequest(req),
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err || !res ? reject(err ?? new Error('empty answer')) : resolve(decodeForwardResponse(res))),
    );
  }).finally(() => client.close());
}
