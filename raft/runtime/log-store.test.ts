import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { makeTempDir } from '../../common/temp-dir.js';
import { EntryType, type Entry } from '../core/types.js';
import { CorruptLogError, RaftLogStore } from './log-store.js';
import { encodeEntryRecord, encodeRecord } from './record-codec.js';
import { Wal } from './wal.js';
import { FRAME_HEADER_BYTES } from './wal-frame.js';
import { listSegments, readWal } from './wal-reader.js';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(s) });
const range = (lo: number, hi: number, term: number, size = 0): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => (size > 0 ? { ...ent(lo + i, term), data: Buffer.alloc(size, 7) } : ent(lo + i, term)));
const summary = (s: RaftLogStore): [number, number, string][] =>
  s.memory.entries(s.memory.firstIndex(), s.memory.lastIndex() + 1, Infinity).map((e) => [e.index, e.term, Buffer.from(e.data).toString()]);

test('entries and hard state survive a reopen; a conflicting suffix is replaced atomically', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  let s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 10, 1), hardState: { term: 1, vote: 2, commit: 5 }, sync: true });
  // A new leader overwrites 7.. with entries of term 2; 9 and 10 must disappear.
  await s.save({ entries: [ent(7, 2, 'x7'), ent(8, 2, 'x8')], hardState: { term: 2, vote: 3, commit: 6 }, sync: true });
  await s.close();
  s = await RaftLogStore.open(dir);
  assert.equal(s.memory.lastIndex(), 8);
  assert.equal(s.memory.term(7), 2);
  assert.equal(Buffer.from((s.memory.entries(8, 9, Infinity)[0] as Entry).data).toString(), 'x8');
  assert.deepEqual(s.memory.getHardState(), { term: 2, vote: 3, commit: 6 });
  await s.close();
});

test('snapshot and compaction: reopening starts at the compaction point with the snapshot recorded', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  let s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 100, 3), hardState: { term: 3, vote: 1, commit: 100 }, sync: true });
  await s.snapshotAndCompact(90, { voters: [1, 2, 3], learners: [] }, 80);
  assert.equal(s.memory.firstIndex(), 81);
  await s.close();
  s = await RaftLogStore.open(dir);
  assert.equal(s.memory.firstIndex(), 81);
  assert.equal(s.memory.lastIndex(), 100);
  assert.equal(s.memory.snapshot().metadata.index, 90);
  assert.deepEqual(s.memory.snapshot().metadata.confState.voters, [1, 2, 3]);
  assert.deepEqual(s.memory.initialState().confState.voters, [1, 2, 3]);
  await s.close();
});

test('compaction deletes segments whose entries are all dropped; a segment left behind by a crash is skipped, then deleted', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const o = { segmentBytes: 16 * 1024 };
  const cs = { voters: [1, 2, 3], learners: [] };
  let s = await RaftLogStore.open(dir, o);
  for (let i = 1; i <= 100; i += 5) await s.save({ entries: range(i, i + 4, 3, 500), hardState: { term: 3, vote: 1, commit: i + 4 }, sync: true });
  const before = await listSegments(dir);
  assert.ok(before.length >= 3, `${before.length} segments`);
  const backups = new Map(await Promise.all(before.map(async (x) => [x.path, await fsp.readFile(x.path)] as const)));
  await s.snapshotAndCompact(90, cs, 80);
  await s.settled();
  assert.equal(s.cleanUpError, undefined);
  const after = await listSegments(dir);
  assert.ok(after.length < before.length, `${before.length} -> ${after.length} segments`);
  assert.ok(!existsSync((before[0] as { path: string }).path), 'the oldest segment is deleted');
  await s.close();
  // A crash before the deletion reached the disk: the newest deleted segment is back.
  const revived = before.find((x) => x.seq === (after[0] as { seq: number }).seq - 1) as { path: string };
  await fsp.writeFile(revived.path, backups.get(revived.path) as Buffer);
  s = await RaftLogStore.open(dir, o);
  assert.equal(s.memory.firstIndex(), 81, 'entries below the compaction point are not read');
  assert.equal(s.memory.lastIndex(), 100);
  for (let i = 101; i <= 200; i += 5) await s.save({ entries: range(i, i + 4, 3, 500), hardState: { term: 3, vote: 1, commit: i + 4 }, sync: true });
  await s.snapshotAndCompact(190, cs, 150);
  await s.settled();
  await s.close();
  assert.ok(!existsSync(revived.path), 'the next compaction deletes it too');
  s = await RaftLogStore.open(dir, o);
  t.after(() => s.close());
  assert.equal(s.memory.firstIndex(), 151);
  assert.equal(s.memory.lastIndex(), 200);
});

