// The plain-HTTP endpoints of a master's client port, as etcd serves them: /health (a
// linearizable read must succeed), /version, and a hook for /metrics.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EtcdServer } from './etcd-server.js';
import { ETCD_API_VERSION } from './etcd-server.js';
import type { HttpHandler } from './client-listener.js';

export function httpEndpoints(server: EtcdServer, extra?: (req: IncomingMessage, res: ServerResponse) => boolean): HttpHandler {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/health') {
      // Healthy means this member can serve a linearizable read now.
      server
        .range({ key: Buffer.from('health') })
        .then(() => json(200, { health: 'true', reason: '' }))
        .catch((e: Error) => json(503, { health: 'false', reason: e.message }));
      return;
    }
    if (url.pathname === '/version') {
      json(200, { etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION.replace(/\.\d+$/, '.0') });
      return;
    }
    if (extra && extra(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found\n');
  };
}
