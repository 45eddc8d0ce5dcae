// Dialing a peer: a TCP connection to host:port, through an HTTP CONNECT proxy when the
// environment names one. The rules are grpc-js' (which carried peer traffic before, and which
// the Jepsen harness relies on to put a fault proxy on every peer link): grpc_proxy, else
// https_proxy, else http_proxy (http:// URLs only, optional user:password); no proxy for hosts
// listed in no_grpc_proxy, else no_proxy (suffixes or IPv4 CIDRs).

import { connect, isIPv4, type Socket } from 'node:net';

/** A dial that failed before any byte of ours could reach the peer. */
export class DialError extends Error {
  override name = 'DialError';
  readonly neverSent = true;
}

interface ProxyInfo {
  host: string;
  port: number;
  auth: string | undefined;
}

function proxyInfo(): ProxyInfo | undefined {
  const raw = process.env['grpc_proxy'] || process.env['https_proxy'] || process.env['http_proxy'];
  if (!raw) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:') return undefined;
  const auth = u.username ? decodeURIComponent(u.password ? `${u.username}:${u.password}` : u.username) : undefined;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || '80'), auth };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) + Number(o)) >>> 0, 0);
}

function bypassesProxy(host: string): boolean {
  const list = process.env['no_grpc_proxy'] || process.env['no_proxy'];
  if (!list) return false;
  for (const entry of list.split(',')) {
    const e = entry.trim();
    if (e === '') continue;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (cidr && isIPv4(host)) {
      const bits = Number(cidr[2]);
      if (bits >= 0 && bits <= 32) {
        const mask = bits === 0 ? 0 : (-1 << (32 - bits)) >>> 0;
        if (((ipToInt(host) & mask) >>> 0) === ((ipToInt(cidr[1] as string) & mask) >>> 0)) return true;
        continue;
      }
    }
    if (host.endsWith(e)) return true;
  }
  return false;
}

function splitHostPort(addr: string): { host: string; port: number } {
  const colon = addr.lastIndexOf(':');
  return { host: addr.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(addr.slice(colon + 1)) };
}

/**
 * Connects to `addr` (host:port); rejects with a DialError if no connection could be made. The
 * socket comes paused, with no-delay set.
 */
export function dial(addr: string, timeoutMs: number): Promise<Socket> {
  const target = splitHostPort(addr);
  const proxy = proxyInfo();
  const via = proxy && !bypassesProxy(target.host) ? proxy : undefined;
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: via ? via.host : target.host, port: via ? via.port : target.port });
    socket.setNoDelay(true);
    let done = false;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new DialError(`connect ${addr}${via ? ` via proxy ${via.host}:${via.port}` : ''}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no connection after ${timeoutMs} ms`), timeoutMs);
    const onError = (e: Error): void => fail(e.message);
    const onClose = (): void => fail('closed');
    socket.on('error', onError);
    socket.once('close', onClose);
    const connected = (): void => {
      done = true;
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('close', onClose);
      // Errors from now on are the owner's to handle; this keeps one from crashing the process
      // before the owner has attached its own handler. The socket starts paused: call resume().
      socket.on('error', () => undefined);
      socket.pause();
      resolve(socket);
    };
    socket.once('connect', () => {
      if (!via) {
        connected();
        return;
      }
      const hostPort = addr.startsWith('[') || !target.host.includes(':') ? addr : `[${target.host}]:${target.port}`;
      let req = `CONNECT ${hostPort} HTTP/1.1\r\nHost: ${hostPort}\r\n`;
      if (via.auth) req += `Proxy-Authorization: Basic ${Buffer.from(via.auth).toString('base64')}\r\n`;
      socket.write(`${req}\r\n`);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16 * 1024) fail('proxy answer too long');
          return;
        }
        socket.off('data', onData);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'));
        if (!status || status[1] !== '200') {
          fail(`proxy refused: ${head.subarray(0, head.indexOf('\r\n')).toString('latin1')}`);
          return;
        }
        const rest = head.subarray(end + 4);
        if (rest.length > 0) socket.unshift(rest);
        connected();
      };
      socket.on('data', onData);
    });
  });
}
