// A TCP fault proxy on 127.0.0.1: accepts connections, asks its Router which directed link a
// connection belongs to and where it goes (possibly after reading the first bytes: an HTTP
// request's headers, a CONNECT request), connects upstream, and pipes the bytes through a
// FaultPipe that applies the run's LinkFaults. One core for the three uses of the harness:
// client links, etcd's inbound peer links, keelson's outbound (HTTP CONNECT) peer links.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { invariant } from '../../common/assert.js';
import { FaultPipe } from './fault-pipe.js';
import type { LinkFaults } from './link-faults.js';

const HOST = '127.0.0.1';
/** Hard bound on the bytes held while a router decides. */
export const MAX_HEAD_BYTES = 64 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 1024;

export interface Route {
  from: string;
  to: string;
  upstream: { host: string; port: number };
  /** Bytes at the start of the head that are the proxy's business, not forwarded (a CONNECT request). */
  consumed?: number;
  /** Sent to the client once upstream is connected, through the to → from link (e.g. "200 Connection established"). */
  replyOnConnect?: Buffer;
  /** Sent to the client when upstream cannot be reached, before closing. */
  replyOnFailure?: Buffer;
}

export interface Refusal {
  refuse: string;
  reply?: Buffer;
}

export type Routing = Route | Refusal;

export interface Router {
  /**
   * Called when a connection arrives (head empty) and after each chunk until it decides:
   * 'more' waits for more bytes. `client` gives the connection's addresses.
   */
  route(head: Buffer, client: Socket): 'more' | Routing | Promise<Routing>;
}

export interface FaultProxyOptions {
  /** For messages: "client proxy of n1", ... */
  name: string;
  faults: LinkFaults;
  router: Router;
  /** 0 (default): an ephemeral port. */
  port?: number;
  maxQueuedBytes?: number;
  /** Bound on open connections; more are refused. */
  maxConnections?: number;
}

export interface ProxyStats {
  accepted: number;
  refused: number;
  upstreamFailures: number;
  /** Routes by link "from->to", counted per connection. */
  routes: Map<string, number>;
}

function isRefusal(r: Routing): r is Refusal {
  return (r as Refusal).refuse !== undefined;
}

export class FaultProxy {
  readonly stats: ProxyStats = { accepted: 0, refused: 0, upstreamFailures: 0, routes: new Map() };
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<FaultPipe>();
  private stopped: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly o: FaultProxyOptions,
  ) {}

  static async start(o: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: HOST, port: o.port ?? 0, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    invariant(addr !== null && typeof addr === 'object', 'FaultProxy: no TCP address');
    const proxy = new FaultProxy(server, addr.port, o);
    server.maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    server.on('connection', (s: Socket) => proxy.accept(s));
    server.on('error', () => undefined); // listening errors after start: connections just fail
    return proxy;
  }

  /** "127.0.0.1:port" */
  get endpoint(): string {
    return `${HOST}:${this.port}`;
  }

  get url(): string {
    return `http://${HOST}:${this.port}`;
  }

  get openConnections(): number {
    return this.pipes.size;
  }

  /** Bytes held in delay queues over all connections now. */
  get queuedBytes(): number {
    let n = 0;
    for (const p of this.pipes) n += p.queuedBytes;
    return n;
  }

  /** Closes the listener and every connection. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      for (const p of [...this.pipes]) p.reset('proxy stopped');
      for (const s of [...this.sockets]) s.destroy();
      this.server.close(() => resolve());
    });
    return this.stopped;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(client: Socket): void {
    if (this.stopped) {
      client.destroy();
      return;
    }
    this.stats.accepted++;
    this.track(client);
    client.on('error', () => undefined);
    let head: Buffer = Buffer.alloc(0);
    let deciding = false;
    let done = false;
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head.length > MAX_HEAD_BYTES) client.pause(); // bounded: wait for the router
      decide();
    };
    const onGone = (): void => {
      // The client gave up before we knew where it was going.
      done = true;
      client.destroy();
    };
    const decide = (): void => {
      if (deciding || done) return;
      let r: 'more' | Routing | Promise<Routing>;
      try {
        r = this.o.router.route(head, client);
      } catch (err) {
        r = { refuse: `router failed: ${(err as Error).message}` };
      }
      if (r === 'more') {
        if (head.length >= MAX_HEAD_BYTES) finishRouting({ refuse: `no route after ${head.length} bytes` });
        return;
      }
      if (r instanceof Promise) {
        deciding = true;
        r.then(finishRouting, (err: unknown) => finishRouting({ refuse: `router failed: ${(err as Error).message}` }));
        return;
      }
      finishRouting(r);
    };
    const finishRouting = (r: Routing): void => {
      if (done) return;
      done = true;
      client.off('data', onData);
      client.off('end', onGone);
      client.pause();
      if (this.stopped || client.destroyed) {
        client.destroy();
        return;
      }
      if (isRefusal(r)) {
        this.stats.refused++;
        if (r.reply) client.end(r.reply);
        else client.destroy();
        return;
      }
      this.connectUpstream(client, r, head.subarray(r.consumed ?? 0));
    };
    client.on('data', onData);
    client.once('end', onGone);
    client.resume();
    decide();
  }

  private connectUpstream(client: Socket, r: Route, rest: Buffer): void {
    const link = `${r.from}->${r.to}`;
    this.stats.routes.set(link, (this.stats.routes.get(link) ?? 0) + 1);
    const upstream = connect({ host: r.upstream.host, port: r.upstream.port, allowHalfOpen: true });
    this.track(upstream);
    upstream.pause();
    const onFail = (): void => {
      this.stats.upstreamFailures++;
      upstream.destroy();
      if (r.replyOnFailure) client.end(r.replyOnFailure);
      else client.destroy();
    };
    upstream.once('error', onFail);
    upstream.once('connect', () => {
      upstream.off('error', onFail);
      if (this.stopped || client.destroyed) {
        upstream.destroy();
        client.destroy();
        return;
      }
      const pipe = new FaultPipe(this.o.faults, client, upstream, r.from, r.to, {
        ...(this.o.maxQueuedBytes !== undefined ? { maxQueuedBytes: this.o.maxQueuedBytes } : {}),
        onClose: () => this.pipes.delete(pipe),
      });
      this.pipes.add(pipe);
      if (r.replyOnConnect) pipe.backward.onData(r.replyOnConnect);
      if (rest.length > 0) pipe.forward.onData(rest);
      client.resume();
      upstream.resume();
    });
  }
}
