// The HTTP/2 server connection against a real client (node:http2, i.e. nghttp2) and against
// hand-made frames for what a well-behaved client never sends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { encodeHeaderBlock } from './hpack.js';
import { CONNECTION_PREFACE, Flag, FrameType, H2Error, frame } from './frames.js';
import { ServerConnection, type ServerStream } from './server-connection.js';
import type { HeaderFields } from './hpack.js';

const OK_HEADERS = encodeHeaderBlock([
  [':status', '200'],
  ['content-type', 'application/octet-stream'],
]);
const TRAILERS = encodeHeaderBlock([['x-done', 'yes']]);

interface Served {
  port: number;
  conns: ServerConnection[];
  close(): Promise<void>;
}

async function serve(t: { after: (f: () => Promise<void>) => void }, onStream: (s: ServerStream, h: HeaderFields) => void, opts: { maxConcurrentStreams?: number; maxHeaderListBytes?: number } = {}): Promise<Served> {
  const conns: ServerConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    conns.push(new ServerConnection(sock, { ...opts, onStream }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  t.after(close);
  return { port, conns, close };
}

/** Echo: the request body back, after the response headers, then trailers. */
function echo(s: ServerStream): void {
  const parts: Buffer[] = [];
  s.onData = (c) => parts.push(Buffer.from(c));
  s.onEnd = () => {
    s.respond(OK_HEADERS);
    for (const p of parts) s.write(p);
    s.end(TRAILERS);
  };
}

function request(client: http2.ClientHttp2Session, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ':method': 'POST', ':path': '/echo', ...headers });
    let status = 0;
    const chunks: Buffer[] = [];
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (h) => (trailers = h));
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    req.end(body);
  });
}

test('a node:http2 client: concurrent requests, bodies bigger than every window both ways, trailers', async (t) => {
  const srv = await serve(t, echo);
  const client = http2.connect(`http://127.0.0.1:${srv.port}`);
  t.after(async () => void client.destroy());
  const bodies = Array.from({ length: 50 }, (_, i) => Buffer.alloc(i === 0 ? 5 * 1024 * 1024 : 1 + i * 997, i));
  const got = await Promise.all(bodies.map((b) => request(client, b)));
  got.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(bodies[i] as Buffer), `body ${i}`);
    assert.equal(r.trailers['x-done'], 'yes');
  });
  // The connection's windows were used up and replenished many times; it still works.
  assert.equal((await request(client, Buffer.from('again'))).body.toString(), 'again');
});

