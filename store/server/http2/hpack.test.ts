// HPACK: the Huffman code against RFC 7541's table, the decoder against the RFC's examples and
// against a real encoder (nghttp2, through a node:http2 client), and its errors and limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { createServer, type Socket } from 'node:net';
import { Prng } from '../../../common/prng.js';
import { CODES, codeLength, huffmanDecode, huffmanEncode, HuffmanError } from './hpack-huffman.js';
import { HpackDecoder, HpackError, encodeHeaderBlock } from './hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the Huffman code is RFC 7541 Appendix B (samples of every length class)', () => {
  const want: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [1, 0x7fffd8, 23],
    [2, 0xfffffe2, 28],
    [9, 0xffffea, 24],
    [10, 0x3ffffffc, 30],
    [32, 0x14, 6],
    [33, 0x3f8, 10],
    [48, 0x0, 5],
    [97, 0x3, 5],
    [101, 0x5, 5],
    [122, 0x7b, 7],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, len] of want) {
    assert.equal(codeLength(sym), len, `length of ${sym}`);
    assert.equal(CODES[sym], code, `code of ${sym}`);
  }
});

test('Huffman strings round-trip for every byte; bad padding and EOS are refused', () => {
  const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  const enc = huffmanEncode(all);
  assert.equal(huffmanDecode(enc, 0, enc.length), all);
  const p = new Prng(11);
  for (let i = 0; i < 200; i++) {
    const s = String.fromCharCode(...Array.from({ length: p.int(40) }, () => (p.chance(0.8) ? 32 + p.int(95) : p.int(256))));
    const b = huffmanEncode(s);
    assert.equal(huffmanDecode(b, 0, b.length), s);
  }
  // 'a' is 00011 (5 bits): padded with 1s it is 0x1f; padded with 0s it is invalid.
  assert.equal(huffmanDecode(Buffer.from([0x1f]), 0, 1), 'a');
  assert.throws(() => huffmanDecode(Buffer.from([0x18]), 0, 1), HuffmanError);
  // A whole byte of padding (8 bits of ones) is too much.
  assert.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2), HuffmanError);
  // EOS (30 ones) encoded explicitly.
  assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xfc]), 0, 4), HuffmanError);
});

test('the decoder reads RFC 7541 C.3 and C.4 (three requests each, with and without Huffman)', () => {
  for (const blocks of [
    ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865', '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'],
    ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'],
  ]) {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex(blocks[0] as string)), { ':method': 'GET', ':scheme': 'http', ':path': '/', ':authority': 'www.example.com' });
    assert.deepEqual(d.decode(hex(blocks[1] as string)), { ':method': 'GET', ':scheme': 'http', ':path': '/', ':authority': 'www.example.com', 'cache-control': 'no-cache' });
    assert.deepEqual(d.decode(hex(blocks[2] as string)), {
      ':method': 'GET',
      ':scheme': 'https',
      ':path': '/index.html',
      ':authority': 'www.example.com',
      'custom-key': 'custom-value',
    });
  }
});

test('the dynamic table evicts by size and follows size updates; errors are HpackErrors', () => {
  const d = new HpackDecoder(100);
  // Literal with incremental indexing, new name: "aaaa" = "bbbb" (size 40), three times.
  const lit = (n: string, v: string): string => `40${n.length.toString(16).padStart(2, '0')}${Buffer.from(n).toString('hex')}${v.length.toString(16).padStart(2, '0')}${Buffer.from(v).toString('hex')}`;
  assert.deepEqual(d.decode(hex(lit('aaaa', 'bbbb') + lit('cccc', 'dddd') + lit('eeee', 'ffff'))), { aaaa: 'bbbb', cccc: 'dddd', eeee: 'ffff' });
  // Only two fit in 100 bytes: 62 is the newest, 63 the one before; 64 was evicted.
  assert.deepEqual(d.decode(hex('bebf')), { eeee: 'ffff', cccc: 'dddd' });
  assert.throws(() => d.decode(hex('c0')), HpackError);
  // A size update to 0 empties the table.
  assert.throws(() => new HpackDecoder(100).decode(hex('3f46')), /over the announced 100/);
  assert.deepEqual(d.decode(hex('20')), {});
  assert.throws(() => d.decode(hex('be')), /not in the table/);
  // A size update after a field is an error.
  assert.throws(() => d.decode(hex('8220')), /size update after/);
  assert.throws(() => d.decode(hex('80')), /index 0/);
  assert.throws(() => d.decode(hex('0f')), /truncated/);
  assert.throws(() => d.decode(hex('0085616263')), /runs past the end/);
  assert.throws(() => d.decode(hex('ffffffffffff7f')), /integer too large/);
});

