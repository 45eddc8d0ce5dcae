import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { packageRoot } from '../../common/package-root.js';
import { Prng } from '../../common/prng.js';
import { FaultProxy } from './fault-proxy.js';
import { LinkFaults } from './link-faults.js';
import { clientRouter, connectRouter, httpInboundRouter, type PeerDirectory } from './routers.js';
import { socketInodes } from './socket-owner.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An upstream server that keeps what each connection sent and can answer on it. */
async function upstreamServer(): Promise<{ server: Server; port: number; conns: Array<{ socket: Socket; received: Buffer[] }>; close(): Promise<void> }> {
  const conns: Array<{ socket: Socket; received: Buffer[] }> = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const c = { socket, received: [] as Buffer[] };
    conns.push(c);
    socket.on('data', (d: Buffer) => c.received.push(d));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.socket.destroy();
        server.close(() => r());
      }),
  };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Polls until cond() holds; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const text = (bufs: Buffer[]) => Buffer.concat(bufs).toString();

function collect(s: Socket): { data: Buffer[]; closed: { error: boolean } | undefined } {
  const out: { data: Buffer[]; closed: { error: boolean } | undefined } = { data: [], closed: undefined };
  s.on('data', (d: Buffer) => out.data.push(d));
  s.on('error', () => undefined);
  s.on('close', (error: boolean) => (out.closed = { error }));
  return out;
}

test('a cut is one-way: the cut direction loses its bytes, the other flows; healing resets the damaged connection', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(1));
  const proxy = await FaultProxy.start({ name: 'client proxy of n1', faults, router: clientRouter('n1', up.port) });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  const s = await dial(proxy.port);
  const got = collect(s);
  s.write('before ');
  await until(() => text(up.conns[0]?.received ?? []) === 'before ', 5000, 'the first bytes');

  faults.cut('client', 'n1');
  s.write('lost');
  up.conns[0]!.socket.write('answer');
  await until(() => text(got.data) === 'answer', 5000, 'the answer on the uncut direction');
  await sleep(200);
  assert.equal(text(up.conns[0]!.received), 'before ', 'bytes crossed a cut link');
  assert.equal(got.closed, undefined);

  faults.healAll();
  await until(() => got.closed !== undefined, 5000, 'the damaged connection to be reset');
  // A fresh connection after the heal works both ways.
  const s2 = await dial(proxy.port);
  const got2 = collect(s2);
  s2.write('after');
  await until(() => up.conns.length === 2 && text(up.conns[1]!.received) === 'after', 5000, 'bytes after the heal');
  up.conns[1]!.socket.write('ok');
  await until(() => text(got2.data) === 'ok', 5000, 'the answer after the heal');
  s2.destroy();
  assert.deepEqual([...proxy.stats.routes], [['client->n1', 2]]);
});

test('a connection that lost nothing to a cut survives the heal', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(1));
  const proxy = await FaultProxy.start({ name: 'p', faults, router: clientRouter('n1', up.port) });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  const s = await dial(proxy.port);
  const got = collect(s);
  faults.cut('n1', 'client');
  faults.healAll();
  s.write('ping');
  await until(() => text(up.conns[0]?.received ?? []) === 'ping', 5000, 'ping');
  up.conns[0]!.socket.write('pong');
  await until(() => text(got.data) === 'pong', 5000, 'pong');
  assert.equal(got.closed, undefined);
  s.destroy();
});

test('drop: a lost chunk resets its connection; probability 0 loses nothing', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(7));
  const proxy = await FaultProxy.start({ name: 'p', faults, router: clientRouter('n1', up.port) });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  faults.setDrop('client', 'n1', 0);
  const a = await dial(proxy.port);
  const gotA = collect(a);
  for (let i = 0; i < 50; i++) a.write(`${i};`);
  await until(() => text(up.conns[0]?.received ?? []).split(';').length === 51, 5000, 'all 50 writes');
  assert.equal(gotA.closed, undefined);

  faults.setDrop('client', 'n1', 1);
  a.write('x');
  await until(() => gotA.closed !== undefined, 5000, 'the reset');
  assert.ok(!text(up.conns[0]!.received).includes('x'));
});

