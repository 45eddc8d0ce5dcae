// How each kind of fault proxy learns which directed link a connection belongs to:
//  - client proxies: fixed, "client" → their member;
//  - etcd inbound peer proxies (in front of a member's peer listener; members advertise the
//    proxy's URL): the sender is named by the X-Server-From header (member id in hex) of
//    etcd's raft requests; other peer requests (leases, probes, /version) name nobody, so their
//    sender is looked up in /proc (socket-owner.ts);
//  - keelson outbound peer proxies (an HTTP CONNECT proxy per member, given to it as grpc_proxy):
//    the sender is the proxy's member, the receiver the member whose peer port is CONNECTed to.
// A sender or receiver that cannot be told is UNKNOWN, whose links are never faulted.

import { socketOwner } from './socket-owner.js';
import { CLIENT, UNKNOWN } from './link-faults.js';
import type { Router, Routing } from './fault-proxy.js';

/** Bytes of an HTTP request head we wait for before giving up on headers. */
const MAX_HTTP_HEAD = 16 * 1024;
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export interface PeerDirectory {
  /** The member with this etcd member id (hex, as in X-Server-From), if known. */
  nameOfMemberId(hexId: string): string | undefined;
  /** pid → member name, of the members running now. */
  processes(): ReadonlyMap<number, string>;
  /** The member whose real peer listener is on this port. */
  memberAtPeerPort(port: number): string | undefined;
}

export interface HttpHead {
  /** Bytes up to and including the blank line. */
  length: number;
  requestLine: string;
  /** Lower-cased names. */
  headers: Map<string, string>;
}

/** The head of the first HTTP/1.x request in `buf`, or undefined while it is incomplete. */
export function parseHttpHead(buf: Buffer): HttpHead | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  return { length: end + 4, requestLine: lines[0] ?? '', headers };
}

export function fixedRouter(from: string, to: string, upstream: { host: string; port: number }): Router {
  return { route: () => ({ from, to, upstream }) };
}

/** The client proxy of a member. */
export function clientRouter(member: string, upstreamPort: number): Router {
  return fixedRouter(CLIENT, member, { host: '127.0.0.1', port: upstreamPort });
}

/** In front of etcd member `self`'s peer listener at `upstreamPort`. */
export function httpInboundRouter(self: string, upstreamPort: number, dir: PeerDirectory): Router {
  const upstream = { host: '127.0.0.1', port: upstreamPort };
  return {
    route(head, client): 'more' | Routing | Promise<Routing> {
      const h = parseHttpHead(head);
      if (h === undefined && head.length < MAX_HTTP_HEAD) return 'more';
      const named = h?.headers.get('x-server-from');
      const byHeader = named !== undefined ? dir.nameOfMemberId(named.toLowerCase()) : undefined;
      if (byHeader !== undefined) return { from: byHeader, to: self, upstream };
      const clientPort = client.remotePort;
      const proxyPort = client.localPort;
      if (clientPort === undefined || proxyPort === undefined) return { from: UNKNOWN, to: self, upstream };
      return socketOwner(clientPort, proxyPort, dir.processes()).then((owner) => ({ from: owner ?? UNKNOWN, to: self, upstream }));
    },
  };
}

const CONNECT_OK = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n');
const BAD_GATEWAY = Buffer.from('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
const reply = (status: string): Buffer => Buffer.from(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);

/** The HTTP CONNECT proxy member `self` dials its peers through (grpc_proxy). */
export function connectRouter(self: string, dir: PeerDirectory): Router {
  return {
    route(head): 'more' | Routing {
      const h = parseHttpHead(head);
      if (h === undefined) return head.length < MAX_HTTP_HEAD ? 'more' : { refuse: 'no CONNECT request', reply: reply('400 Bad Request') };
      const m = /^CONNECT (\S+):(\d{1,5}) HTTP\/1\.[01]$/.exec(h.requestLine);
      if (!m) return { refuse: `not a CONNECT request: ${h.requestLine}`, reply: reply('405 Method Not Allowed') };
      const host = m[1] as string;
      const port = Number(m[2]);
      if (!LOOPBACK_HOSTS.has(host) || port < 1 || port > 65535) return { refuse: `CONNECT to ${host}:${port} refused`, reply: reply('403 Forbidden') };
      return {
        from: self,
        to: dir.memberAtPeerPort(port) ?? UNKNOWN,
        upstream: { host: host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''), port },
        consumed: h.length,
        replyOnConnect: CONNECT_OK,
        replyOnFailure: BAD_GATEWAY,
      };
    },
  };
}
