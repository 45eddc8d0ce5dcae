// The hand-written Batch codec against the schema-driven one (protobufjs on proto/raft/raft.proto):
// each decodes what the other encodes, for random messages and for the edges of the number range.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../common/prng.js';
import { MessageType, type Entry, type Message } from '../core/types.js';
import { BatchDecodeError, decodeBatch, encodeBatch } from './raft-batch-codec.js';
import { decodeBatchProto, encodeBatchProto } from './raft-codec.js';

const NUMBERS = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1];

function num(p: Prng): number {
  return p.chance(0.3) ? (NUMBERS[p.int(NUMBERS.length)] as number) : p.int(1_000_000);
}

function bytes(p: Prng, max: number): Uint8Array {
  const b = new Uint8Array(p.int(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = p.int(256);
  return b;
}

function randomMessage(p: Prng): Message {
  const entries: Entry[] = [];
  const n = p.chance(0.5) ? p.int(5) : 0;
  for (let i = 0; i < n; i++) entries.push({ term: num(p), index: num(p), type: p.int(2), data: bytes(p, 300) });
  const m: Message = {
    type: [MessageType.App, MessageType.AppResp, MessageType.Heartbeat, MessageType.Vote, MessageType.Snap, MessageType.ReadIndex][p.int(6)] as MessageType,
    to: num(p),
    from: num(p),
    term: num(p),
    logTerm: num(p),
    index: num(p),
    entries,
    commit: num(p),
    reject: p.chance(0.3),
    rejectHint: num(p),
  };
  if (p.chance(0.2)) {
    const voters = Array.from({ length: p.int(4) }, () => num(p));
    const learners = Array.from({ length: p.int(3) }, () => num(p));
    m.snapshot = { metadata: { index: num(p), term: num(p), confState: { voters, learners } }, data: new Uint8Array(0) };
  }
  if (p.chance(0.3)) {
    const c = bytes(p, 16);
    if (c.length > 0) m.context = c;
  }
  return m;
}

/** Buffers compared by content (decoders hand out views of their input). */
function plain(msgs: Message[]): unknown {
  return msgs.map((m) => ({
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: Buffer.from(e.data).toString('hex') })),
    ...(m.context ? { context: Buffer.from(m.context).toString('hex') } : {}),
    ...(m.snapshot ? { snapshot: { metadata: m.snapshot.metadata, data: '' } } : {}),
  }));
}

test('the hand-written codec and protobufjs read each other, for random batches', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const p = new Prng(seed);
    const msgs = Array.from({ length: p.int(6) }, () => randomMessage(p));
    const want = plain(msgs);
    assert.deepEqual(plain(decodeBatchProto(encodeBatch(msgs))), want, `seed ${seed}: protobufjs reading ours`);
    assert.deepEqual(plain(decodeBatch(encodeBatchProto(msgs))), want, `seed ${seed}: ours reading protobufjs`);
    assert.deepEqual(plain(decodeBatch(encodeBatch(msgs))), want, `seed ${seed}: ours round trip`);
  }
});

test('unknown fields are skipped; damaged input is an error, not a wrong message', () => {
  const m: Message = { type: MessageType.App, to: 2, from: 1, term: 3, logTerm: 3, index: 9, entries: [{ term: 3, index: 10, type: 0, data: Buffer.from('x') }], commit: 8, reject: false, rejectHint: 0 };
  const enc = encodeBatch([m]);
  // A field 15 varint (tag 120) and a field 14 length-delimited (tag 114) before the message.
  const withUnknown = Buffer.concat([Buffer.from([120, 5, 114, 2, 0xaa, 0xbb]), enc]);
  assert.deepEqual(plain(decodeBatch(withUnknown)), plain([m]));
  assert.throws(() => decodeBatch(enc.subarray(0, enc.length - 1)), BatchDecodeError);
  assert.throws(() => decodeBatch(Buffer.from([0x0a, 0x05, 0x08])), BatchDecodeError);
});