test('delay: chunks arrive no earlier than the delay, in order, with jitter too', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(3));
  const proxy = await FaultProxy.start({ name: 'p', faults, router: clientRouter('n1', up.port) });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  const s = await dial(proxy.port);
  s.write('warm');
  await until(() => up.conns.length === 1 && text(up.conns[0]!.received) === 'warm', 5000, 'warm-up');
  faults.setDelay('client', 'n1', 150, 100);
  const t0 = performance.now();
  const n = 40;
  for (let i = 0; i < n; i++) {
    s.write(`${i},`);
    await sleep(2);
  }
  const expected = 'warm' + Array.from({ length: n }, (_, i) => `${i},`).join('');
  await until(() => text(up.conns[0]!.received) === expected || text(up.conns[0]!.received).length >= expected.length, 10_000, 'delayed chunks');
  assert.equal(text(up.conns[0]!.received), expected, 'order must be kept');
  assert.ok(performance.now() - t0 >= 150, 'delivered before the delay');
  s.destroy();
});

test('bounded memory: a delayed link holds at most its bound and pushes back on the sender', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(3));
  const bound = 256 * 1024;
  const proxy = await FaultProxy.start({ name: 'p', faults, router: clientRouter('n1', up.port), maxQueuedBytes: bound });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  faults.setDelay('client', 'n1', 50);
  const s = await dial(proxy.port);
  const total = 8 * 1024 * 1024;
  const block = Buffer.alloc(64 * 1024);
  const sent = createHash('sha256');
  let maxQueued = 0;
  const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, proxy.queuedBytes)), 5);
  t.after(() => clearInterval(sampler));
  for (let off = 0, i = 0; off < total; off += block.length, i++) {
    block.fill(i % 251);
    sent.update(block);
    if (!s.write(Buffer.from(block))) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await until(() => up.conns[0] !== undefined && up.conns[0].received.reduce((n, b) => n + b.length, 0) >= total, 30_000, 'all bytes');
  clearInterval(sampler);
  const got = createHash('sha256').update(Buffer.concat(up.conns[0]!.received)).digest('hex');
  assert.equal(got, sent.digest('hex'), 'bytes changed on the way');
  assert.ok(maxQueued > 0, 'the delay queue was never used');
  // One socket read (64 KiB) may land on top of a full queue before the source is paused.
  assert.ok(maxQueued <= bound + 64 * 1024, `held ${maxQueued} bytes, bound ${bound}`);
});

test('stop closes every connection and the listener', async (t) => {
  const up = await upstreamServer();
  t.after(() => up.close());
  const faults = new LinkFaults(new Prng(1));
  const proxy = await FaultProxy.start({ name: 'p', faults, router: clientRouter('n1', up.port) });
  const clients = await Promise.all([dial(proxy.port), dial(proxy.port), dial(proxy.port)]);
  const states = clients.map(collect);
  for (const c of clients) c.write('hi');
  await until(() => up.conns.length === 3, 5000, 'three upstream connections');
  faults.cut('client', 'n1'); // a cut connection with lost bytes too
  clients[0]!.write('lost');
  await sleep(50);
  await proxy.stop();
  await until(() => states.every((s) => s.closed !== undefined), 5000, 'clients closed');
  await until(() => up.conns.every((c) => c.socket.destroyed || c.socket.readableEnded), 5000, 'upstream sides closed');
  assert.equal(proxy.openConnections, 0);
  assert.equal(faults.openConnections, 0);
  await assert.rejects(dial(proxy.port), /ECONNREFUSED/);
});

test('/proc/net/tcp parsing finds the socket by its ports', () => {
  const sample = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:A0F0 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 20 4 30 10 -1',
    '   1: 0100007F:1F90 0100007F:A0F0 01 00000000:00000000 00:00000000 00000000  1000        0 654321 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(socketInodes(sample, 0xa0f0, 0x1f90), ['123456']);
  assert.deepEqual(socketInodes(sample, 0x1f90, 0xa0f0), ['654321']);
  assert.deepEqual(socketInodes(sample, 1, 2), []);
});

function directory(map: { ids?: Record<string, string>; pids?: Map<number, string>; ports?: Record<number, string> }): PeerDirectory {
  return {
    nameOfMemberId: (hex) => map.ids?.[hex],
    processes: () => map.pids ?? new Map(),
    memberAtPeerPort: (port) => map.ports?.[port],
  };
}

