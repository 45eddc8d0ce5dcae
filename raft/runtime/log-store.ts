// The durable Raft log of one member, in LevelDB (classic-level): entries, hard state, the
// latest snapshot's metadata and the compaction point, each record checksummed.
//
// Every Ready is saved as ONE batch (atomic in LevelDB), synced when the Ready says so, before
// any message that depends on it is sent. An in-memory MemoryStorage mirrors what is on disk;
// it is what the pure core reads.
//
// Keys: "m/hard", "m/snap", "m/compacted", "m/identity", "e/<16 hex digits of index>".

import { ClassicLevel } from 'classic-level';
import { MemoryStorage } from '../core/memory-storage.js';
import {
  EntryType,
  type ConfState,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from '../core/types.js';
import { CorruptRecordError, decodeEntryRecord, decodeRecord, encodeEntryRecord, encodeRecord } from './record-codec.js';

type DB = ClassicLevel<string, Buffer>;
type LevelOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

export class CorruptLogError extends Error {
  override name = 'CorruptLogError';
}

export interface LogIdentity {
  clusterId: string;
  memberId: number;
  name: string;
}

interface SnapRecord {
  index: number;
  term: number;
  voters: number[];
  learners: number[];
}

const ENTRY_PREFIX = 'e/';
function entryKey(i: number): string {
  return ENTRY_PREFIX + i.toString(16).padStart(16, '0');
}

export interface SaveRequest {
  hardState?: HardState;
  entries: readonly Entry[];
  /** A snapshot installed from the leader: replaces the whole log. */
  snapshot?: SnapshotMetadata;
  sync: boolean;
}

export class RaftLogStore {
  private cleaning: Promise<void> = Promise.resolve();
  private constructor(
    private readonly db: DB,
    readonly dir: string,
    readonly memory: MemoryStorage,
    private identityRecord: LogIdentity | undefined,
    private compacted: { index: number; term: number },
  ) {}

  /**
   * Opens (or creates) the log at `dir` and loads it into memory. A record that fails its
   * checksum, a gap in the log, or a hard state that claims more than the log holds stops
   * start-up with a CorruptLogError naming the folder and the problem.
   */
  static async open(dir: string): Promise<RaftLogStore> {
    const db: DB = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new CorruptLogError(`raft log ${dir}: cannot open the database: ${cause}`);
    }
    try {
      return await RaftLogStore.load(db, dir);
    } catch (e) {
      await db.close().catch(() => undefined);
      if (e instanceof CorruptRecordError) throw new CorruptLogError(`raft log ${dir}: ${e.message}; refusing to start from a damaged log`);
      if (e instanceof CorruptLogError) throw e;
      const cause = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new CorruptLogError(`raft log ${dir}: cannot read the database: ${cause}`);
    }
  }

  private static async load(db: DB, dir: string): Promise<RaftLogStore> {
    const get = async <T>(key: string): Promise<T | undefined> => {
      const v = await db.get(key);
      return v === undefined ? undefined : decodeRecord<T>(v, `${dir} key ${key}`);
    };
    const hard = await get<HardState>('m/hard');
    const snap = await get<SnapRecord>('m/snap');
    const compacted = (await get<{ index: number; term: number }>('m/compacted')) ?? { index: 0, term: 0 };
    const identity = await get<LogIdentity>('m/identity');

    const mem = new MemoryStorage();
    const cs: ConfState = { voters: snap?.voters ?? [], learners: snap?.learners ?? [] };
    if (compacted.index > 0) {
      mem.applySnapshot({ metadata: { index: compacted.index, term: compacted.term, confState: cs }, data: new Uint8Array(0) });
    }
    // Entries after the compaction point, contiguous.
    const ents: Entry[] = [];
    let expect = compacted.index + 1;
    let prevTerm = compacted.term;
    for await (const [key, value] of db.iterator({ gte: entryKey(expect), lt: 'e0' })) {
      const index = parseInt(key.slice(ENTRY_PREFIX.length), 16);
      if (index !== expect) throw new CorruptLogError(`raft log ${dir}: entry ${expect} is missing (next stored entry is ${index})`);
      const r = decodeEntryRecord(value, `${dir} entry ${index}`);
      if (r.t < prevTerm) throw new CorruptLogError(`raft log ${dir}: entry ${index} has term ${r.t} below the previous entry's ${prevTerm}`);
      ents.push({ term: r.t, index, type: r.y as EntryType, data: r.d });
      prevTerm = r.t;
      expect++;
    }
    mem.append(ents);
    if (snap && snap.index > compacted.index) {
      if (snap.index > mem.lastIndex()) {
        // A snapshot installed from the leader: the log restarts at it.
        mem.applySnapshot({ metadata: { index: snap.index, term: snap.term, confState: cs }, data: new Uint8Array(0) });
      } else {
        if (mem.term(snap.index) !== snap.term) {
          throw new CorruptLogError(`raft log ${dir}: snapshot at ${snap.index} has term ${snap.term} but the log has ${mem.term(snap.index)} there`);
        }
        mem.createSnapshot(snap.index, cs, new Uint8Array(0));
      }
    }
    if (hard) {
      if (hard.commit > mem.lastIndex()) {
        throw new CorruptLogError(
          `raft log ${dir}: the hard state says entries up to ${hard.commit} are committed but the log ends at ${mem.lastIndex()} (acknowledged entries are missing); refusing to start`,
        );
      }
      // The commit index is written lazily (not on every commit): it may be older than the
      // snapshot point, below which everything is committed by definition.
      mem.setHardState({ ...hard, commit: Math.max(hard.commit, mem.snapshot().metadata.index, compacted.index) });
    }
    return new RaftLogStore(db, dir, mem, identity, compacted);
  }

  identity(): LogIdentity | undefined {
    return this.identityRecord;
  }

  async setIdentity(id: LogIdentity): Promise<void> {
    await this.db.put('m/identity', encodeRecord(id), { sync: true });
    this.identityRecord = id;
  }

  /** Persists one Ready's worth of state in one batch, then mirrors it in memory. */
  async save(req: SaveRequest): Promise<void> {
    const mem = this.memory;
    const ops: LevelOp[] = [];
    if (req.snapshot) {
      // The log is replaced by the snapshot: every stored entry goes, in the same batch.
      for (let i = mem.firstIndex(); i <= mem.lastIndex(); i++) ops.push({ type: 'del', key: entryKey(i) });
      const s = req.snapshot;
      ops.push({ type: 'put', key: 'm/snap', value: encodeRecord({ index: s.index, term: s.term, voters: s.confState.voters, learners: s.confState.learners } satisfies SnapRecord) });
      ops.push({ type: 'put', key: 'm/compacted', value: encodeRecord({ index: s.index, term: s.term }) });
    }
    if (req.entries.length > 0) {
      const first = (req.entries[0] as Entry).index;
      const last = (req.entries[req.entries.length - 1] as Entry).index;
      const storedLast = req.snapshot ? req.snapshot.index : mem.lastIndex();
      // A conflicting suffix beyond the new entries is removed with them, atomically.
      for (let i = last + 1; i <= storedLast; i++) ops.push({ type: 'del', key: entryKey(i) });
      for (const e of req.entries) {
        if (e.index < first) continue;
        ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntryRecord(e.term, e.type, e.data) });
      }
    }
    if (req.hardState) ops.push({ type: 'put', key: 'm/hard', value: encodeRecord(req.hardState) });
    if (ops.length > 0) await this.write(ops, req.sync);
    if (req.snapshot) {
      mem.applySnapshot({ metadata: req.snapshot, data: new Uint8Array(0) });
      this.compacted = { index: req.snapshot.index, term: req.snapshot.term };
    }
    mem.append(req.entries);
    if (req.hardState) mem.setHardState(req.hardState);
  }

  /**
   * Writes one atomic batch. Keys and values are already in the database's formats, so while
   * the database is open this calls classic-level's own batch method (abstract-level's
   * `_batch` contract) and skips abstract-level's per-operation checks, encodings, hooks and
   * events, which cost the main thread about three times the binding call itself.
   */
  private write(ops: LevelOp[], sync: boolean): Promise<void> {
    const db = this.db as unknown as { status: string; _batch?: (ops: LevelOp[], o: { sync: boolean }) => Promise<void> };
    if (db.status === 'open' && typeof db._batch === 'function') return db._batch(ops, { sync });
    return this.db.batch(ops as never, { sync });
  }

  /**
   * Records that the state machine durably holds everything up to `index` (a snapshot point),
   * then drops log entries before `compactTo` (keeping some for slow followers). Only the new
   * compaction point is written here; the dropped entries are deleted, and their space given
   * back, in the background (clean-up()), so a compaction does not stall the Ready loop: with
   * --snapshot-count entries to delete that took the main thread hundreds of milliseconds.
   * Entries at or below the compaction point are never read again, so a crash before the
   * clean-up only leaves them for the next one.
   */
  async snapshotAndCompact(index: number, confState: ConfState, compactTo: number): Promise<void> {
    const mem = this.memory;
    if (index <= mem.snapshot().metadata.index) return;
    const term = mem.term(index);
    await this.db.put('m/snap', encodeRecord({ index, term, voters: confState.voters, learners: confState.learners } satisfies SnapRecord), { sync: true });
    mem.createSnapshot(index, confState, new Uint8Array(0));
    const to = Math.min(compactTo, index);
    if (to <= this.compacted.index) return;
    const toTerm = mem.term(to);
    await this.write([{ type: 'put', key: 'm/compacted', value: encodeRecord({ index: to, term: toTerm }) }], false);
    mem.compact(to);
    this.compacted = { index: to, term: toTerm };
    this.cleanUp(to);
  }

  /** Deletes every entry up to `to` and lets LevelDB give the space back, in the background. */
  private cleanUp(to: number): void {
    this.cleaning = this.cleaning
      .then(async () => {
        // From the first possible key: earlier clean-ups cut short by a crash are caught up.
        await this.db.clear({ gte: ENTRY_PREFIX, lte: entryKey(to) });
        await this.db.compactRange(ENTRY_PREFIX, entryKey(to));
      })
      .catch((e: unknown) => {
        // Only space is at stake; the next compaction tries again.
        this.cleanUpError = e as Error;
      });
  }

  /** The last background clean-up failure, if any (for logs and tests). */
  cleanUpError: Error | undefined;

  /** Resolves when background clean-ups started so far are done. */
  async settled(): Promise<void> {
    await this.cleaning;
  }

  async close(): Promise<void> {
    await this.cleaning;
    await this.db.close();
  }
}
