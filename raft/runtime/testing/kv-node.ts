// A process running one Raft member with the test key-value state machine and a tiny HTTP API,
// so tests can kill -9 real processes mid-write. Prints "READY" on stdout once serving.
//
//   node kv-node.js --id 1 --data DIR --peer 127.0.0.1:P --http 127.0.0.1:H
//                   --cluster 1=127.0.0.1:P1,2=127.0.0.1:P2,3=127.0.0.1:P3 [--snapshot-count N]
//                   [--catch-up N] [--tick-ms N] [--wal-segment-bytes N] [--bootstrap]
//   PUT /kv/<key>   body = value   -> 200 {"index":i} once applied here (linearizable write)
//   GET /kv/<key>                  -> 200 {"value":v} after a ReadIndex barrier, 404 if absent
//   GET /dump                      -> every key (serializable), the applied index
//   GET /status                    -> the Raft status

import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../../common/logger.js';
import { RaftError } from '../raft-errors.js';
import { RaftRuntime } from '../raft-runtime.js';
import { KvStateMachine, encodeContext } from './kv-state-machine.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    data: { type: 'string' },
    peer: { type: 'string' },
    http: { type: 'string' },
    cluster: { type: 'string' },
    'snapshot-count': { type: 'string', default: '10000' },
    'catch-up': { type: 'string', default: '5000' },
    'tick-ms': { type: 'string', default: '50' },
    'wal-segment-bytes': { type: 'string' },
    bootstrap: { type: 'boolean', default: false },
  },
});

function need(v: string | undefined, name: string): string {
  if (!v) {
    process.stderr.write(`kv-node: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}

const id = Number(need(values.id, 'id'));
const dataDir = need(values.data, 'data');
const peerAddr = need(values.peer, 'peer');
const [httpHost, httpPort] = need(values.http, 'http').split(':');
const peers = new Map<number, string>();
for (const part of need(values.cluster, 'cluster').split(',')) {
  const [pid, addr] = part.split('=');
  peers.set(Number(pid), addr as string);
}
const logger = createLogger({ level: 'info', fields: { member: id } });

try {
  const sm = await KvStateMachine.open(join(dataDir, 'kv'));
  const rt = await RaftRuntime.start({
    id,
    clusterId: 'kv-test',
    dataDir,
    listenPeer: peerAddr,
    advertisePeer: peerAddr,
    initialPeers: peers,
    ...(values.bootstrap ? { bootstrap: [...peers].map(([pid, url]) => ({ id: pid, context: encodeContext({ peerUrl: url }) })) } : {}),
    stateMachine: sm,
    logger,
    tickMs: Number(values['tick-ms']),
    snapshotCount: Number(values['snapshot-count']),
    catchUpEntries: Number(values['catch-up']),
    ...(values['wal-segment-bytes'] ? { walSegmentBytes: Number(values['wal-segment-bytes']) } : {}),
    requestTimeoutMs: 3000,
    onFatal: (err) => {
      process.stderr.write(`kv-node: ${err.message}\n`);
      process.exit(1);
    },
  });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (e: unknown): void => {
      if (e instanceof RaftError) send(503, { error: e.message, kind: e.kind, leader: e.leader });
      else send(500, { error: String(e) });
    };
    if (url.pathname.startsWith('/kv/') && req.method === 'PUT') {
      const key = decodeURIComponent(url.pathname.slice(4));
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const value = Buffer.concat(chunks).toString('utf8');
        rt.propose(new TextEncoder().encode(JSON.stringify({ k: key, v: value })))
          .then((r) => send(200, r))
          .catch(fail);
      });
      return;
    }
    if (url.pathname.startsWith('/kv/') && req.method === 'GET') {
      const key = decodeURIComponent(url.pathname.slice(4));
      rt.readIndex()
        .then(() => (sm.data.has(key) ? send(200, { value: sm.data.get(key) }) : send(404, { error: 'not found' })))
        .catch(fail);
      return;
    }
    if (url.pathname === '/dump') {
      send(200, { applied: sm.appliedIndex(), data: Object.fromEntries(sm.data) });
      return;
    }
    if (url.pathname === '/status') {
      const st = rt.status();
      send(200, { ...st, progress: Object.fromEntries(st.progress) });
      return;
    }
    send(404, { error: 'no such endpoint' });
  });
  await new Promise<void>((resolve) => server.listen(Number(httpPort), httpHost, () => resolve()));
  process.stdout.write('READY\n');
  const shutdown = (): void => {
    server.close();
    void rt.stop().then(() => sm.close()).then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
} catch (e) {
  process.stderr.write(`kv-node: ${(e as Error).message}\n`);
  process.exit(1);
}
