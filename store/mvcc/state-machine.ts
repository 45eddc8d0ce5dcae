// The store as a Raft state machine: etcd's apply loop for the store's requests. The Raft
// runtime calls applyBatch() with every committed entry in order; applying is deterministic (no
// clock, no randomness: lease IDs come in the request), entries at or below the applied index
// are skipped, and the applied index is written in the same level batch as the data it
// produced, so a restart resumes exactly where the disk is. Reads that need no consensus
// (Range, read-only Txn, HashKV, lease TTLs) are served directly from here by the server.

import { invariant } from '../../common/assert.js';
import { EtcdError, Errors, GrpcCode } from '../api/errors.js';
import {
  AlarmAction,
  AlarmType,
  type AlarmResponse,
  type CompactionResponse,
  type DeleteRangeResponse,
  type HashKVRequest,
  type HashKVResponse,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type Member,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
} from '../api/types.js';
import { AlarmStore } from './alarm-store.js';
import { MemberStore } from './member-store.js';
import { Backend } from './backend.js';
import { KvApplier, header, isTxnReadOnly } from './kv-applier.js';
import { KvStore } from './kv-store.js';
import { Lessor, type LessorOptions, type RenewResult } from './lessor.js';
import { DEFAULT_HISTORY_LIMITS, type RecentHistoryLimits } from './recent-history.js';
import {
  PREFIX_ALARM,
  PREFIX_LEASE,
  PREFIX_MEMBER,
  alarmKey,
  decodeMemberRecord,
  encodeMemberRecord,
  memberKey,
  decodeAlarmKey,
  decodeLeaseRecord,
  decodeMeta,
  encodeLeaseRecord,
  encodeMeta,
  leaseKey,
  metaKey,
  EMPTY,
} from './records.js';
import {
  DEFAULT_MAX_TXN_OPS,
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from './request-checks.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot-format.js';
import { BadRequestError, decodeStoreRequest, type StoreRequest } from './store-request.js';
import { WatchHub, type WatchHubOptions } from './watch-hub.js';

export interface StoreStateMachineOptions {
  /** Data directory (created if missing). */
  dir: string;
  lessor?: LessorOptions;
  /** Txn op limit (etcd --max-txn-ops, default 128); must be the same on every member. */
  maxTxnOps?: number;
  history?: Partial<RecentHistoryLimits>;
  watch?: WatchHubOptions;
}

export interface RaftEntryData {
  index: number;
  term: number;
  /** The encoded StoreRequest (encodeStoreRequest); empty for Raft's own empty entries. */
  data: Uint8Array;
}

export interface CheckpointResponse {
  header: ResponseHeader;
}

export interface MemberChangeResponse {
  header: ResponseHeader;
  members: Member[];
  member?: Member;
}

export type StoreResponse =
  | RangeResponse
  | PutResponse
  | DeleteRangeResponse
  | TxnResponse
  | CompactionResponse
  | LeaseGrantResponse
  | LeaseRevokeResponse
  | CheckpointResponse
  | MemberChangeResponse
  | AlarmResponse;

export type ApplyResult =
  | { kind: 'ok'; response: StoreResponse }
  | { kind: 'error'; error: EtcdError }
  /** The entry was at or below the applied index (replayed after a restart). */
  | { kind: 'skipped' }
  /** An empty entry (Raft's own); the applied index moved. */
  | { kind: 'noop' };

export interface StoreSnapshot {
  /** The Raft index (and term) of the last entry the snapshot contains. */
  index: number;
  term: number;
  /** The snapshot as chunks; iterate once (it holds a database snapshot until done). */
  chunks: AsyncIterable<Buffer>;
}

interface State {
  backend: Backend;
  kv: KvStore;
  lessor: Lessor;
  alarms: AlarmStore;
  members: MemberStore;
  index: number;
  term: number;
}

const META_CONSISTENT_INDEX = metaKey('consistent_index');

async function loadState(backend: Backend, opts: StoreStateMachineOptions): Promise<State> {
  const db = backend.db;
  let index = 0;
  let term = 0;
  const ci = await db.get(META_CONSISTENT_INDEX);
  if (ci !== undefined) {
    const v = decodeMeta(ci);
    invariant(Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'number', 'corrupt meta: consistent index');
    [index, term] = v as [number, number];
  }
  const lessor = new Lessor(opts.lessor ?? {});
  for await (const [, v] of db.iterator({ gte: Buffer.from([PREFIX_LEASE]), lt: Buffer.from([PREFIX_LEASE + 1]) })) {
    lessor.restore(decodeLeaseRecord(v));
  }
  const alarms = new AlarmStore();
  for await (const k of db.keys({ gte: Buffer.from([PREFIX_ALARM]), lt: Buffer.from([PREFIX_ALARM + 1]) })) {
    const a = decodeAlarmKey(k);
    alarms.activate(a.memberID, a.alarm);
  }
  const members = new MemberStore();
  for await (const [, v] of db.iterator({ gte: Buffer.from([PREFIX_MEMBER]), lt: Buffer.from([PREFIX_MEMBER + 1]) })) {
    members.set(decodeMemberRecord(v));
  }
  const kv = new KvStore(backend, lessor, { ...DEFAULT_HISTORY_LIMITS, ...opts.history });
  await kv.load();
  return { backend, kv, lessor, alarms, members, index, term };
}

export class StoreStateMachine {
  private st: State;
  private applier: KvApplier;
  readonly watchHub: WatchHub;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private persisted = { index: 0, term: 0 };
  private readonly maxTxnOps: number;

  private constructor(
    st: State,
    private readonly opts: StoreStateMachineOptions,
  ) {
    this.st = st;
    this.applier = new KvApplier(st.kv, st.lessor);
    this.maxTxnOps = opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
    this.persisted = { index: st.index, term: st.term };
    this.watchHub = new WatchHub(st.kv, opts.watch);
    this.wire(st.kv);
  }

  /** Opens the store in `dir`, recovering everything (data, leases, alarms, applied index). */
  static async open(opts: StoreStateMachineOptions): Promise<StoreStateMachine> {
    const backend = await Backend.open(opts.dir);
    try {
      return new StoreStateMachine(await loadState(backend, opts), opts);
    } catch (e) {
      await backend.close();
      throw e;
    }
  }

  private wire(kv: KvStore): void {
    kv.onRevision = (e) => this.watchHub.onRevision(e);
    kv.onCompact = (rev) => this.watchHub.onCompact(rev);
  }

  /** The KV engine (current and compacted revisions, index); replaced by restore(). */
  get kv(): KvStore {
    return this.st.kv;
  }
  get lessor(): Lessor {
    return this.st.lessor;
  }
  get alarms(): AlarmStore {
    return this.st.alarms;
  }
  /** The cluster's members as the applied log says. */
  get members(): MemberStore {
    return this.st.members;
  }
  /** The last Raft index applied (in memory). */
  get appliedIndex(): number {
    return this.st.index;
  }
  get appliedTerm(): number {
    return this.st.term;
  }
  /** The last Raft index written to disk (what a restart resumes from). */
  get persistedIndex(): number {
    return this.persisted.index;
  }
  get currentRevision(): number {
    return this.st.kv.currentRev;
  }
  /** -1 until the first compaction, as etcd. */
  get compactRevision(): number {
    return this.st.kv.compactRev;
  }

  // ---- apply ----

  apply(index: number, term: number, data: Uint8Array): Promise<ApplyResult> {
    return this.applyBatch([{ index, term, data }]).then((r) => r[0] as ApplyResult);
  }

  /**
   * Applies committed entries in order and queues one level batch with their effects and the
   * new applied index (`sync`: fsync it). Resolves once they are applied in memory (visible to
   * reads and watchers); persist() waits for the disk.
   */
  applyBatch(entries: readonly RaftEntryData[], opts: { sync?: boolean } = {}): Promise<ApplyResult[]> {
    const p = this.queue.then(() => this.doApplyBatch(entries, opts.sync === true));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async doApplyBatch(entries: readonly RaftEntryData[], sync: boolean): Promise<ApplyResult[]> {
    if (this.failure) throw this.failure;
    const st = this.st;
    const results: ApplyResult[] = [];
    let applied = false;
    for (const e of entries) {
      if (e.index <= st.index) {
        results.push({ kind: 'skipped' });
        continue;
      }
      let r = this.applyOne(e.data);
      if (r instanceof Promise) r = await r;
      st.index = e.index;
      st.term = e.term;
      applied = true;
      results.push(r);
    }
    // The applied entries' effects may wait for company on their way to disk (the Raft log
    // replays them after a crash); a synced apply is written at once.
    if (applied || sync) this.commit(sync, !sync);
    return results;
  }

  private commit(sync: boolean, defer = false): Promise<void> {
    const st = this.st;
    st.backend.put(META_CONSISTENT_INDEX, encodeMeta([st.index, st.term]));
    const rev = st.kv.currentRev;
    const at = { index: st.index, term: st.term };
    const onWritten = (): void => {
      if (this.st === st) {
        st.kv.markPersisted(rev);
        this.persisted = at;
      }
    };
    const w = defer ? st.backend.commitLater(onWritten) : st.backend.commit(sync, onWritten);
    w.catch((e: unknown) => {
      this.failure ??= e as Error;
    });
    return w;
  }

  /** Waits until everything applied so far is on disk (`sync`: fsync'ed). */
  persist(opts: { sync?: boolean } = {}): Promise<void> {
    const p = this.queue.then(async () => {
      if (this.failure) throw this.failure;
      if (opts.sync === true) await this.commit(true);
      await this.st.backend.drain();
    });
    this.queue = p.catch(() => undefined);
    return p;
  }

  private applyOne(data: Uint8Array): ApplyResult | Promise<ApplyResult> {
    if (data.length === 0) return { kind: 'noop' };
    let req: StoreRequest;
    try {
      req = decodeStoreRequest(data);
    } catch (e) {
      if (e instanceof BadRequestError) return { kind: 'error', error: new EtcdError(GrpcCode.INVALID_ARGUMENT, `keelson: ${e.message}`) };
      throw e;
    }
    const toResult = (resp: StoreResponse): ApplyResult => ({ kind: 'ok', response: resp });
    const toError = (e: unknown): ApplyResult => {
      if (e instanceof EtcdError) return { kind: 'error', error: e };
      throw e; // a bug: crash rather than diverge
    };
    try {
      const r = this.execute(req);
      return r instanceof Promise ? r.then(toResult, toError) : toResult(r);
    } catch (e) {
      return toError(e);
    }
  }

  private get corrupt(): boolean {
    return this.st.alarms.has(AlarmType.CORRUPT);
  }

  private get noSpace(): boolean {
    return this.st.alarms.has(AlarmType.NOSPACE);
  }

  private execute(req: StoreRequest): StoreResponse | Promise<StoreResponse> {
    const { kv, lessor, backend } = this.st;
    const cur = (): ResponseHeader => header(kv.currentRev);
    if (req.put !== undefined) {
      const err = checkPutRequest(req.put);
      if (err) throw err;
      if (this.corrupt) throw Errors.corrupt();
      if (this.noSpace) throw Errors.noSpace();
      return this.applier.put(req.put);
    }
    if (req.deleteRange !== undefined) {
      const err = checkDeleteRequest(req.deleteRange);
      if (err) throw err;
      if (this.corrupt) throw Errors.corrupt();
      return this.applier.deleteRange(req.deleteRange);
    }
    if (req.txn !== undefined) {
      const err = checkTxnRequest(req.txn, this.maxTxnOps);
      if (err) throw err;
      if (this.corrupt) throw Errors.corrupt();
      // etcd's capped applier refuses a txn whose top-level ops put anything.
      if (this.noSpace && [...req.txn.success, ...req.txn.failure].some((op) => op.requestPut !== undefined)) {
        throw Errors.noSpace();
      }
      return this.applier.txn(req.txn);
    }
    if (req.range !== undefined) {
      const err = checkRangeRequest(req.range);
      if (err) throw err;
      if (this.corrupt) throw Errors.corrupt();
      return this.applier.range(req.range);
    }
    if (req.compaction !== undefined) {
      if (this.corrupt) throw Errors.corrupt();
      kv.compact(req.compaction.revision);
      return { header: cur() } satisfies CompactionResponse;
    }
    if (req.leaseGrant !== undefined) {
      if (this.corrupt) throw Errors.corrupt();
      if (this.noSpace) throw Errors.noSpace();
      const l = lessor.grant(req.leaseGrant.ID, req.leaseGrant.TTL);
      backend.put(leaseKey(l.id), encodeLeaseRecord(lessor.record(l)));
      return { header: cur(), ID: l.id, TTL: l.ttl, error: '' } satisfies LeaseGrantResponse;
    }
    if (req.leaseRevoke !== undefined) {
      if (this.corrupt) throw Errors.corrupt();
      const id = req.leaseRevoke.ID;
      const keys = lessor.keysOf(id);
      // All of the lease's keys go in one revision, in byte order (same order everywhere).
      const txn = kv.write();
      try {
        for (const k of keys) txn.deleteRange(Buffer.from(k, 'latin1'), undefined);
        lessor.remove(id);
        backend.del(leaseKey(id));
      } finally {
        txn.end();
      }
      return { header: cur() } satisfies LeaseRevokeResponse;
    }
    if (req.leaseCheckpoint !== undefined) {
      for (const cp of req.leaseCheckpoint.checkpoints) {
        const l = lessor.checkpoint(cp.ID, cp.remainingTTL);
        if (l !== undefined) backend.put(leaseKey(l.id), encodeLeaseRecord(lessor.record(l)));
      }
      return { header: cur() } satisfies CheckpointResponse;
    }
    if (req.member !== undefined) {
      const m = this.st.members.apply(req.member);
      if (m) backend.put(memberKey(m.ID), encodeMemberRecord(m));
      else backend.del(memberKey(req.member.ID));
      const resp: MemberChangeResponse = { header: cur(), members: this.st.members.list() };
      if (m) resp.member = m;
      return resp;
    }
    if (req.alarm !== undefined) return this.applyAlarm(req.alarm.action, req.alarm.memberID ?? 0n, req.alarm.alarm ?? AlarmType.NONE);
    throw new EtcdError(GrpcCode.INVALID_ARGUMENT, 'keelson: empty store request');
  }

  private applyAlarm(action: AlarmAction, memberID: bigint, alarm: AlarmType): AlarmResponse {
    const { alarms, backend, kv } = this.st;
    const resp: AlarmResponse = { header: header(kv.currentRev), alarms: [] };
    switch (action) {
      case AlarmAction.GET:
        resp.alarms = alarms.get(alarm);
        break;
      case AlarmAction.ACTIVATE: {
        const { member, added } = alarms.activate(memberID, alarm);
        if (added) backend.put(alarmKey(memberID, alarm), EMPTY);
        resp.alarms = [member];
        break;
      }
      case AlarmAction.DEACTIVATE: {
        const m = alarms.deactivate(memberID, alarm);
        if (m !== undefined) {
          backend.del(alarmKey(memberID, alarm));
          resp.alarms = [m];
        }
        break;
      }
      default:
        break;
    }
    return resp;
  }

  // ---- reads served without the log ----

  /** Range (serializable, or after the server's ReadIndex barrier for linearizable reads). */
  async range(req: RangeRequest): Promise<RangeResponse> {
    const err = checkRangeRequest(req);
    if (err) throw err;
    if (this.corrupt) throw Errors.corrupt();
    return this.applier.range(req);
  }

  /** A read-only txn (see isTxnReadOnly); the server proposes every other txn. */
  async readTxn(req: TxnRequest): Promise<TxnResponse> {
    const err = checkTxnRequest(req, this.maxTxnOps);
    if (err) throw err;
    if (!isTxnReadOnly(req)) throw new EtcdError(GrpcCode.INVALID_ARGUMENT, 'keelson: readTxn of a txn that writes');
    if (this.corrupt) throw Errors.corrupt();
    return this.applier.readTxn(req);
  }

  async hashKV(req: HashKVRequest): Promise<HashKVResponse> {
    const r = await this.st.kv.hashByRev(req.revision ?? 0);
    return { header: header(r.currentRev), hash: r.hash, compactRevision: r.compactRev };
  }

  /** LeaseTimeToLive on the leader: TTL -1 for a missing lease, as etcd's v3rpc answers. */
  leaseTimeToLive(req: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    const h = header(this.st.kv.currentRev);
    try {
      const t = this.st.lessor.timeToLive(req.ID, req.keys === true);
      return { header: h, ID: t.ID, TTL: t.TTL, grantedTTL: t.grantedTTL, keys: t.keys };
    } catch (e) {
      if (e instanceof EtcdError && e.is(Errors.leaseNotFound())) return { header: h, ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
      throw e;
    }
  }

  leaseLeases(): LeaseLeasesResponse {
    return { header: header(this.st.kv.currentRev), leases: this.st.lessor.leases().map((ID) => ({ ID })) };
  }

  /** A keep-alive on the leader (etcd's Renew); see RenewResult for the waiting case. */
  leaseRenew(id: bigint): RenewResult {
    return this.st.lessor.renew(id);
  }

  /** This member became leader: leases get a full TTL from now (+ extendMs). */
  promote(extendMs: number): void {
    this.st.lessor.promote(extendMs);
  }

  /** This member is no longer leader. */
  demote(): void {
    this.st.lessor.demote();
  }

  // ---- snapshots ----

  /**
   * The whole store as a stream, at the last applied index that is on disk (the index is read
   * from the snapshot itself, so data and index always agree).
   */
  async snapshot(): Promise<StoreSnapshot> {
    await this.persist();
    const backend = this.st.backend;
    const snap = await backend.atQuiescence(() => backend.db.snapshot());
    try {
      const raw = await backend.db.get(META_CONSISTENT_INDEX, { snapshot: snap });
      const v = raw === undefined ? [0, 0] : decodeMeta(raw);
      invariant(Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'number', 'corrupt meta: consistent index');
      const [index, term] = v as [number, number];
      async function* records(): AsyncGenerator<Array<[Buffer, Buffer]>> {
        const it = backend.db.iterator({ snapshot: snap });
        try {
          for (;;) {
            const batch = await it.nextv(1000);
            if (batch.length === 0) break;
            yield batch;
          }
        } finally {
          await it.close();
          await snap.close();
        }
      }
      return { index, term, chunks: encodeSnapshot({ index, term }, records()) };
    } catch (e) {
      await snap.close();
      throw e;
    }
  }

  /**
   * Replaces the whole state with a snapshot stream (a follower installing the leader's
   * snapshot). The new state is written to a fresh database and switched to only once complete
   * and verified; watchers then catch up on the new history. Returns the snapshot's index.
   */
  restore(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ index: number; term: number }> {
    const p = this.queue.then(() => this.doRestore(chunks));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async doRestore(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ index: number; term: number }> {
    if (this.failure) throw this.failure;
    const old = this.st;
    await old.backend.drain();
    const next = await old.backend.createNext();
    let st: State;
    try {
      const head = await decodeSnapshot(chunks, async (recs) => {
        for (const [k, v] of recs) next.put(k, v);
        await next.commit(false);
      });
      await next.commit(true);
      st = await loadState(next, this.opts);
      invariant(st.index === head.index, () => `snapshot says index ${head.index} but holds ${st.index}`);
    } catch (e) {
      await next.close();
      await next.destroy();
      throw e;
    }
    await next.activate();
    // Swap in one step: readers never see a half-loaded store.
    const wasPrimary = old.lessor.isPrimary;
    old.lessor.clear();
    if (wasPrimary) st.lessor.promote(0);
    this.st = st;
    this.applier = new KvApplier(st.kv, st.lessor);
    this.persisted = { index: st.index, term: st.term };
    this.wire(st.kv);
    this.watchHub.replaceStore(st.kv);
    await old.backend.close();
    await old.backend.destroy();
    return { index: st.index, term: st.term };
  }

  /**
   * Turns a restored store into the seed of a new cluster (`keelson snapshot restore`): the data,
   * revisions and leases stay; the old members and alarms go, and the applied index returns to 0
   * so the new cluster's Raft log (its bootstrap membership entries first) applies from the start.
   */
  async resetForNewCluster(): Promise<void> {
    await this.persist();
    const st = this.st;
    for (const m of st.members.list()) st.backend.del(memberKey(m.ID));
    st.members.clear();
    for (const a of st.alarms.get(AlarmType.NONE)) st.backend.del(alarmKey(a.memberID, a.alarm));
    st.alarms.clear();
    st.index = 0;
    st.term = 0;
    await this.commit(true);
    this.persisted = { index: 0, term: 0 };
  }

  /** Waits for pending applies and writes, then closes the database. */
  async close(): Promise<void> {
    await this.queue;
    this.watchHub.close();
    await this.st.backend.close();
  }
}
