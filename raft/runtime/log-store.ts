// The durable Raft log of one member: entries, hard state, the latest snapshot's metadata, the
// compaction point and the member's identity, in a write-ahead log (wal.ts).
//
// Every Ready is saved as ONE frame, durable before any message that depends on it is sent. An
// in-memory MemoryStorage mirrors what is on disk; it is what the pure core reads.
//
// A log an earlier release kept in LevelDB (legacy-level-log.ts) is moved into a WAL the first
// time it is opened: written complete next to it, then swapped in by renames, so a crash at any
// point leaves one whole log or the other.

import { existsSync, promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { keepBytes } from '../../common/byte-slab.js';
import { MemoryStorage } from '../core/memory-storage.js';
import type { ConfState, Entry, HardState, SnapshotMetadata } from '../core/types.js';
import { isLegacyLevelLog, readLegacyLevelLog } from './legacy-level-log.js';
import { syncDir, Wal, type WalOptions } from './wal.js';
import type { LogFrame, LogIdentity } from './wal-frame.js';
import { WalCorruptError, type ReplayedLog } from './wal-reader.js';

export type { LogIdentity } from './wal-frame.js';

export class CorruptLogError extends Error {
  override name = 'CorruptLogError';
}

export interface SaveRequest {
  hardState?: HardState;
  entries: readonly Entry[];
  /** A snapshot installed from the leader: replaces the whole log. */
  snapshot?: SnapshotMetadata;
  /** Frames are always durable when written; kept for the Ready contract's sake. */
  sync: boolean;
}

export type LogStoreOptions = WalOptions;

export class RaftLogStore {
  private constructor(
    private readonly wal: Wal,
    readonly dir: string,
    readonly memory: MemoryStorage,
    private identityRecord: LogIdentity | undefined,
  ) {}

  /**
   * Opens (or creates) the log at `dir` and loads it into memory. A damaged frame, a gap in the
   * log, or a hard state that claims more than the log holds stops start-up with a
   * CorruptLogError naming the folder and the problem. A torn last frame (a crash in the middle
   * of a write that was never acknowledged) is dropped.
   */
  static async open(dir: string, o: LogStoreOptions = {}): Promise<RaftLogStore> {
    try {
      await migrateLegacy(dir, o);
    } catch (e) {
      throw new CorruptLogError(`raft log ${dir}: cannot move the LevelDB log of an earlier release into the WAL: ${(e as Error).message}`);
    }
    let opened: Awaited<ReturnType<typeof Wal.open>>;
    try {
      opened = await Wal.open(dir, o);
    } catch (e) {
      if (e instanceof WalCorruptError) throw new CorruptLogError(`raft log ${dir}: ${e.message}; refusing to start from a damaged log`);
      throw new CorruptLogError(`raft log ${dir}: cannot read the log: ${(e as Error).message}`);
    }
    try {
      const mem = memoryOf(opened.log, dir);
      return new RaftLogStore(opened.wal, dir, mem, opened.log.identity);
    } catch (e) {
      await opened.wal.close().catch(() => undefined);
      throw e;
    }
  }

  identity(): LogIdentity | undefined {
    return this.identityRecord;
  }

  async setIdentity(id: LogIdentity): Promise<void> {
    await this.wal.append({ identity: id });
    this.identityRecord = id;
  }

  /** A save() is still writing its frame (false right after a save() whose write was done on the spot). */
  get writing(): boolean {
    return this.wal.isAppending;
  }

  /** Persists one Ready's worth of state in one frame, then mirrors it in memory. */
  async save(req: SaveRequest): Promise<void> {
    const mem = this.memory;
    const f: LogFrame = {};
    if (req.snapshot) {
      f.reset = true;
      f.snapshot = req.snapshot;
    }
    if (req.entries.length > 0) f.entries = req.entries;
    if (req.hardState) f.hardState = req.hardState;
    if (!f.reset && !f.entries && !f.hardState) return;
    await this.wal.append(f);
    if (req.snapshot) {
      mem.applySnapshot({ metadata: req.snapshot, data: new Uint8Array(0) });
      // Segments holding only the replaced log can go.
      this.wal.releaseTo(req.snapshot.index);
    }
    // The in-memory log keeps entries until the next compaction: their data is copied out of
    // whatever it came in (a peer's network read, the proposer's encode buffer).
    if (req.entries.length > 0) mem.append(req.entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: keepBytes(e.data) })));
    if (req.hardState) mem.setHardState(req.hardState);
  }

  /**
   * Records that the state machine durably holds everything up to `index` (a snapshot point),
   * then drops log entries before `compactTo` (keeping some for slow followers). One frame says
   * both; segments whose entries are all dropped are deleted in the background. Entries at or
   * below the compaction point are never read again, so a crash before the deletion only leaves
   * their segments for the next compaction.
   */
  async snapshotAndCompact(index: number, confState: ConfState, compactTo: number): Promise<void> {
    const mem = this.memory;
    if (index <= mem.snapshot().metadata.index) return;
    const term = mem.term(index);
    const to = Math.min(compactTo, index);
    const compacting = to > mem.firstIndex() - 1;
    const f: LogFrame = { snapshot: { index, term, confState } };
    if (compacting) f.compacted = { index: to, term: mem.term(to) };
    await this.wal.append(f);
    mem.createSnapshot(index, confState, new Uint8Array(0));
    if (!compacting) return;
    mem.compact(to);
    this.wal.releaseTo(to);
  }

  /** The last background failure (zero-fill or segment deletion; only space is at stake). */
  get cleanUpError(): Error | undefined {
    return this.wal.backgroundError;
  }

  /** The WAL's segment files in use, oldest first. */
  segmentPaths(): string[] {
    return this.wal.segmentPaths();
  }

  /** Resolves when background work started so far is done. */
  async settled(): Promise<void> {
    await this.wal.settled();
  }

  async close(): Promise<void> {
    await this.wal.close();
  }
}