test('a header list over the limit decodes to undefined, and the table still follows', () => {
  const d = new HpackDecoder(4096, 120);
  const big = 'x'.repeat(80);
  const lit = (n: string, v: string): Buffer => Buffer.concat([Buffer.from([0x40, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v)]);
  // 115 + 34 bytes: over 120.
  assert.equal(d.decode(Buffer.concat([lit('big', big), lit('k', 'v')])), undefined);
  // Both were inserted all the same: 62 is k, 63 is big.
  assert.deepEqual(d.decode(hex('bf')), { big });
  assert.deepEqual(d.decode(hex('be')), { k: 'v' });
});

test('encodeHeaderBlock: static entries, static names and new names, read back by our decoder', () => {
  const fields: [string, string][] = [
    [':status', '200'],
    ['content-type', 'application/grpc'],
    ['grpc-status', '13'],
    ['grpc-message', 'a%20b'],
  ];
  const b = encodeHeaderBlock(fields);
  assert.equal(b[0], 0x88, ':status 200 is static index 8');
  assert.deepEqual(new HpackDecoder().decode(b), Object.fromEntries(fields));
});

/** Header blocks as a node:http2 client (nghttp2's encoder) sends them, captured from the socket. */
async function captureBlocks(requests: Record<string, string>[]): Promise<Buffer[]> {
  const blocks: Buffer[] = [];
  let sock: Socket | undefined;
  const server = createServer((s) => {
    sock = s;
    let buf = Buffer.alloc(0);
    let skipped = false;
    s.write(Buffer.from('000000040000000000', 'hex')); // empty SETTINGS
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!skipped) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        skipped = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const flags = buf[4] as number;
        let p = buf.subarray(9, 9 + len);
        if (type === 0x4 && !(flags & 1)) s.write(Buffer.from('000000040100000000', 'hex'));
        if (type === 0x1) {
          if (flags & 0x8) p = p.subarray(1, p.length - (p[0] as number));
          if (flags & 0x20) p = p.subarray(5);
          blocks.push(Buffer.from(p));
        }
        buf = buf.subarray(9 + len);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  for (const h of requests) {
    const req = client.request(h, { endStream: true });
    req.on('error', () => undefined);
  }
  const deadline = Date.now() + 5000;
  while (blocks.length < requests.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  client.destroy();
  sock?.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return blocks;
}

test("the decoder reads nghttp2's blocks: Huffman strings, dynamic table entries reused across requests", async () => {
  const p = new Prng(5);
  const requests: Record<string, string>[] = [];
  for (let i = 0; i < 40; i++) {
    const h: Record<string, string> = {
      ':method': 'POST',
      ':path': `/etcdserverpb.KV/${['Put', 'Range', 'Txn'][i % 3]}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'grpc-node-js/1.14.7',
    };
    // Values that vary (new literals) and that repeat (table hits), printable ASCII.
    h['x-varying'] = String.fromCharCode(...Array.from({ length: 1 + p.int(60) }, () => 32 + p.int(95))).trim() || 'v';
    h[`x-key-${i % 4}`] = `value-${i % 4}`;
    requests.push(h);
  }
  const blocks = await captureBlocks(requests);
  assert.equal(blocks.length, requests.length);
  const d = new HpackDecoder();
  blocks.forEach((b, i) => {
    const got = d.decode(b) as Record<string, string>;
    const want = requests[i] as Record<string, string>;
    for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, `request ${i}: ${k}`);
    assert.equal(got[':scheme'], 'http');
  });
});

test('decodeShared hands out a block decoded before only while the table is as it left it', () => {
  const d = new HpackDecoder();
  const literal = encodeHeaderBlock([
    [':path', '/etcdserverpb.KV/Put'],
    ['te', 'trailers'],
  ]);
  const a = d.decodeShared(literal);
  assert.deepEqual(a, { ':path': '/etcdserverpb.KV/Put', te: 'trailers' });
  assert.equal(d.decodeShared(literal), a, 'the same bytes again: the same fields');
  assert.ok(Object.isFrozen(a), 'shared fields cannot be changed by one stream for the next');
  // A block that refers to the dynamic table: its meaning changes with the table.
  const insertX = hex('40 01 78 01 31'); // literal with incremental indexing, new name "x": "1"
  const insertY = hex('40 01 79 01 32'); // the same for "y": "2", which becomes index 62
  const index62 = hex('be');
  assert.deepEqual(d.decodeShared(insertX), { x: '1' });
  assert.deepEqual(d.decodeShared(index62), { x: '1' });
  assert.deepEqual(d.decodeShared(index62), { x: '1' });
  assert.deepEqual(d.decodeShared(insertY), { y: '2' });
  assert.deepEqual(d.decodeShared(index62), { y: '2' }, 'decoded again after the table changed');
  // A block that inserts is never served from memory: the table must take its insertion again.
  assert.deepEqual(d.decodeShared(insertX), { x: '1' });
  assert.deepEqual(d.decodeShared(insertX), { x: '1' }, 'the same inserting block again');
  assert.deepEqual(d.decodeShared(hex('bf')), { x: '1' }, 'index 63 is the first of the two insertions');
  assert.deepEqual(d.decodeShared(hex('c0')), { y: '2' });
  // A table change through decode() is seen too.
  assert.deepEqual(d.decodeShared(index62), { x: '1' });
  d.decode(insertY);
  assert.deepEqual(d.decodeShared(index62), { y: '2' });
});