test('an installed snapshot replaces the whole log', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  let s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 20, 1), hardState: { term: 1, vote: 1, commit: 10 }, sync: true });
  await s.save({
    snapshot: { index: 50, term: 4, confState: { voters: [1, 2, 3], learners: [4] } },
    entries: [ent(51, 4)],
    hardState: { term: 4, vote: 0, commit: 50 },
    sync: true,
  });
  await s.close();
  s = await RaftLogStore.open(dir);
  t.after(() => s.close());
  assert.equal(s.memory.firstIndex(), 51);
  assert.equal(s.memory.lastIndex(), 51);
  assert.equal(s.memory.term(50), 4);
  assert.deepEqual(s.memory.initialState().confState.learners, [4]);
  assert.deepEqual(summary(s), [[51, 4, 'e51']]);
});

test('a damaged frame stops the open with a message naming the folder, the segment and the problem', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const s = await RaftLogStore.open(dir);
  for (let i = 1; i <= 5; i++) await s.save({ entries: [ent(i, 1)], hardState: { term: 1, vote: 1, commit: i - 1 }, sync: true });
  await s.close();
  const [seg] = await listSegments(dir);
  const buf = await fsp.readFile((seg as { path: string }).path);
  buf[FRAME_HEADER_BYTES + 2] = (buf[FRAME_HEADER_BYTES + 2] as number) ^ 0xff;
  await fsp.writeFile((seg as { path: string }).path, buf);
  await assert.rejects(RaftLogStore.open(dir), (e: Error) => {
    assert.ok(e instanceof CorruptLogError);
    assert.match(e.message, /raft log .*wal: segment .*\.wal, frame at offset 0: checksum mismatch/);
    assert.match(e.message, /refusing to start from a damaged log/);
    return true;
  });
});

test('a hard state committing past the end of the log (lost acknowledged entries) refuses to start', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir);
  await wal.append({ entries: range(1, 4, 1) });
  await wal.append({ hardState: { term: 1, vote: 1, commit: 5 } });
  await wal.close();
  await assert.rejects(RaftLogStore.open(dir), /committed but the log ends at 4/);
});

test('a gap in the log refuses to start', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const { wal } = await Wal.open(dir);
  await wal.append({ entries: range(1, 2, 1) });
  await wal.append({ entries: range(4, 5, 1), hardState: { term: 1, vote: 1, commit: 2 } });
  await wal.close();
  await assert.rejects(RaftLogStore.open(dir), /entry 3 is missing \(next stored entry is 4\)/);
});

/** A raft log as an earlier release wrote it (LevelDB), with entries in both of its record formats. */
async function writeLegacyLog(dir: string): Promise<void> {
  const db = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  const key = (i: number): string => `e/${i.toString(16).padStart(16, '0')}`;
  await db.put('m/identity', encodeRecord({ clusterId: 'legacy', memberId: 7, name: 'm7' }));
  await db.put('m/hard', encodeRecord({ term: 3, vote: 7, commit: 14 }));
  await db.put('m/snap', encodeRecord({ index: 12, term: 2, voters: [7, 8, 9], learners: [] }));
  await db.put('m/compacted', encodeRecord({ index: 10, term: 2 }));
  for (let i = 11; i <= 13; i++) await db.put(key(i), encodeEntryRecord(2, EntryType.Normal, Buffer.from(`v2-${i}`)));
  // Version 1 entry records (msgpack) were still read by the release before.
  for (let i = 14; i <= 15; i++) await db.put(key(i), encodeRecord({ t: 3, y: EntryType.Normal, d: Buffer.from(`v1-${i}`) }));
  await db.close();
}

