// The plain-HTTP endpoints of a master, served on its client port (as etcd does) and on any
// --listen-metrics-urls: /health (etcd's JSON: a linearizable read must succeed), /readyz and
// /livez (Kubernetes-style text), /version, and /metrics (Prometheus).

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
    const text = (code: number, body: string): void => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/health':
        // Healthy means this member can serve a linearizable read now.
        server
          .range({ key: Buffer.from('health') })
          .then(() => json(200, { health: 'true', reason: '' }))
          .catch((e: Error) => json(503, { health: 'false', reason: e.message }));
        return;
      case '/readyz':
        // Ready to serve clients: a leader is known and linearizable reads go through.
        server
          .range({ key: Buffer.from('health') })
          .then(() => text(200, 'ok\n'))
          .catch((e: Error) => text(503, `not ready: ${e.message}\n`));
        return;
      case '/livez':
        text(200, 'ok\n');
        return;
      case '/version':
        json(200, { etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION.replace(/\.\d+$/, '.0') });
        return;
      case '/metrics':
        server.metrics
          .text()
          .then((body) => {
            res.writeHead(200, { 'content-type': server.metrics.contentType });
            res.end(body);
          })
          .catch((e: Error) => text(500, `metrics failed: ${e.message}\n`));
        return;
      default:
        if (extra && extra(req, res)) return;
        text(404, '404 page not found\n');
    }
  };
}