/** The in-memory mirror of a replayed log, after checking it is whole. */
function memoryOf(log: ReplayedLog, dir: string): MemoryStorage {
  const gap = log.firstMissing();
  if (gap) throw new CorruptLogError(`raft log ${dir}: entry ${gap.missing} is missing (next stored entry is ${gap.next})`);
  const ents = log.live();
  let prevTerm = log.compacted.term;
  for (const e of ents) {
    if (e.term < prevTerm) throw new CorruptLogError(`raft log ${dir}: entry ${e.index} has term ${e.term} below the previous entry's ${prevTerm}`);
    prevTerm = e.term;
  }
  const mem = new MemoryStorage();
  const snap = log.snapshot;
  const cs: ConfState = snap ? snap.confState : { voters: [], learners: [] };
  if (log.compacted.index > 0) {
    mem.applySnapshot({ metadata: { index: log.compacted.index, term: log.compacted.term, confState: cs }, data: new Uint8Array(0) });
  }
  mem.append(ents);
  if (snap && snap.index > log.compacted.index) {
    if (snap.index > mem.lastIndex()) {
      throw new CorruptLogError(`raft log ${dir}: the snapshot at ${snap.index} is past the end of the log (${mem.lastIndex()})`);
    }
    if (mem.term(snap.index) !== snap.term) {
      throw new CorruptLogError(`raft log ${dir}: snapshot at ${snap.index} has term ${snap.term} but the log has ${mem.term(snap.index)} there`);
    }
    mem.createSnapshot(snap.index, cs, new Uint8Array(0));
  }
  const hard = log.hardState;
  if (hard) {
    if (hard.commit > mem.lastIndex()) {
      throw new CorruptLogError(
        `raft log ${dir}: the hard state says entries up to ${hard.commit} are committed but the log ends at ${mem.lastIndex()} (acknowledged entries are missing); refusing to start`,
      );
    }
    // The commit index is written lazily (not on every commit): it may be older than the
    // snapshot point, below which everything is committed by definition.
    mem.setHardState({ ...hard, commit: Math.max(hard.commit, mem.snapshot().metadata.index, log.compacted.index) });
  }
  return mem;
}

/**
 * Moves a LevelDB log (an earlier release) at `dir` into a WAL: `dir.migrating` is written and
 * synced, `dir` is renamed to `dir.leveldb`, `dir.migrating` to `dir`, then `dir.leveldb` is
 * deleted. Run again after a crash, it finishes or redoes whichever step was cut short.
 */
async function migrateLegacy(dir: string, o: LogStoreOptions): Promise<void> {
  const next = `${dir}.migrating`;
  const old = `${dir}.leveldb`;
  const parent = dirname(dir);
  if (!existsSync(dir) && existsSync(old)) {
    if (existsSync(next)) await fsp.rename(next, dir);
    else await fsp.rename(old, dir);
    await syncDir(parent);
  }
  if (existsSync(dir) && !isLegacyLevelLog(dir)) {
    // Already a WAL; leftovers of a finished move go.
    await fsp.rm(old, { recursive: true, force: true });
    await fsp.rm(next, { recursive: true, force: true });
    return;
  }
  if (!existsSync(dir)) return;
  const legacy = await readLegacyLevelLog(dir);
  await fsp.rm(next, { recursive: true, force: true });
  const { wal } = await Wal.open(next, o);
  const f: LogFrame = {};
  if (legacy.identity) f.identity = legacy.identity;
  if (legacy.snapshot) f.snapshot = legacy.snapshot;
  if (legacy.compacted.index > 0) f.compacted = legacy.compacted;
  if (legacy.entries.length > 0) f.entries = legacy.entries;
  if (legacy.hardState) f.hardState = legacy.hardState;
  if (Object.keys(f).length > 0) await wal.append(f);
  await wal.close();
  await syncDir(next);
  await fsp.rename(dir, old);
  await fsp.rename(next, dir);
  await syncDir(parent);
  await fsp.rm(old, { recursive: true, force: true });
}
