// The client port, shared like etcd's: gRPC (HTTP/2) connections go to the gRPC server, plain
// HTTP/1.1 requests (/health, /version, /metrics) to a small HTTP handler. The first bytes of a
// connection tell which: HTTP/2 always starts with its connection preface.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { CONNECTION_PREFACE } from './http2/frames.js';

// Enough of the preface to tell HTTP/2 from an HTTP/1.1 request line.
const PREFACE = CONNECTION_PREFACE.subarray(0, 14);

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

export class ClientListener {
  private readonly net: Server;
  private readonly http = createHttpServer();
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly address: string,
    private readonly onGrpc: (socket: Duplex) => void,
    handler: HttpHandler | undefined,
  ) {
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (handler) handler(req, res);
      else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }
    });
    this.net = createServer((socket) => this.route(socket));
  }

  private route(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.once('close', () => this.sockets.delete(socket));
    socket.once('error', () => socket.destroy());
    // A bounded wait for the first bytes; HTTP/1.1 and HTTP/2 clients both speak first.
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.once('readable', () => {
      clearTimeout(timer);
      const head = socket.read(Math.min(PREFACE.length, socket.readableLength)) as Buffer | null;
      if (!head) return;
      socket.unshift(head);
      if (head.length >= 3 && PREFACE.subarray(0, head.length).equals(head)) this.onGrpc(socket);
      else this.http.emit('connection', socket);
    });
  }

  /** Binds; resolves with the port. */
  start(): Promise<number> {
    const colon = this.address.lastIndexOf(':');
    const host = this.address.slice(0, colon);
    const port = Number(this.address.slice(colon + 1));
    return new Promise((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen({ host, port }, () => {
        const a = this.net.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  /** No new connections; open ones carry on. */
  stopAccepting(): void {
    if (this.net.listening) this.net.close();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.net.listening) await new Promise<void>((r) => this.net.close(() => r()));
  }
}