function assertLegacyContents(s: RaftLogStore): void {
  assert.deepEqual(s.identity(), { clusterId: 'legacy', memberId: 7, name: 'm7' });
  assert.deepEqual(s.memory.getHardState(), { term: 3, vote: 7, commit: 14 });
  assert.equal(s.memory.firstIndex(), 11);
  assert.equal(s.memory.snapshot().metadata.index, 12);
  assert.deepEqual(s.memory.snapshot().metadata.confState.voters, [7, 8, 9]);
  assert.deepEqual(summary(s), [
    [11, 2, 'v2-11'],
    [12, 2, 'v2-12'],
    [13, 2, 'v2-13'],
    [14, 3, 'v1-14'],
    [15, 3, 'v1-15'],
  ]);
}

test('a LevelDB log of an earlier release is moved into the WAL with everything in it', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  await writeLegacyLog(dir);
  let s = await RaftLogStore.open(dir);
  assertLegacyContents(s);
  await s.save({ entries: [ent(16, 3)], hardState: { term: 3, vote: 7, commit: 15 }, sync: true });
  await s.close();
  assert.ok(!existsSync(join(dir, 'CURRENT')), 'no LevelDB files left in the log folder');
  assert.ok(!existsSync(`${dir}.leveldb`) && !existsSync(`${dir}.migrating`));
  s = await RaftLogStore.open(dir);
  t.after(() => s.close());
  assert.equal(s.memory.lastIndex(), 16);
});

test('moving a LevelDB log finishes or starts over after a crash at any step', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  // Crash after the new log was complete and the old one renamed away, before the new one took its place.
  const a = join(tmp.path, 'a', 'wal');
  await writeLegacyLog(a);
  let s = await RaftLogStore.open(a);
  await s.close();
  await fsp.rename(a, `${a}.migrating`);
  await writeLegacyLog(`${a}.leveldb`);
  s = await RaftLogStore.open(a);
  assertLegacyContents(s);
  await s.close();
  assert.ok(!existsSync(`${a}.leveldb`) && !existsSync(`${a}.migrating`));
  // Crash while the new log was being written: it is thrown away and written again.
  const b = join(tmp.path, 'b', 'wal');
  await writeLegacyLog(b);
  await fsp.mkdir(`${b}.migrating`, { recursive: true });
  await fsp.writeFile(join(`${b}.migrating`, '0000000000000000-0000000000000000.wal'), Buffer.from('half a frame'));
  s = await RaftLogStore.open(b);
  assertLegacyContents(s);
  await s.close();
  // Crash right after the old log was renamed away, before anything else: it is put back and moved.
  const c = join(tmp.path, 'c', 'wal');
  await writeLegacyLog(`${c}.leveldb`);
  s = await RaftLogStore.open(c);
  t.after(() => s.close());
  assertLegacyContents(s);
});

test('a small frame of a few entries is written by the time save() returns; a big one, or one of many entries, goes on in the background', async (t) => {
  // The runtime relies on this to send a Ready's acknowledgements before it applies (raft-runtime.ts).
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const s = await RaftLogStore.open(dir);
  t.after(() => s.close());
  // (A fresh log is zero-filling its first chunk, which a write must wait for: let it finish.)
  await s.settled();
  const small = s.save({ entries: range(1, 7, 1), hardState: { term: 1, vote: 1, commit: 0 }, sync: true });
  assert.equal(s.writing, false, 'written inside the call');
  const onDisk = await readWal(dir);
  assert.equal(onDisk.log.base + onDisk.log.entries.length - 1, 7, 'and the entries are in the file');
  await small;
  const many = s.save({ entries: range(8, 15, 1), sync: true });
  assert.equal(s.writing, true, 'a frame of 8 entries is written from the thread pool');
  await many;
  assert.equal(s.writing, false);
  const big = s.save({ entries: range(16, 16, 1, 300 * 1024), sync: true });
  assert.equal(s.writing, true, 'a frame over 256 KiB is written from the thread pool');
  await big;
  assert.equal(s.writing, false);
  assert.equal(s.memory.lastIndex(), 16);
  assert.equal((await readWal(dir)).log.entries.length, 16);
});
