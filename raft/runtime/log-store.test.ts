import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { makeTempDir } from '../../common/temp-dir.js';
import { EntryType, type Entry } from '../core/types.js';
import { CorruptLogError, RaftLogStore } from './log-store.js';
import { encodeEntryRecord, encodeRecord } from './record-codec.js';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(s) });
const range = (lo: number, hi: number, term: number): Entry[] => Array.from({ length: hi - lo + 1 }, (_, i) => ent(lo + i, term));

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

async function storedEntryIndexes(dir: string): Promise<number[]> {
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  const out: number[] = [];
  for await (const k of db.keys({ gte: 'e/', lt: 'e0' })) out.push(parseInt(k.slice(2), 16));
  await db.close();
  return out;
}

test('compaction deletes the dropped entries in the background; leftovers of a crash are skipped, then deleted', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const cs = { voters: [1, 2, 3], learners: [] };
  let s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 100, 3), hardState: { term: 3, vote: 1, commit: 100 }, sync: true });
  await s.snapshotAndCompact(90, cs, 80);
  await s.settled();
  assert.equal(s.cleanUpError, undefined);
  await s.close();
  const left = await storedEntryIndexes(dir);
  assert.equal(left[0], 81, 'entries up to the compaction point are deleted');
  assert.equal(left.length, 20);
  // A crash between writing the compaction point and the clean-up leaves old entries behind.
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  for (let i = 1; i <= 5; i++) await db.put(`e/${i.toString(16).padStart(16, '0')}`, encodeEntryRecord(1, EntryType.Normal, Buffer.from('stale')));
  await db.close();
  s = await RaftLogStore.open(dir);
  assert.equal(s.memory.firstIndex(), 81, 'leftovers below the compaction point are not read');
  await s.save({ entries: range(101, 200, 3), hardState: { term: 3, vote: 1, commit: 200 }, sync: true });
  await s.snapshotAndCompact(190, cs, 150);
  await s.settled();
  await s.close();
  const after = await storedEntryIndexes(dir);
  assert.equal(after[0], 151, 'the next compaction deletes the leftovers too');
  assert.equal(after.length, 50);
});

test('an installed snapshot replaces the whole log, on disk too', async (t) => {
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
  assert.equal(s.memory.firstIndex(), 51);
  assert.equal(s.memory.lastIndex(), 51);
  assert.equal(s.memory.term(50), 4);
  assert.deepEqual(s.memory.initialState().confState.learners, [4]);
  await s.close();
  // No entry of the replaced log is left behind.
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  const keys: string[] = [];
  for await (const k of db.keys({ gte: 'e/', lt: 'e0' })) keys.push(k);
  await db.close();
  assert.equal(keys.length, 1);
});

test('a damaged record stops the open with a message naming the folder and the entry', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 }, sync: true });
  await s.close();
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  const key = `e/${(3).toString(16).padStart(16, '0')}`;
  const v = Buffer.from((await db.get(key)) as Buffer);
  v[v.length - 1] ^= 0xff;
  await db.put(key, v);
  await db.close();
  await assert.rejects(RaftLogStore.open(dir), (e: Error) => {
    assert.ok(e instanceof CorruptLogError);
    assert.match(e.message, /raft log .*wal/);
    assert.match(e.message, /entry 3: checksum mismatch/);
    return true;
  });
});

test('entries written in the earlier record format (msgpack, version 1) are still read', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 2, 1), hardState: { term: 1, vote: 1, commit: 2 }, sync: true });
  await s.close();
  // Entries 3 and 4 as the previous release wrote them, after two of the current format.
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  for (const i of [3, 4]) await db.put(`e/${i.toString(16).padStart(16, '0')}`, encodeRecord({ t: 2, y: EntryType.Normal, d: Buffer.from(`old${i}`) }));
  await db.close();
  const r = await RaftLogStore.open(dir);
  t.after(() => r.close());
  const got = r.memory.entries(1, 5, Infinity);
  assert.deepEqual(
    got.map((e) => [e.index, e.term, Buffer.from(e.data).toString()]),
    [
      [1, 1, 'e1'],
      [2, 1, 'e2'],
      [3, 2, 'old3'],
      [4, 2, 'old4'],
    ],
  );
});

test('a hard state committing past the end of the log (lost acknowledged entries) refuses to start', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 }, sync: true });
  await s.close();
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  await db.del(`e/${(5).toString(16).padStart(16, '0')}`);
  await db.close();
  await assert.rejects(RaftLogStore.open(dir), /committed but the log ends at 4/);
});

test('a gap in the log refuses to start', async (t) => {
  const tmp = await makeTempDir();
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'wal');
  const s = await RaftLogStore.open(dir);
  await s.save({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 2 }, sync: true });
  await s.close();
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  await db.del(`e/${(3).toString(16).padStart(16, '0')}`);
  await db.close();
  await assert.rejects(RaftLogStore.open(dir), /entry 3 is missing/);
});
