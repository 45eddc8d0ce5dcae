// The Raft log's WAL: the frame codec against protobufjs on proto/raft/wal.proto, and the
// segment files as a crash leaves them (cut short, torn sectors, damaged bytes, missing files).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { makeTempDir } from '../../common/temp-dir.js';
import { packageRoot } from '../../common/package-root.js';
import { Prng } from '../../common/prng.js';
import { EntryType, type Entry } from '../core/types.js';
import { Wal } from './wal.js';
import { decodePayload, encodeFrame, encodePayload, FRAME_HEADER_BYTES, type LogFrame } from './wal-frame.js';
import { listSegments } from './wal-reader.js';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(s) });
const range = (lo: number, hi: number, term: number, size = 0): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => (size > 0 ? { ...ent(lo + i, term), data: Buffer.alloc(size, (lo + i) % 251) } : ent(lo + i, term)));

function walType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(packageRoot(), 'proto', 'raft', target.replace(/^.*\//, ''));
  root.loadSync('wal.proto');
  return root.lookupType('keelson.raft.wal.LogFrame');
}

const NUMBERS = [0, 1, 127, 128, 16384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];

function randomFrame(p: Prng): LogFrame {
  const n = (): number => (p.chance(0.3) ? (NUMBERS[p.int(NUMBERS.length)] as number) : p.int(1_000_000));
  const f: LogFrame = {};
  if (p.chance(0.3)) f.identity = { clusterId: p.chance(0.8) ? `c-${p.int(1000)}` : '', memberId: n(), name: p.chance(0.5) ? 'm1é' : '' };
  if (p.chance(0.2)) f.reset = true;
  if (p.chance(0.3)) f.snapshot = { index: n(), term: n(), confState: { voters: Array.from({ length: p.int(4) }, n), learners: Array.from({ length: p.int(2) }, n) } };
  if (p.chance(0.3)) f.compacted = { index: n(), term: n() };
  if (p.chance(0.7)) {
    const first = Math.min(n(), 2 ** 53 - 10);
    f.entries = Array.from({ length: 1 + p.int(5) }, (_, i) => ({ index: first + i, term: n(), type: p.int(2), data: Buffer.from(Array.from({ length: p.int(40) }, () => p.int(256))) }));
  }
  if (p.chance(0.6) || Object.keys(f).length === 0) f.hardState = { term: n(), vote: n(), commit: n() };
  return f;
}

/** The frame as protobufjs sees it, in the shape decodePayload returns. */
function viaProtobufjs(T: protobuf.Type, bytes: Uint8Array): LogFrame {
  const o = T.toObject(T.decode(bytes), { longs: Number, defaults: false, arrays: false }) as Record<string, any>;
  const f: LogFrame = {};
  if (o['identity']) f.identity = { clusterId: o['identity'].clusterId ?? '', memberId: o['identity'].memberId ?? 0, name: o['identity'].name ?? '' };
  if (o['reset']) f.reset = true;
  if (o['snapshot']) {
    const s = o['snapshot'];
    f.snapshot = { index: s.index ?? 0, term: s.term ?? 0, confState: { voters: s.confState?.voters ?? [], learners: s.confState?.learners ?? [] } };
  }
  if (o['compacted']) f.compacted = { index: o['compacted'].index ?? 0, term: o['compacted'].term ?? 0 };
  if (o['entries']) f.entries = o['entries'].map((e: any) => ({ index: e.index ?? 0, term: e.term ?? 0, type: e.type ?? 0, data: Buffer.from(e.data ?? []) }));
  if (o['hardState']) f.hardState = { term: o['hardState'].term ?? 0, vote: o['hardState'].vote ?? 0, commit: o['hardState'].commit ?? 0 };
  return f;
}

function normal(f: LogFrame): LogFrame {
  const out = { ...f };
  if (out.entries) out.entries = out.entries.map((e) => ({ ...e, data: Buffer.from(e.data) }));
  return out;
}

test('log frames: the hand codec and protobufjs read each other, for random frames and the edges of the number range', () => {
  const T = walType();
  const p = new Prng(7);
  for (let i = 0; i < 500; i++) {
    const f = randomFrame(p);
    const mine = encodePayload(f);
    assert.deepEqual(normal(viaProtobufjs(T, mine)), normal(f), `frame ${i}: protobufjs reads ours`);
    // (Not byte for byte: protobufjs also writes zero values that are set, which proto3 leaves out.)
    const theirs = T.encode(T.fromObject({ ...f, entries: f.entries?.map((e) => ({ ...e })) })).finish();
    assert.deepEqual(normal(decodePayload(theirs)), normal(f), `frame ${i}: we read protobufjs'`);
  }
});

test('a frame only verifies where it was written: a copy inside entry data is not taken for one', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir);
  await wal.append({ entries: range(1, 3, 1), hardState: { term: 1, vote: 1, commit: 0 } });
  // A frame as it would be at the start of segment 0, copied at every alignment into a value.
  const forged = encodeFrame({ entries: [ent(4, 9, 'forged')] }, 0, 0);
  const copies = Buffer.concat(Array.from({ length: 8 }, (_, i) => Buffer.concat([Buffer.alloc(i + 1, 0xee), forged])));
  await wal.append({ entries: [{ index: 4, term: 1, type: EntryType.Normal, data: copies }] });
  await wal.close();
  // Cut the last frame short: the reader then looks for valid frames after it, and must find none.
  const seg = await lastSegment(dir);
  await fsp.truncate(seg, (await dataEnd(seg)) - 20);
  const { wal: w2, log, torn } = await Wal.open(dir);
  t.after(() => w2.close());
  assert.ok(torn);
  assert.deepEqual(
    log.entries.map((e) => [e.index, e.term]),
    [
      [1, 1],
      [2, 1],
      [3, 1],
    ],
  );
});

