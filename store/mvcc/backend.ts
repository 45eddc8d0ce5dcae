// The store's level database. Writes are collected into one level batch per apply batch and
// written in order (one write in flight at a time), `sync` chosen per batch by the caller. Reads
// of the history go straight to level (they are never on the hot path: the latest value of every
// key lives in memory).
//
// A data directory holds the active database in a numbered sub folder named by the file
// CURRENT; a snapshot restore fills a fresh folder and then switches CURRENT atomically, so a
// crash mid-restore leaves the previous state intact.

import { mkdir, open as openFile, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';

type Db = ClassicLevel<Buffer, Buffer>;
type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

interface WriteGroup {
  ops: Op[];
  sync: boolean;
  callbacks: (() => void)[];
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  /** Queued for writing (it still takes commits until its write begins). */
  started: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** How long a deferred commit may wait for company (etcd's default batch interval). */
const DEFER_MS = 100;
/** A deferred write starts at once when it has this many operations (etcd's batch limit). */
const DEFER_MAX_OPS = 10_000;

export class StorageError extends Error {
  override name = 'StorageError';
}

const CURRENT = 'CURRENT';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await openFile(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readCurrent(dir: string): Promise<string | undefined> {
  try {
    const name = (await readFile(join(dir, CURRENT), 'utf8')).trim();
    if (!/^db-\d+$/.test(name)) throw new StorageError(`${join(dir, CURRENT)}: unexpected content ${JSON.stringify(name)}`);
    return name;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function writeCurrent(dir: string, name: string): Promise<void> {
  const tmp = join(dir, `${CURRENT}.tmp`);
  const fh = await openFile(tmp, 'w');
  try {
    await fh.writeFile(`${name}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, CURRENT));
  await fsyncDir(dir);
}

export class Backend {
  private ops: Op[] = [];
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private inflight = 0;
  /** The queued write that later commits still join (not started yet). */
  private open: WriteGroup | undefined;

  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly db: Db,
  ) {}

  /** Opens (creating if needed) the active database of `dir`, removing leftovers of a crashed restore. */
  static async open(dir: string): Promise<Backend> {
    await mkdir(dir, { recursive: true });
    let name = await readCurrent(dir);
    if (name === undefined) {
      name = 'db-1';
      await writeCurrent(dir, name);
    }
    for (const ent of await readdir(dir)) {
      if (/^db-\d+$/.test(ent) && ent !== name) await rm(join(dir, ent), { recursive: true, force: true });
    }
    return Backend.openFolder(dir, name);
  }

  private static async openFolder(dir: string, name: string): Promise<Backend> {
    const db: Db = new ClassicLevel<Buffer, Buffer>(join(dir, name), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (e) {
      throw new StorageError(`cannot open level database ${join(dir, name)}: ${(e as Error).message}`);
    }
    return new Backend(dir, name, db);
  }

  /** A new, empty database in the next folder of `dir`; it becomes active with activate(). */
  async createNext(): Promise<Backend> {
    const n = Number(this.name.slice(3)) + 1;
    const name = `db-${n}`;
    await rm(join(this.dir, name), { recursive: true, force: true });
    return Backend.openFolder(this.dir, name);
  }

  /** Makes this database the active one of its directory (crash-safe switch). */
  async activate(): Promise<void> {
    await writeCurrent(this.dir, this.name);
  }

  /** Deletes this database's folder (after close). */
  async destroy(): Promise<void> {
    await rm(join(this.dir, this.name), { recursive: true, force: true });
  }

  put(key: Buffer, value: Buffer): void {
    this.ops.push({ type: 'put', key, value });
  }

  del(key: Buffer): void {
    this.ops.push({ type: 'del', key });
  }

  get pendingOps(): number {
    return this.ops.length;
  }

  /** True while batches are queued or being written. */
  get busy(): boolean {
    return this.inflight > 0 || this.ops.length > 0;
  }

  /**
   * Queues everything collected since the last commit as one batch. Resolves once written
   * (fsync'ed if `sync`); `onWritten` runs right after the write, before later batches. A failed
   * write poisons the backend: the store's memory is ahead of the disk and must not go on.
   *
   * Commits made while a write is in flight are merged into one next write (in order, atomic,
   * synced if any of them asked): under load the store writes once per disk round trip rather
   * than once per apply batch.
   */
  commit(sync: boolean, onWritten?: () => void): Promise<void> {
    return this.join(sync, onWritten, false);
  }

  /**
   * Like commit(false), but the write may wait up to DEFER_MS (or DEFER_MAX_OPS operations) to
   * take later commits with it, like etcd's backend batch interval. For writes whose loss in a
   * crash costs nothing: the store's applied entries, which the Raft log replays.
   */
  commitLater(onWritten?: () => void): Promise<void> {
    return this.join(false, onWritten, true);
  }

  /** Starts the write of whatever is waiting (deferred commits included). */
  flush(): void {
    const g = this.open;
    if (g) this.start(g);
  }

  private join(sync: boolean, onWritten: (() => void) | undefined, defer: boolean): Promise<void> {
    const ops = this.ops;
    this.ops = [];
    if (this.failure) return Promise.reject(this.failure);
    let g = this.open;
    if (!g) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      g = { ops, sync: false, callbacks: [], done, resolve, reject, started: false, timer: undefined };
      this.open = g;
    } else {
      for (const op of ops) g.ops.push(op);
    }
    g.sync ||= sync;
    if (onWritten) g.callbacks.push(onWritten);
    if (!defer || g.ops.length >= DEFER_MAX_OPS) this.start(g);
    else if (!g.started && g.timer === undefined) {
      const group = g;
      g.timer = setTimeout(() => this.start(group), DEFER_MS);
    }
    return g.done;
  }

  /** Queues the group's write behind the one in flight; it takes commits until it runs. */
  private start(g: WriteGroup): void {
    if (g.started) return;
    g.started = true;
    if (g.timer !== undefined) clearTimeout(g.timer);
    this.inflight++;
    const p = this.chain.then(() => this.run(g));
    p.then(g.resolve, g.reject);
    this.chain = p.catch(() => undefined);
  }

  private async run(g: WriteGroup): Promise<void> {
    // From here on the group is being written: later commits start a new one.
    if (this.open === g) this.open = undefined;
    try {
      if (this.failure) throw this.failure;
      if (g.ops.length > 0 || g.sync) {
        // An empty synced batch still flushes earlier unsynced writes to disk.
        try {
          await this.write(g.ops, g.sync);
        } catch (e) {
          this.failure = new StorageError(`write to ${join(this.dir, this.name)} failed: ${(e as Error).message}`);
          throw this.failure;
        }
      }
    } finally {
      this.inflight--;
    }
    for (const cb of g.callbacks) cb();
  }

  /**
   * One atomic batch. Keys and values are Buffers already, so while the database is open this
   * calls classic-level's own batch method (abstract-level's `_batch` contract), skipping
   * abstract-level's per-operation checks, encodings, hooks and events (about three times the
   * cost of the binding call itself, on the main thread).
   */
  private write(ops: Op[], sync: boolean): Promise<void> {
    const db = this.db as unknown as { status: string; _batch?: (ops: Op[], o: { sync: boolean }) => Promise<void> };
    if (db.status === 'open' && typeof db._batch === 'function') return db._batch(ops, { sync });
    return this.db.batch(ops as never, { sync });
  }

  /** Resolves when every batch committed so far is written (deferred ones are started now). */
  async drain(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure) throw this.failure;
  }

  /**
   * Runs `fn` at a point where no write is in flight (between two queued batches), so that a
   * snapshot or iterator created synchronously inside `fn` sees exactly the batches before it.
   */
  atQuiescence<T>(fn: () => T): Promise<T> {
    // Commits after this call must not join a write queued before it.
    this.flush();
    this.open = undefined;
    const p = this.chain.then(() => {
      if (this.failure) throw this.failure;
      return fn();
    });
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    return this.db.getMany(keys);
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  async close(): Promise<void> {
    this.flush();
    await this.chain;
    await this.db.close();
  }
}
