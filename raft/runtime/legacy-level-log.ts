// The Raft log as earlier releases kept it: a LevelDB database (classic-level) with keys
// "m/hard", "m/snap", "m/compacted", "m/identity" and "e/<16 hex digits of index>", each value a
// checksummed record (record-codec.ts). Only read, once, to move such a log into the WAL
// (log-store.ts); nothing writes this format any more.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '../core/types.js';
import { CorruptRecordError, decodeEntryRecord, decodeRecord } from './record-codec.js';
import type { LogIdentity, LogPosition } from './wal-frame.js';

export interface LegacyLog {
  identity: LogIdentity | undefined;
  hardState: HardState | undefined;
  snapshot: SnapshotMetadata | undefined;
  compacted: LogPosition;
  /** Entries after the compaction point, contiguous. */
  entries: Entry[];
}

interface SnapRecord {
  index: number;
  term: number;
  voters: number[];
  learners: number[];
}

const ENTRY_PREFIX = 'e/';
const entryKey = (i: number): string => ENTRY_PREFIX + i.toString(16).padStart(16, '0');

/** Whether `dir` holds a LevelDB database (an earlier release's log). */
export function isLegacyLevelLog(dir: string): boolean {
  return existsSync(join(dir, 'CURRENT'));
}

/** Reads a legacy log; damage is reported as an Error naming the key. */
export async function readLegacyLevelLog(dir: string): Promise<LegacyLog> {
  const db = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  try {
    const get = async <T>(key: string): Promise<T | undefined> => {
      const v = await db.get(key);
      return v === undefined ? undefined : decodeRecord<T>(v, `${dir} key ${key}`);
    };
    const hardState = await get<HardState>('m/hard');
    const snap = await get<SnapRecord>('m/snap');
    const compacted = (await get<LogPosition>('m/compacted')) ?? { index: 0, term: 0 };
    const identity = await get<LogIdentity>('m/identity');
    const entries: Entry[] = [];
    let expect = compacted.index + 1;
    for await (const [key, value] of db.iterator({ gte: entryKey(expect), lt: 'e0' })) {
      const index = parseInt(key.slice(ENTRY_PREFIX.length), 16);
      if (index !== expect) throw new CorruptRecordError(`entry ${expect} is missing (next stored entry is ${index})`);
      const r = decodeEntryRecord(value, `entry ${index}`);
      // Copied: the iterator's buffers are not ours to keep.
      entries.push({ term: r.t, index, type: r.y as EntryType, data: Buffer.from(r.d) });
      expect++;
    }
    const cs: ConfState = { voters: snap?.voters ?? [], learners: snap?.learners ?? [] };
    const snapshot = snap ? { index: snap.index, term: snap.term, confState: cs } : undefined;
    return { identity, hardState, snapshot, compacted, entries };
  } finally {
    await db.close();
  }
}