/** The end of the written frames of a segment file (its zero-filled part follows). */
async function dataEnd(path: string): Promise<number> {
  const buf = await fsp.readFile(path);
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end + ((8 - (end % 8)) % 8);
}

async function lastSegment(dir: string): Promise<string> {
  const segs = await listSegments(dir);
  return (segs[segs.length - 1] as { path: string }).path;
}

test('segments are zero-filled ahead of the writer and rolled over; every frame is read back in order', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir, { segmentBytes: 64 * 1024 });
  await wal.append({ identity: { clusterId: 'c', memberId: 5, name: 'm5' } });
  let index = 1;
  let commit = 0;
  // ~600 KB in frames of 1-20 entries of 300 bytes: nine or more segments.
  const p = new Prng(3);
  while (index < 2000) {
    const n = 1 + p.int(20);
    commit = index - 1;
    await wal.append({ entries: range(index, index + n - 1, 2, 300), hardState: { term: 2, vote: 5, commit } });
    index += n;
  }
  await wal.settled();
  const segs = wal.segmentPaths();
  assert.ok(segs.length >= 9, `${segs.length} segments`);
  await wal.close();
  const { wal: w2, log } = await Wal.open(dir, { segmentBytes: 64 * 1024 });
  t.after(() => w2.close());
  assert.equal(log.entries.length, index - 1);
  log.entries.forEach((e, i) => {
    assert.equal(e.index, i + 1);
    assert.equal(Buffer.from(e.data).subarray(0, 1)[0], (i + 1) % 251);
  });
  assert.deepEqual(log.identity, { clusterId: 'c', memberId: 5, name: 'm5' });
  assert.equal(log.hardState?.commit, commit);
  // Every segment after the first starts with the log's state.
  for (const path of segs.slice(1)) {
    const buf = await fsp.readFile(path);
    const len = buf.readUInt32LE(0);
    const head = decodePayload(buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len));
    assert.deepEqual(head.identity, { clusterId: 'c', memberId: 5, name: 'm5' }, path);
    assert.ok(head.hardState, path);
    assert.equal(head.entries, undefined, path);
  }
});

test('a last frame cut short is dropped, and new frames follow the ones before it', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir);
  await wal.append({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 } });
  await wal.append({ entries: range(6, 8, 1, 2000) });
  await wal.close();
  const seg = await lastSegment(dir);
  await fsp.truncate(seg, (await dataEnd(seg)) - 700);
  const { wal: w2, log, torn } = await Wal.open(dir);
  assert.ok(torn, 'reported as torn');
  assert.match(torn.reason, /runs past the end/);
  assert.equal(log.entries.length, 5);
  await w2.append({ entries: [ent(6, 2, 'again')] });
  await w2.close();
  const { wal: w3, log: l3, torn: t3 } = await Wal.open(dir);
  t.after(() => w3.close());
  assert.equal(t3, undefined);
  assert.deepEqual(
    l3.entries.map((e) => [e.index, e.term]),
    [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 1],
      [6, 2],
    ],
  );
});