test('write() reports full while the client reads nothing, drains when it reads; a reset is seen as onClose', async (t) => {
  let stream: ServerStream | undefined;
  let fullAt = -1;
  let drained = false;
  let closed = false;
  const srv = await serve(t, (s) => {
    stream = s;
    s.highWater = 256 * 1024;
    s.respond(OK_HEADERS);
    for (let i = 0; i < 1000; i++) {
      if (!s.write(Buffer.alloc(16 * 1024, i))) {
        fullAt = i;
        break;
      }
    }
    s.onDrain = () => (drained = true);
    s.onClose = () => (closed = true);
  });
  const client = http2.connect(`http://127.0.0.1:${srv.port}`);
  t.after(async () => void client.destroy());
  const req = client.request({ ':method': 'POST', ':path': '/feed' });
  req.on('error', () => undefined);
  req.pause();
  const deadline = Date.now() + 5000;
  while (fullAt < 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fullAt >= 0 && fullAt < 1000, 'write never reported full');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok((stream as ServerStream).bufferedBytes > 0, 'data waits for the client window');
  let received = 0;
  req.on('data', (c: Buffer) => (received += c.length));
  req.resume();
  while (!drained && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(drained);
  while (received < (fullAt + 1) * 16 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(received, (fullAt + 1) * 16 * 1024);
  req.close(http2.constants.NGHTTP2_CANCEL);
  while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed, 'the reset was not seen');
  assert.equal(srv.conns[0]?.streamCount, 0);
});

test('graceful goaway: streams in flight finish, then the connection closes', async (t) => {
  const waiting: ServerStream[] = [];
  const srv = await serve(t, (s) => {
    waiting.push(s);
    s.onEnd = () => undefined;
  });
  const client = http2.connect(`http://127.0.0.1:${srv.port}`);
  client.on('error', () => undefined);
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  const p = request(client, Buffer.from('x'));
  const deadline = Date.now() + 5000;
  while (waiting.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  (srv.conns[0] as ServerConnection).goaway();
  await new Promise((r) => setTimeout(r, 50));
  const s = waiting[0] as ServerStream;
  s.respond(OK_HEADERS);
  s.write(Buffer.from('late'));
  s.end(TRAILERS);
  assert.equal((await p).body.toString(), 'late');
  await closed;
});

test('too many streams are refused, a header list over the limit gets 431', async (t) => {
  const held: ServerStream[] = [];
  const srv = await serve(
    t,
    (s) => {
      held.push(s);
    },
    { maxConcurrentStreams: 2, maxHeaderListBytes: 1024 },
  );
  const client = http2.connect(`http://127.0.0.1:${srv.port}`, { peerMaxConcurrentStreams: 100 });
  t.after(async () => void client.destroy());
  client.on('error', () => undefined);
  const big = await request(client, Buffer.alloc(0), { 'x-big': 'y'.repeat(2000) }).catch((e: Error) => e);
  assert.ok(!(big instanceof Error) && big.status === 431, `got ${big instanceof Error ? big.message : big.status}`);
  // Two held open, the third is refused (the client's own limit follows our SETTINGS, so use raw frames).
  const raw = await rawConnection(srv.port);
  t.after(async () => raw.sock.destroy());
  const hdr = encodeHeaderBlock([
    [':method', 'POST'],
    [':path', '/x'],
    [':scheme', 'http'],
    [':authority', 'a'],
  ]);
  for (const id of [1, 3, 5]) raw.sock.write(frame(FrameType.HEADERS, Flag.END_HEADERS, id, hdr));
  const rst = await raw.next((f) => f.type === FrameType.RST_STREAM);
  assert.equal(rst.stream, 5);
  assert.equal(rst.payload.readUInt32BE(0), H2Error.REFUSED_STREAM);
});

interface RawFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** A client speaking frames by hand. */
async function rawConnection(port: number, preface = true): Promise<{ sock: Socket; next: (pred: (f: RawFrame) => boolean, ms?: number) => Promise<RawFrame>; closed: Promise<void> }> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const frames: RawFrame[] = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      frames.push({ type: buf[3] as number, flags: buf[4] as number, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(buf.subarray(9, 9 + len)) });
      buf = buf.subarray(9 + len);
    }
  });
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  if (preface) sock.write(Buffer.concat([CONNECTION_PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
  const next = async (pred: (f: RawFrame) => boolean, ms = 3000): Promise<RawFrame> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = frames.findIndex(pred);
      if (i >= 0) return frames.splice(i, 1)[0] as RawFrame;
      if (Date.now() > deadline) throw new Error(`no such frame; got ${frames.map((f) => f.type).join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { sock, next, closed };
}

const goawayCode = (f: RawFrame): number => f.payload.readUInt32BE(4);

test('raw frames: PING is answered, padding/priority/CONTINUATION are read, window updates let held data go', async (t) => {
  let headers: HeaderFields | undefined;
  let body = '';
  const srv = await serve(t, (s, h) => {
    headers = h;
    s.onData = (c) => (body += c.toString());
    s.onEnd = () => {
      s.respond(OK_HEADERS);
      s.write(Buffer.alloc(100_000, 7));
      s.end(TRAILERS);
    };
  });
  const raw = await rawConnection(srv.port);
  t.after(async () => raw.sock.destroy());
  const settings = await raw.next((f) => f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK));
  assert.equal(settings.payload.length % 6, 0);
  await raw.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0);
  raw.sock.write(frame(FrameType.PING, 0, 0, Buffer.from('12345678')));
  const pong = await raw.next((f) => f.type === FrameType.PING);
  assert.equal(pong.flags & Flag.ACK, Flag.ACK);
  assert.equal(pong.payload.toString(), '12345678');
  // A client window of 0 (SETTINGS_INITIAL_WINDOW_SIZE) holds the data back.
  raw.sock.write(frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0, 0, 0])));
  const block = encodeHeaderBlock([
    [':method', 'POST'],
    [':path', '/padded'],
    [':scheme', 'http'],
    [':authority', 'x'],
    ['x-long', 'z'.repeat(300)],
  ]);
  // HEADERS with padding and priority, carrying half the block; the rest in a CONTINUATION.
  const half = 20;
  const headersPayload = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), block.subarray(0, half), Buffer.alloc(3)]);
  raw.sock.write(frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, headersPayload));
  raw.sock.write(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(half)));
  raw.sock.write(frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([2]), Buffer.from('hello'), Buffer.alloc(2)])));
  const resp = await raw.next((f) => f.type === FrameType.HEADERS && f.stream === 1);
  assert.equal(resp.flags & Flag.END_STREAM, 0);
  assert.equal(headers?.[':path'], '/padded');
  assert.equal(headers?.['x-long'], 'z'.repeat(300));
  assert.equal(body, 'hello');
  await assert.rejects(raw.next((f) => f.type === FrameType.DATA, 200), /no such frame/);
  // Open the stream window by 60,000 and the default connection window (65,535) allows it all.
  raw.sock.write(frame(FrameType.WINDOW_UPDATE, 0, 1, Buffer.from([0, 0, 0xea, 0x60])));
  let got = 0;
  while (got < 60_000) got += (await raw.next((f) => f.type === FrameType.DATA && f.stream === 1)).payload.length;
  assert.equal(got, 60_000);
  raw.sock.write(frame(FrameType.WINDOW_UPDATE, 0, 1, Buffer.from([0, 1, 0, 0])));
  raw.sock.write(frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 1, 0, 0])));
  while (got < 100_000) got += (await raw.next((f) => f.type === FrameType.DATA && f.stream === 1)).payload.length;
  assert.equal(got, 100_000);
  const trailers = await raw.next((f) => f.type === FrameType.HEADERS && f.stream === 1);
  assert.equal(trailers.flags & Flag.END_STREAM, Flag.END_STREAM);
});

test('raw frames: protocol errors close the connection with GOAWAY and the right code', async (t) => {
  const srv = await serve(t, echo);
  const cases: [string, Buffer, H2Error][] = [
    ['a bad preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), H2Error.PROTOCOL_ERROR],
    ['a frame over 16 KiB', frame(FrameType.DATA, 0, 1, Buffer.alloc(20_000)), H2Error.FRAME_SIZE_ERROR],
    ['DATA on stream 0', frame(FrameType.DATA, 0, 0, Buffer.alloc(1)), H2Error.PROTOCOL_ERROR],
    ['an even client stream', frame(FrameType.HEADERS, Flag.END_HEADERS, 2, encodeHeaderBlock([[':path', '/']])), H2Error.PROTOCOL_ERROR],
    ['a broken header block', frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x80])), H2Error.COMPRESSION_ERROR],
    ['a CONTINUATION out of nowhere', frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.alloc(1)), H2Error.PROTOCOL_ERROR],
    ['PUSH_PROMISE', frame(FrameType.PUSH_PROMISE, 0, 1, Buffer.alloc(4)), H2Error.PROTOCOL_ERROR],
    ['a window over 2^31-1', frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])), H2Error.FLOW_CONTROL_ERROR],
    ['SETTINGS of a bad size', frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)), H2Error.FRAME_SIZE_ERROR],
  ];
  for (const [what, bytes, code] of cases) {
    const preface = what !== 'a bad preface';
    const raw = await rawConnection(srv.port, preface);
    raw.sock.write(bytes);
    const ga = await raw.next((f) => f.type === FrameType.GOAWAY);
    assert.equal(goawayCode(ga), code, what);
    await raw.closed;
  }
});