test('etcd inbound router: the sender comes from X-Server-From, else from the process owning the socket', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(1));
  // A child process plays the unnamed peer (etcd's lease forwarding carries no X-Server-From).
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); process.stdin.on("data", (d) => { const s = require("net").connect(Number(d.toString()), "127.0.0.1", () => s.write("POST /leases HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")); s.on("error", () => {}); })'], { stdio: ['pipe', 'ignore', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const dir = directory({ ids: { '2daa5948bf3762f2': 'n2' }, pids: new Map([[child.pid!, 'n3']]) });
  const proxy = await FaultProxy.start({ name: 'inbound n1', faults, router: httpInboundRouter('n1', up.port, dir) });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  const s = await dial(proxy.port);
  s.write('GET /raft/stream/message/2daa5948bf3762f2 HTTP/1.1\r\nHost: x\r\nX-Server-From: 2daa5948bf3762f2\r\n\r\n');
  await until(() => up.conns.length === 1, 5000, 'the named connection');
  assert.match(text(up.conns[0]!.received), /^GET \/raft\/stream/, 'the sniffed head must be forwarded whole');
  child.stdin!.write(String(proxy.port));
  await until(() => up.conns.length === 2, 5000, 'the unnamed connection');
  if (process.platform === 'linux') assert.deepEqual(new Map(proxy.stats.routes), new Map([['n2->n1', 1], ['n3->n1', 1]]));
  // The identified links obey their faults: n3 -> n1 cut, n2 -> n1 open.
  faults.cut('n3', 'n1');
  s.write('more');
  await until(() => text(up.conns[0]!.received).endsWith('more'), 5000, 'n2 bytes');
  s.destroy();
});

test('CONNECT router: routes to the member behind the port, replies 200, and its link obeys faults', async (t) => {
  const up = await upstreamServer();
  const faults = new LinkFaults(new Prng(1));
  const proxy = await FaultProxy.start({ name: 'outbound n1', faults, router: connectRouter('n1', directory({ ports: { [up.port]: 'n2' } })) });
  t.after(async () => {
    await proxy.stop();
    await up.close();
  });
  const s = await dial(proxy.port);
  const got = collect(s);
  s.write(`CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\nPRI`);
  await until(() => text(got.data).startsWith('HTTP/1.1 200'), 5000, 'the 200');
  await until(() => text(up.conns[0]?.received ?? []) === 'PRI', 5000, 'bytes after the CONNECT head');
  faults.cut('n2', 'n1');
  up.conns[0]!.socket.write('from n2');
  s.write('X');
  await until(() => text(up.conns[0]!.received) === 'PRIX', 5000, 'n1 -> n2 still open');
  await sleep(100);
  assert.ok(!text(got.data).includes('from n2'), 'n2 -> n1 is cut');
  assert.deepEqual([...proxy.stats.routes], [['n1->n2', 1]]);

  // Not a CONNECT, or not to loopback: refused with an HTTP error.
  const bad = await dial(proxy.port);
  const gotBad = collect(bad);
  bad.write('GET / HTTP/1.1\r\n\r\n');
  await until(() => gotBad.closed !== undefined, 5000, 'refusal');
  assert.match(text(gotBad.data), /^HTTP\/1.1 405/);
  s.destroy();
});

test('grpc-js honours grpc_proxy: a child client reaches a gRPC server only through the CONNECT proxy', async (t) => {
  // The keelson-outbound design: masters are started with grpc_proxy pointing at their own proxy.
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server();
  const id = (b: Buffer) => b;
  server.addService(
    { Echo: { path: '/t.T/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    { Echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, call.request) },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.after(() => server.forceShutdown());
  const faults = new LinkFaults(new Prng(1));
  const proxy = await FaultProxy.start({ name: 'outbound a', faults, router: connectRouter('a', directory({ ports: { [port]: 'b' } })) });
  t.after(() => proxy.stop());

  const script = `
    const grpc = require('@grpc/grpc-js');
    const c = new grpc.Client('127.0.0.1:${port}', grpc.credentials.createInsecure());
    const id = (b) => b;
    c.makeUnaryRequest('/t.T/Echo', id, id, Buffer.from('hello'), { deadline: Date.now() + 3000 }, (err, res) => {
      process.stdout.write(err ? 'ERR ' + err.code : 'OK ' + res.toString());
      process.exit(0);
    });`;
  const env: NodeJS.ProcessEnv = { ...process.env, grpc_proxy: proxy.url };
  for (const k of ['no_grpc_proxy', 'no_proxy', 'NO_PROXY']) delete env[k];
  const run = () =>
    new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['-e', script], { env, cwd: packageRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      c.on('exit', () => resolve(out));
    });
  assert.equal(await run(), 'OK hello');
  assert.equal(proxy.stats.routes.get('a->b'), 1, 'the call did not go through the proxy');
  faults.cut('a', 'b');
  assert.equal(await run(), `ERR ${grpc.status.DEADLINE_EXCEEDED}`);
});