test('a last frame with a sector that never reached the disk is torn; a last frame with flipped bits is damage', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  for (const how of ['zero-sector', 'flipped'] as const) {
    const dir = join(tmp.path, how);
    const { wal } = await Wal.open(dir);
    await wal.append({ entries: range(1, 2, 1), hardState: { term: 1, vote: 1, commit: 2 } });
    await wal.append({ entries: range(3, 4, 1, 3000) });
    await wal.close();
    const seg = await lastSegment(dir);
    const h = await fsp.open(seg, 'r+');
    const end = await dataEnd(seg);
    if (how === 'zero-sector') await h.write(Buffer.alloc(512), 0, 512, 4096);
    else await h.write(Buffer.from([0x5a]), 0, 1, end - 1500);
    await h.close();
    if (how === 'zero-sector') {
      const { wal: w2, log, torn } = await Wal.open(dir);
      await w2.close();
      assert.match(torn?.reason ?? '', /checksum mismatch/);
      assert.equal(log.entries.length, 2);
    } else {
      await assert.rejects(Wal.open(dir), /frame at offset \d+: checksum mismatch/);
    }
  }
});

test('a damaged frame followed by valid ones is damage, in any segment', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir);
  for (let i = 1; i <= 5; i++) await wal.append({ entries: [ent(i, 1)], hardState: { term: 1, vote: 1, commit: i - 1 } });
  await wal.close();
  const seg = await lastSegment(dir);
  const buf = await fsp.readFile(seg);
  buf[FRAME_HEADER_BYTES + 3] = (buf[FRAME_HEADER_BYTES + 3] as number) ^ 0xff;
  await fsp.writeFile(seg, buf);
  await assert.rejects(Wal.open(dir), (e: Error) => {
    assert.match(e.message, new RegExp(`segment ${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, frame at offset 0: checksum mismatch`));
    return true;
  });
});

test('a missing segment in the middle refuses the log', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir, { segmentBytes: 8192 });
  for (let i = 1; i <= 40; i++) await wal.append({ entries: [{ ...ent(i, 1), data: Buffer.alloc(1000, 1) }] });
  const segs = wal.segmentPaths();
  await wal.close();
  assert.ok(segs.length >= 3);
  await fsp.rm(segs[1] as string);
  await assert.rejects(Wal.open(dir, { segmentBytes: 8192 }), /segment 1 is missing/);
});

test('releaseTo deletes the oldest segments once all their entries are compacted, never the current one', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir, { segmentBytes: 8192 });
  for (let i = 1; i <= 60; i++) await wal.append({ entries: [{ ...ent(i, 1), data: Buffer.alloc(1000, 1) }], hardState: { term: 1, vote: 1, commit: i } });
  const before = wal.segmentPaths().length;
  await wal.append({ compacted: { index: 50, term: 1 }, snapshot: { index: 55, term: 1, confState: { voters: [1], learners: [] } } });
  wal.releaseTo(50);
  await wal.settled();
  const after = wal.segmentPaths();
  assert.ok(after.length < before && after.length >= 2, `${before} -> ${after.length} segments`);
  assert.deepEqual((await listSegments(dir)).map((s) => s.path), after);
  await wal.close();
  const { wal: w2, log } = await Wal.open(dir, { segmentBytes: 8192 });
  t.after(() => w2.close());
  assert.deepEqual(log.compacted, { index: 50, term: 1 });
  assert.equal(log.snapshot?.index, 55);
  assert.deepEqual(log.live().map((e) => e.index), range(51, 60, 1).map((e) => e.index));
  assert.equal(log.firstMissing(), undefined);
  assert.equal(log.hardState?.commit, 60);
});

test('appends never overlap and a closed log refuses them', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const { wal } = await Wal.open(join(tmp.path, 'wal'));
  const a = wal.append({ entries: [ent(1, 1)] });
  await assert.rejects(wal.append({ entries: [ent(2, 1)] }), /must not overlap/);
  await a;
  await wal.close();
  await assert.rejects(wal.append({ entries: [ent(2, 1)] }), /closed/);
});
