// A running Raft member: the pure core driven by a clock, a durable log (log-store.ts) and a
// TCP peer transport (peer-transport.ts), applying committed entries to a state machine.
//
// The Ready loop follows the core's contract: persist (one batch, synced when needed — group
// commit: however many proposals arrived meanwhile), send, apply, advance. A leader sends its
// appends before its own write finishes (its own acknowledgement is only counted once the
// write is durable, so this is safe and saves a disk round trip), and applies what was already
// durable before it writes; everyone else sends after the write and applies after sending.
//
// Requests: propose (forwarded to the leader by followers; the outcome is read from the local
// state machine when the entry is applied here), linearizable read barrier (ReadIndex, batched),
// leadership transfer, membership change, status.

import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { Prng } from '../../common/prng.js';
import { type ConfChange } from '../core/conf-change.js';
import { RaftNode, type RaftStatus } from '../core/raft-node.js';
import type { ProposeResult } from '../core/raft.js';
import {
  EntryType,
  MessageType,
  NONE,
  StateType,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type SnapshotMetadata,
} from '../core/types.js';
import { RaftLogStore } from './log-store.js';
import { PeerTransport, type ReceivedSnapshot, type SnapshotSource } from './peer-transport.js';
import { ProposalBatcher, ProposalBatcherFullError } from './proposal-batcher.js';
import { RaftError } from './raft-errors.js';
import type { ForwardRequest, ForwardResponse, ProposeResponse } from './raft-codec.js';

export interface AppliedEntry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
  /** For ConfChange entries: the change and the configuration after it. */
  confChange?: { change: ConfChange; confState: ConfState };
}

/** What the runtime drives. The store implements it; so does the runtime's test state machine. */
export interface RaftStateMachine {
  /** The last index applied (on restart: recovered from disk; entries after it are replayed). */
  appliedIndex(): number;
  /** Applies committed entries in order; returns one result per entry (given to the proposer). */
  apply(entries: readonly AppliedEntry[]): Promise<unknown[]>;
  /** Makes everything applied so far durable (called before the log is compacted past it). */
  sync(): Promise<void>;
  /** A consistent snapshot of the current state, at appliedIndex(). */
  snapshot(): Promise<{ index: number; chunks: AsyncIterable<Uint8Array> }>;
  /** Replaces the whole state with a snapshot received from the leader (a verified file). */
  restore(file: string, metadata: SnapshotMetadata): Promise<void>;
  /** Peer URLs of the members the state machine knows of (from applied membership changes). */
  peerUrls(): Map<NodeId, string>;
}

export interface RaftRuntimeOptions {
  id: NodeId;
  clusterId: string;
  /** Folder of the Raft log (LevelDB) and received snapshots. */
  dataDir: string;
  /** host:port the peer transport listens on. */
  listenPeer: string;
  /** This member's advertised peer URL (host:port), sent to peers so they can answer. */
  advertisePeer: string;
  /** Peer addresses known from configuration (e.g. --initial-cluster), by member id. */
  initialPeers: Map<NodeId, string>;
  /** A brand-new cluster: the initial members, written to the log if it is empty. */
  bootstrap?: { id: NodeId; context: Uint8Array }[];
  stateMachine: RaftStateMachine;
  logger: Logger;
  tickMs?: number;
  electionTicks?: number;
  /** Applied entries between two snapshots (log compactions). */
  snapshotCount?: number;
  /** Size at which the Raft log starts a new segment file (wal.ts; default 64 MiB). */
  walSegmentBytes?: number;
  /** Entries kept in the log after a compaction, for slow followers. */
  catchUpEntries?: number;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  /** Default deadline of propose/readIndex/transfer, in ms. */
  requestTimeoutMs?: number;
  /** Called on every leadership change seen here. */
  onLeaderChange?: (lead: NodeId, term: number) => void;
  /**
   * Serves a leader-only application request forwarded by a follower (see forwardToLeader).
   * Called only while this member is the leader.
   */
  onForward?: (kind: string, payload: Uint8Array) => Promise<Uint8Array>;
  /** Answers read-only application queries from anyone on the peer port (see queryPeer). */
  onQuery?: (kind: string, payload: Uint8Array) => Promise<Uint8Array>;
  /** Called once if the member had to stop on an unrecoverable error (after stopping). */
  onFatal?: (err: Error) => void;
  /** Called after every write of the Raft log (its duration, and whether it was synced). */
  onLogWrite?: (ms: number, synced: boolean) => void;
  /** Called after every batch of applied entries. */
  onApplied?: (index: number) => void;
}

interface Waiter {
  term: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface ReadBatch {
  ctx: Uint8Array;
  key: string;
  waiters: { resolve: (i: number) => void; reject: (e: Error) => void }[];
  index: number | undefined;
  issuedAt: number;
}

const RECENT_RESULTS = 8192;

export class RaftRuntime {
  readonly id: NodeId;
  private readonly node: RaftNode;
  private readonly transport: PeerTransport;
  private readonly log: Logger;
  private readonly o: Required<Pick<RaftRuntimeOptions, 'tickMs' | 'electionTicks' | 'snapshotCount' | 'catchUpEntries' | 'requestTimeoutMs'>>;
  private ticker: NodeJS.Timeout | undefined;
  private stopped = false;
  private readyRunning = false;
  private readyAgain = false;
  private readyScheduled = false;
  private applied: number;
  private confState: ConfState;
  private snapshotIndex: number;
  private readonly waiters = new Map<number, Waiter>();
  /** Results of recently applied entries, for forwarded proposals answered after the apply. */
  private readonly recent = new Map<number, { term: number; result: unknown }>();
  private lead: NodeId = NONE;
  /** When a message from each peer last arrived (for health checks of reconfigurations). */
  private readonly lastHeard = new Map<NodeId, number>();
  private seenTerm = 0;
  private leaderWaiters: { resolve: () => void; timer: NodeJS.Timeout }[] = [];
  private readSeq = 0;
  private readInFlight: ReadBatch | undefined;
  private readNext: ReadBatch['waiters'] = [];
  private readsByIndex: { index: number; waiters: ReadBatch['waiters'] }[] = [];
  private applyIdle: Promise<void> = Promise.resolve();
  private pendingSnapshots = new Map<string, ReceivedSnapshot>();
  private readonly forwarder: ProposalBatcher;
  /** Messages waiting for sendSoon's turn. */
  private soon: Message[] = [];
  private soonScheduled = false;

  private constructor(
    private readonly opts: RaftRuntimeOptions,
    private readonly store: RaftLogStore,
  ) {
    this.id = opts.id;
    this.log = opts.logger;
    this.o = {
      tickMs: opts.tickMs ?? 100,
      electionTicks: opts.electionTicks ?? 10,
      snapshotCount: opts.snapshotCount ?? 10_000,
      catchUpEntries: opts.catchUpEntries ?? 5_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 7_000,
    };
    const sm = opts.stateMachine;
    const snap = store.memory.snapshot().metadata;
    // The state machine may be ahead of the log's snapshot (it persists as it applies) but never
    // behind it.
    this.applied = Math.max(sm.appliedIndex(), snap.index);
    this.snapshotIndex = snap.index;
    this.confState = snap.confState;
    this.node = new RaftNode({
      id: opts.id,
      electionTick: this.o.electionTicks,
      heartbeatTick: 1,
      storage: store.memory,
      // The core restarts from the log's snapshot: entries after it are handed out again, so
      // membership changes among them are re-applied to the core's configuration (the state
      // machine skips what it already applied; see applyEntries).
      applied: snap.index,
      maxSizePerMsg: opts.maxSizePerMsg ?? 1024 * 1024,
      maxInflightMsgs: opts.maxInflightMsgs ?? 256,
      checkQuorum: true,
      preVote: true,
      prng: new Prng(randomInt(2 ** 31)),
    });
    this.transport = new PeerTransport({
      selfId: opts.id,
      clusterId: opts.clusterId,
      listen: opts.listenPeer,
      snapshotDir: join(opts.dataDir, 'snap'),
      handler: {
        onMessages: (msgs) => this.onMessages(msgs),
        onSnapshotReceived: (s) => this.onSnapshotReceived(s),
        onPropose: (data) => this.onForwardedPropose(data),
        onProposeBatch: async (datas) => datas.map((d) => this.proposeHere(d)),
        onForward: (req) => this.onForwarded(req),
        onQuery: async (req) => {
          const q = this.opts.onQuery;
          if (!q) return { payload: new Uint8Array(0), error: 'no queries here' };
          try {
            return { payload: await q(req.kind, req.payload), error: '' };
          } catch (e) {
            return { payload: new Uint8Array(0), error: (e as Error).message || String(e) };
          }
        },
        onUnreachable: (peer) => {
          this.node.reportUnreachable(peer);
          this.scheduleReady();
        },
        onSnapshotStatus: (peer, ok) => {
          this.node.reportSnapshot(peer, ok);
          this.scheduleReady();
        },
        snapshotSource: () => this.snapshotSource(),
        log: (level, msg, fields) => this.log[level](msg, fields),
      },
    });
    this.forwarder = new ProposalBatcher((leader, datas, timeoutMs) => this.transport.proposeBatch(leader, datas, timeoutMs));
  }

  /** Opens the log, bootstraps a new cluster if asked and the log is empty, starts serving. */
  static async start(opts: RaftRuntimeOptions): Promise<RaftRuntime> {
    mkdirSync(opts.dataDir, { recursive: true });
    const store = await RaftLogStore.open(join(opts.dataDir, 'wal'), opts.walSegmentBytes !== undefined ? { segmentBytes: opts.walSegmentBytes } : {});
    try {
      const ident = store.identity();
      if (ident && (ident.clusterId !== opts.clusterId || ident.memberId !== opts.id)) {
        throw new RaftError(
          'invalid',
          `data dir ${opts.dataDir} belongs to member ${ident.memberId.toString(16)} of cluster ${ident.clusterId}, not member ${opts.id.toString(16)} of cluster ${opts.clusterId}`,
        );
      }
      if (!ident) await store.setIdentity({ clusterId: opts.clusterId, memberId: opts.id, name: '' });
      if (opts.bootstrap && store.memory.lastIndex() === 0) {
        const { MemoryStorage } = await import('../core/memory-storage.js');
        const scratch = new MemoryStorage();
        RaftNode.bootstrap(scratch, opts.bootstrap);
        await store.save({
          entries: scratch.entries(1, scratch.lastIndex() + 1, Infinity),
          hardState: scratch.getHardState(),
          sync: true,
        });
      }
      // Leftovers of snapshot transfers that never completed.
      await fsp.rm(join(opts.dataDir, 'snap'), { recursive: true, force: true });
      const rt = new RaftRuntime(opts, store);
      await rt.transport.start();
      rt.refreshPeers();
      // Like etcd, fast-forward the election clock on start so a fresh cluster elects a leader
      // about one tick in, not a whole election timeout (pre-vote keeps a restarted member from
      // disrupting a leader it simply has not heard from yet).
      for (let i = 0; i < rt.o.electionTicks - 2; i++) rt.node.tick();
      rt.ticker = setInterval(() => rt.tick(), rt.o.tickMs);
      rt.scheduleReady();
      return rt;
    } catch (e) {
      await store.close().catch(() => undefined);
      throw e;
    }
  }

  get peerPort(): number {
    return this.transport.boundPort;
  }

  // ------------------------------------------------------------------ inputs

  private tick(): void {
    if (this.stopped) return;
    const r = this.node.raft;
    // The only voter needs no election timeout: it wins at once.
    if (r.state !== StateType.Leader && r.prs.voters.size === 1 && r.prs.isVoter(this.id)) this.node.campaign();
    this.node.tick();
    this.retryStuckRead();
    this.scheduleReady();
  }

  private onMessages(msgs: Message[]): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const m of msgs) {
      this.lastHeard.set(m.from, now);
      if (m.type === MessageType.Snap) continue; // snapshots only arrive through SendSnapshot
      try {
        this.node.step(m);
      } catch (e) {
        // The core only throws on a broken invariant, e.g. a leader telling us that entries we
        // acknowledged are committed when our log no longer has them (a disk that lost data).
        // Going on could serve wrong data or vote twice: stop.
        this.fatal(
          new Error(
            `raft log ${join(this.opts.dataDir, 'wal')} cannot be trusted: ${(e as Error).message} (on ${MessageType[m.type]} from ${m.from.toString(16)}); this member stops — replace it (remove and re-add with an empty data dir)`,
          ),
        );
        return;
      }
    }
    this.scheduleReady();
  }

  private onSnapshotReceived(s: ReceivedSnapshot): void {
    if (this.stopped || !s.header.snapshot) return;
    const md = s.header.snapshot.metadata;
    const key = `${md.term}-${md.index}`;
    this.pendingSnapshots.set(key, s);
    // The core sees the snapshot with the file name as its data; the apply step reads it.
    const m: Message = { ...s.header, snapshot: { metadata: md, data: new TextEncoder().encode(key) } };
    this.node.step(m);
    this.scheduleReady();
  }

  private async onForwardedPropose(data: Uint8Array): Promise<ProposeResponse> {
    return this.proposeHere(data);
  }

  /** A proposal forwarded by a follower, proposed here (the next Ready takes them all). */
  private proposeHere(data: Uint8Array): ProposeResponse {
    const r = this.node.propose(data);
    this.scheduleReady();
    if (r.ok) return { term: r.term, index: r.index, error: '', leader: this.id };
    return { term: 0, index: 0, error: r.reason, leader: r.leader };
  }

  private async onForwarded(req: ForwardRequest): Promise<ForwardResponse> {
    const h = this.opts.onForward;
    if (!h) return { payload: new Uint8Array(0), error: 'no handler for forwarded requests' };
    if (!this.isLeader()) return { payload: new Uint8Array(0), error: 'not-leader' };
    try {
      return { payload: await h(req.kind, req.payload), error: '' };
    } catch (e) {
      return { payload: new Uint8Array(0), error: (e as Error).message || String(e) };
    }
  }

  /**
   * Runs a leader-only request on the leader: here if we lead, otherwise forwarded to it
   * (with retries while leadership moves). Errors from the handler come back as Error(message).
   */
  async forwardToLeader(kind: string, payload: Uint8Array, timeoutMs = this.o.requestTimeoutMs): Promise<Uint8Array> {
    const h = this.opts.onForward;
    if (!h) throw new Error('no handler for forwarded requests');
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const lead = await this.waitForLeader(deadline);
      if (lead === this.id) return h(kind, payload);
      let r: ForwardResponse;
      try {
        r = await this.transport.forward(lead, { kind, payload }, Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (!neverSent(e)) throw new RaftError('timeout', `outcome unknown: forwarding to leader ${lead.toString(16)} failed: ${(e as Error).message}`, lead);
        if (Date.now() >= deadline) throw new RaftError('timeout', `request timed out forwarding to leader ${lead.toString(16)}`, lead);
        await new Promise((res) => setTimeout(res, Math.min(50 * (attempt + 1), 500)));
        continue;
      }
      if (r.error === 'not-leader' && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, Math.min(20 * (attempt + 1), 200)));
        continue;
      }
      if (r.error !== '') throw new Error(r.error);
      return r.payload;
    }
  }

  // ------------------------------------------------------------------ the Ready loop

  private scheduleReady(): void {
    if (this.readyScheduled || this.stopped) return;
    this.readyScheduled = true;
    setImmediate(() => {
      this.readyScheduled = false;
      void this.runReady();
    });
  }

  private async runReady(): Promise<void> {
    this.forwarder.flushPending();
    if (this.readyRunning) {
      this.readyAgain = true;
      return;
    }
    this.readyRunning = true;
    let done!: () => void;
    this.applyIdle = new Promise((r) => (done = r));
    try {
      do {
        this.readyAgain = false;
        while (!this.stopped && this.node.hasReady()) await this.handleReady(this.node.ready());
      } while (this.readyAgain && !this.stopped);
    } catch (e) {
      this.fatal(e as Error);
    } finally {
      this.readyRunning = false;
      done();
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const node = this.node;
    if (rd.softState) this.onSoftState(rd.softState.lead, node.raft.term);
    const leader = node.raft.state === StateType.Leader;
    const ce = rd.committedEntries;
    // 1. persist (a leader's appends and heartbeats may go out first: see the header comment)
    let sendLater = rd.messages;
    const durable = this.store.memory.getHardState();
    const termVoteUnchanged = !rd.hardState || (rd.hardState.term === durable.term && rd.hardState.vote === durable.vote);
    // Of those, appends without entries (the new commit index) and heartbeats wait until the
    // committed entries are applied and their clients answered (sendSoon, below).
    let afterApply: Message[] = [];
    const sendsEarly = leader && !rd.snapshot && termVoteUnchanged;
    if (sendsEarly) {
      const early: Message[] = [];
      sendLater = [];
      for (const m of rd.messages) {
        if (m.type === MessageType.App && m.entries.length > 0) early.push(m);
        else if (m.type === MessageType.App || m.type === MessageType.Heartbeat) afterApply.push(m);
        else sendLater.push(m);
      }
      this.flushSoon();
      this.transport.send(early);
      if (ce.length === 0) {
        this.sendSoon(afterApply);
        afterApply = [];
      }
    }
    let snapFile: ReceivedSnapshot | undefined;
    if (rd.snapshot) {
      const key = new TextDecoder().decode(rd.snapshot.data);
      snapFile = this.pendingSnapshots.get(key);
      this.pendingSnapshots.delete(key);
      if (!snapFile) throw new Error(`snapshot ${key} to install is not on disk`);
      // The state machine first: if we crash after this, the log still replays from its old
      // position and the state machine skips what it already has.
      await this.opts.stateMachine.restore(snapFile.file, rd.snapshot.metadata);
      await fsp.rm(snapFile.file, { force: true });
    }
    const save: Parameters<RaftLogStore['save']>[0] = { entries: rd.entries, sync: rd.mustSync };
    if (rd.hardState) save.hardState = rd.hardState;
    if (rd.snapshot) save.snapshot = rd.snapshot.metadata;
    // A Ready that only moves the commit index is not written: the commit index is not needed for
    // safety (the leader tells it again after a restart), and writing it on every commit cost each
    // member one database write per request. It goes to disk with the next entries or vote.
    const commitOnly = !rd.snapshot && rd.entries.length === 0 && rd.hardState !== undefined && termVoteUnchanged;
    // Committed entries that were made durable by earlier Readys may be applied before this
    // Ready's new entries are written (a leader, below) or while they are (when the write goes
    // to the thread pool). (Committed entries are never among those a conflicting append
    // replaces; the bound below is defensive.) Entries of this Ready wait for its write, as the
    // contract says.
    const firstNew = rd.entries.length > 0 ? (rd.entries[0] as Entry).index : Infinity;
    const durableLast = Math.min(this.store.memory.lastIndex(), firstNew - 1);
    let split = 0;
    if (!rd.snapshot) while (split < ce.length && (ce[split] as Entry).index <= durableLast) split++;
    let applying: Promise<void> | undefined;
    // A leader whose appends went out above applies what was durable before this Ready, and lets
    // its answers, watch events and commit notices out (one turn of the event loop), before it
    // writes the new entries: the next commit does not wait for that write (two followers'
    // acknowledgements are a quorum too), but everything else on this thread would, as a small
    // frame's write blocks it (~0.5 ms under load). bench/README.md, entry 15.
    if (sendsEarly && split > 0 && !commitOnly) {
      applying = this.applyEntries(split === ce.length ? ce : ce.slice(0, split));
      await applying;
      this.sendSoon(afterApply);
      afterApply = [];
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const t0 = performance.now();
    const saved = commitOnly ? Promise.resolve() : this.store.save(save).then(() => this.opts.onLogWrite?.(performance.now() - t0, rd.mustSync));
    const applyDurable = (): void => {
      applying = this.applyEntries(split === ce.length ? ce : ce.slice(0, split));
      // Awaited below; if the write fails first, this must not surface as an unhandled rejection.
      applying.catch(() => undefined);
    };
    // Small frames are written from this thread inside save(): then there is no write to overlap,
    // and applying first would only hold back this Ready's messages (a follower's acknowledgement,
    // which the leader's commit waits for) behind the apply and the watch delivery it triggers.
    if (split > 0 && applying === undefined && this.store.writing) applyDurable();
    await saved;
    // 2. send
    this.transport.send(sendLater);
    if (split > 0 && applying === undefined) applyDurable();
    // 3. apply
    if (rd.snapshot) {
      this.applied = rd.snapshot.metadata.index;
      this.snapshotIndex = rd.snapshot.metadata.index;
      this.confState = rd.snapshot.metadata.confState;
      this.refreshPeers();
      this.failWaitersUpTo(this.applied);
      // Results of entries before the snapshot are unknowable now (and would never age out).
      this.recent.clear();
      this.log.info('installed snapshot', { index: this.applied, term: rd.snapshot.metadata.term });
    }
    if (applying) await applying;
    if (split < ce.length) await this.applyEntries(split === 0 ? ce : ce.slice(split));
    // After the answers to the clients. The apply resolved their promises, but the chain that
    // writes each answer takes several microtask turns, so a send from here would still go first,
    // and a write to a peer on loopback can hand the CPU to the peer's process (traced on put-seq:
    // 170 µs from the apply to the gRPC handler's answer with a direct send, 10 µs this way).
    this.sendSoon(afterApply);
    for (const rs of rd.readStates) this.onReadState(rs.requestCtx, rs.index);
    // 4. advance
    node.advance(rd);
    this.serveReads();
    await this.maybeSnapshot();
    // Received snapshots the core did not need (stale) are deleted.
    for (const [key, s] of this.pendingSnapshots) {
      if ((s.header.snapshot?.metadata.index ?? 0) <= this.applied) {
        this.pendingSnapshots.delete(key);
        await fsp.rm(s.file, { force: true });
      }
    }
  }

  /** Sends `msgs` once the current callbacks have run (before the next Ready's messages). */
  private sendSoon(msgs: Message[]): void {
    if (msgs.length === 0) return;
    for (const m of msgs) this.soon.push(m);
    if (this.soonScheduled) return;
    this.soonScheduled = true;
    setImmediate(() => this.flushSoon());
  }

  private flushSoon(): void {
    this.soonScheduled = false;
    if (this.soon.length === 0) return;
    const msgs = this.soon;
    this.soon = [];
    if (!this.stopped) this.transport.send(msgs);
  }

  private async applyEntries(ents: Entry[]): Promise<void> {
    const batch: AppliedEntry[] = [];
    let confChanged = false;
    for (const e of ents) {
      let confChange: AppliedEntry['confChange'];
      if (e.type === EntryType.ConfChange) {
        const change = RaftNode.decodeConfChange(e);
        const cs = this.node.applyConfChange(change);
        this.confState = cs;
        confChange = { change, confState: cs };
        confChanged = true;
      }
      // After a restart the state machine may already hold entries the core replays.
      if (e.index <= this.applied) continue;
      const a: AppliedEntry = { index: e.index, term: e.term, type: e.type, data: e.data };
      if (confChange) a.confChange = confChange;
      batch.push(a);
    }
    if (batch.length === 0) return;
    const results = await this.opts.stateMachine.apply(batch);
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i] as AppliedEntry;
      const result = results[i];
      this.recent.set(a.index, { term: a.term, result });
      // Indexes are applied in order: forget the one that fell out of the window. (A Map used
      // as a queue through keys().next() rescans every deleted slot at its front.)
      this.recent.delete(a.index - RECENT_RESULTS);
      const w = this.waiters.get(a.index);
      if (w) {
        this.waiters.delete(a.index);
        clearTimeout(w.timer);
        if (w.term === a.term) w.resolve(result);
        else w.reject(new RaftError('superseded', `proposal at index ${a.index} was overwritten by a new leader (term ${a.term})`, this.lead));
      }
    }
    this.applied = (batch[batch.length - 1] as AppliedEntry).index;
    if (confChanged) this.refreshPeers();
    this.opts.onApplied?.(this.applied);
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.applied - this.snapshotIndex < this.o.snapshotCount) return;
    const index = this.applied;
    await this.opts.stateMachine.sync();
    await this.store.snapshotAndCompact(index, this.confState, index - this.o.catchUpEntries);
    this.snapshotIndex = index;
    this.log.info('compacted raft log', { snapshotIndex: index, firstIndex: this.store.memory.firstIndex() });
  }

  private async snapshotSource(): Promise<SnapshotSource> {
    // Taken between two applies, so the state machine, the index and the configuration agree.
    for (;;) {
      await this.applyIdle;
      if (!this.readyRunning) break;
    }
    const snap = await this.opts.stateMachine.snapshot();
    const term = this.node.raft.raftLog.term(snap.index);
    return { metadata: { index: snap.index, term, confState: this.confState }, chunks: snap.chunks };
  }

  private onSoftState(lead: NodeId, term: number): void {
    if (lead === this.lead && term === this.seenTerm) return;
    const prev = this.lead;
    this.lead = lead;
    this.seenTerm = term;
    if (lead !== NONE) {
      for (const w of this.leaderWaiters) {
        clearTimeout(w.timer);
        w.resolve();
      }
      this.leaderWaiters = [];
    }
    if (prev !== lead) this.log.info(lead === NONE ? 'lost leader' : lead === this.id ? 'became leader' : 'new leader', { lead: lead.toString(16), term });
    this.opts.onLeaderChange?.(lead, term);
  }

  private refreshPeers(): void {
    const peers = new Map(this.opts.initialPeers);
    for (const [id, url] of this.opts.stateMachine.peerUrls()) peers.set(id, url);
    peers.delete(this.id);
    this.transport.setPeers(peers);
  }

  private failWaitersUpTo(index: number): void {
    for (const [i, w] of this.waiters) {
      if (i > index) continue;
      this.waiters.delete(i);
      clearTimeout(w.timer);
      w.reject(new RaftError('timeout', `outcome of proposal ${i} unknown: this member installed a snapshot past it`));
    }
  }

  /** An unrecoverable condition: log it, stop, and tell the owner (which should exit). */
  private fatal(err: Error): void {
    if (this.stopped) return;
    this.log.error('raft member stopped on a fatal error', { err: err.message });
    void this.stop({ transferLeadership: false }).finally(() => this.opts.onFatal?.(err));
  }

  // ------------------------------------------------------------------ requests

  /** The current leader, or 0 while there is none. */
  leader(): NodeId {
    return this.node.raft.lead;
  }

  /**
   * Whether `id` was heard from within the last `ms` (always true for this member). Unlike the
   * core's recentActive, which check-quorum clears every election timeout, this does not blink.
   */
  heardFromWithin(id: NodeId, ms: number): boolean {
    if (id === this.id) return true;
    const t = this.lastHeard.get(id);
    return t !== undefined && Date.now() - t <= ms;
  }

  /** The current term (cheap: no status snapshot). */
  term(): number {
    return this.node.raft.term;
  }

  /** The commit index known here (cheap). */
  commitIndex(): number {
    return this.node.raft.raftLog.committed;
  }

  isLeader(): boolean {
    return this.node.raft.state === StateType.Leader;
  }

  appliedIndex(): number {
    return this.applied;
  }

  private async waitForLeader(deadline: number): Promise<NodeId> {
    while (this.node.raft.lead === NONE) {
      if (this.stopped) throw new RaftError('stopped', 'raft member stopped');
      const left = deadline - Date.now();
      if (left <= 0) throw new RaftError('no-leader', 'no leader');
      await new Promise<void>((resolve) => {
        const w = { resolve, timer: setTimeout(() => resolve(), Math.min(left, 50)) };
        this.leaderWaiters.push(w);
      });
    }
    return this.node.raft.lead;
  }

  /**
   * Replicates `data` and resolves with the state machine's result for it once it is applied
   * here. Rejects with a RaftError: not-leader/no-leader, dropped, superseded, timeout, stopped.
   */
  propose(data: Uint8Array, timeoutMs = this.o.requestTimeoutMs): Promise<unknown> {
    // The common case on the leader, without the retry loop's promise hops.
    if (!this.stopped && this.node.raft.lead === this.id) {
      const r = this.node.propose(data);
      this.scheduleReady();
      if (r.ok) return this.waitApplied(r.index, r.term, Date.now() + timeoutMs);
    }
    return this.proposeWithRetries(data, timeoutMs);
  }

  private async proposeWithRetries(data: Uint8Array, timeoutMs: number): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new RaftError('stopped', 'raft member stopped');
      const lead = await this.waitForLeader(deadline);
      let r: ProposeResult;
      if (lead === this.id) {
        r = this.node.propose(data);
        this.scheduleReady();
      } else {
        let resp: ProposeResponse;
        try {
          resp = await this.forwarder.propose(lead, data, deadline);
        } catch (e) {
          if (e instanceof ProposalBatcherFullError) throw new RaftError('dropped', `proposal dropped: ${e.message}`, lead);
          // Retrying is only safe when the leader cannot have received the proposal: otherwise a
          // second copy could be committed after the first (found by the Jepsen register test).
          if (!neverSent(e)) throw new RaftError('timeout', `outcome unknown: forwarding to leader ${lead.toString(16)} failed: ${(e as Error).message}`, lead);
          if (Date.now() >= deadline) throw new RaftError('timeout', `request timed out forwarding to leader ${lead.toString(16)}`, lead);
          // The leader is unreachable: try again with whoever leads now.
          await new Promise((res) => setTimeout(res, Math.min(50 * (attempt + 1), 500)));
          continue;
        }
        r = resp.error === '' ? { ok: true, term: resp.term, index: resp.index } : { ok: false, reason: resp.error as 'not-leader', leader: resp.leader };
      }
      if (r.ok) return this.waitApplied(r.index, r.term, deadline);
      if (r.reason === 'not-leader' && attempt < 5) {
        await new Promise((res) => setTimeout(res, 20 * (attempt + 1)));
        continue;
      }
      if (r.reason === 'not-leader') throw new RaftError('not-leader', 'not leader', r.leader);
      throw new RaftError(r.reason === 'invalid-conf-change' ? 'invalid' : 'dropped', `proposal dropped: ${r.reason}${r.detail ? `: ${r.detail}` : ''}`, r.leader);
    }
  }

  private waitApplied(index: number, term: number, deadline: number): Promise<unknown> {
    if (index <= this.applied) {
      const rec = this.recent.get(index);
      if (rec && rec.term === term) return Promise.resolve(rec.result);
      if (rec) return Promise.reject(new RaftError('superseded', `proposal at index ${index} was overwritten by a new leader`));
      return Promise.reject(new RaftError('timeout', `outcome of proposal ${index} is no longer known here`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(index);
        reject(new RaftError('timeout', 'request timed out', this.lead));
      }, Math.max(1, deadline - Date.now()));
      const prev = this.waiters.get(index);
      if (prev) {
        // Two proposals can only share an index across terms: the older one lost.
        clearTimeout(prev.timer);
        prev.reject(new RaftError('superseded', `proposal at index ${index} was overwritten`));
      }
      this.waiters.set(index, { term, resolve, reject, timer });
    });
  }

  /**
   * A linearizable read barrier: resolves (with the read index) once this member's state machine
   * reflects every write committed before the call. Concurrent calls share one ReadIndex round.
   */
  readIndex(timeoutMs = this.o.requestTimeoutMs): Promise<number> {
    if (this.stopped) return Promise.reject(new RaftError('stopped', 'raft member stopped'));
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new RaftError(this.node.raft.lead === NONE ? 'no-leader' : 'timeout', this.node.raft.lead === NONE ? 'no leader' : 'request timed out', this.lead));
      }, timeoutMs);
      this.readNext.push({
        resolve: (i) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(i);
        },
        reject: (e) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(e);
        },
      });
      this.issueRead();
    });
  }

  /** Starts a ReadIndex round for everyone waiting, unless one is in flight. */
  private issueRead(): void {
    if (this.readInFlight || this.readNext.length === 0 || this.stopped) return;
    const seq = ++this.readSeq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, seq);
    const batch: ReadBatch = { ctx, key: Buffer.from(ctx).toString('hex'), waiters: this.readNext, index: undefined, issuedAt: Date.now() };
    this.readNext = [];
    if (!this.node.readIndex(ctx)) {
      // No leader known yet: keep the waiters and retry on the next tick.
      this.readNext = batch.waiters.concat(this.readNext);
      return;
    }
    this.readInFlight = batch;
    this.scheduleReady();
  }

  private retryStuckRead(): void {
    const b = this.readInFlight;
    if (b && Date.now() - b.issuedAt > this.o.tickMs * this.o.electionTicks) {
      // The request or its answer was lost (e.g. leader change): ask again.
      this.readInFlight = undefined;
      this.readNext = b.waiters.concat(this.readNext);
    }
    this.issueRead();
  }

  private onReadState(ctx: Uint8Array, index: number): void {
    const b = this.readInFlight;
    if (!b || Buffer.from(ctx).toString('hex') !== b.key) return;
    this.readInFlight = undefined;
    this.readsByIndex.push({ index, waiters: b.waiters });
    this.issueRead();
  }

  private serveReads(): void {
    if (this.readsByIndex.length === 0) return;
    const keep: typeof this.readsByIndex = [];
    for (const r of this.readsByIndex) {
      if (r.index <= this.applied) for (const w of r.waiters) w.resolve(r.index);
      else keep.push(r);
    }
    this.readsByIndex = keep;
  }

  /** Asks the leader to hand leadership to `to` and waits until it has (or the deadline). */
  async transferLeadership(to: NodeId, timeoutMs = this.o.requestTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!this.node.raft.prs.isVoter(to)) throw new RaftError('invalid', `member ${to.toString(16)} is not a voting member`);
    while (this.node.raft.lead !== to) {
      if (this.stopped) throw new RaftError('stopped', 'raft member stopped');
      if (Date.now() > deadline) throw new RaftError('timeout', `leadership did not move to ${to.toString(16)} in time`, this.lead);
      if (this.node.raft.state === StateType.Leader || this.node.raft.lead !== NONE) {
        this.node.transferLeadership(to);
        this.scheduleReady();
      }
      await new Promise((r) => setTimeout(r, Math.max(10, this.o.tickMs)));
    }
  }

  /** Proposes a membership change; resolves with the state machine's result once applied here. */
  async proposeConfChange(cc: ConfChange, timeoutMs = this.o.requestTimeoutMs): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lead = await this.waitForLeader(deadline);
      if (lead !== this.id) throw new RaftError('not-leader', 'membership changes go to the leader', lead);
      const r = this.node.proposeConfChange(cc);
      this.scheduleReady();
      if (r.ok) return this.waitApplied(r.index, r.term, deadline);
      if (r.reason === 'conf-change-in-progress' && Date.now() < deadline) {
        // The previous change (or the new leader's first entry) is still being applied.
        await new Promise((res) => setTimeout(res, this.o.tickMs));
        continue;
      }
      throw new RaftError(r.reason === 'invalid-conf-change' ? 'invalid' : 'dropped', `membership change refused: ${r.reason}${r.detail ? `: ${r.detail}` : ''}`, r.leader);
    }
  }

  status(): RaftStatus & { snapshotIndex: number; appliedHere: number; durableIndex: number } {
    return { ...this.node.status(), snapshotIndex: this.snapshotIndex, appliedHere: this.applied, durableIndex: this.store.memory.lastIndex() };
  }

  /**
   * Stops the member. A leader first hands leadership to the most up-to-date voter (bounded
   * wait), so the cluster does not wait for an election timeout.
   */
  async stop(o: { transferLeadership?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    if (o.transferLeadership !== false && this.isLeader()) {
      const st = this.node.status();
      let best: NodeId = NONE;
      let bestMatch = -1;
      for (const [id, p] of st.progress) {
        if (id !== this.id && !p.isLearner && p.match > bestMatch) {
          best = id;
          bestMatch = p.match;
        }
      }
      if (best !== NONE) {
        try {
          await this.transferLeadership(best, o.timeoutMs ?? this.o.tickMs * this.o.electionTicks * 2);
          this.log.info('handed leadership over before stopping', { to: best.toString(16) });
        } catch (e) {
          this.log.warn('leadership transfer before stopping failed', { err: (e as Error).message });
        }
      }
    }
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const [, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new RaftError('stopped', 'raft member stopped', this.lead));
    }
    this.waiters.clear();
    const reads = [...this.readNext, ...(this.readInFlight?.waiters ?? []), ...this.readsByIndex.flatMap((r) => r.waiters)];
    this.readNext = [];
    this.readInFlight = undefined;
    this.readsByIndex = [];
    for (const w of reads) w.reject(new RaftError('stopped', 'raft member stopped', this.lead));
    for (const w of this.leaderWaiters) {
      clearTimeout(w.timer);
      w.resolve();
    }
    await this.applyIdle;
    await this.transport.stop();
    await this.store.close();
  }
}

/**
 * Whether a failed peer call certainly never reached the peer (no connection could be made), so
 * that sending it again cannot make it happen twice.
 */
export function neverSent(e: unknown): boolean {
  // The peer transport says so itself (peer-transport.ts: PeerCallError, peer-dial.ts: DialError).
  const flag = (e as { neverSent?: unknown } | null)?.neverSent;
  if (typeof flag === 'boolean') return flag;
  const err = e as { code?: number; details?: string; message?: string };
  const text = `${err.details ?? ''} ${err.message ?? ''}`;
  if (/no address known/.test(text)) return true;
  if (err.code !== 14) return false; // only UNAVAILABLE; deadlines and resets are ambiguous
  return /No connection established|ECONNREFUSED|connect E/i.test(text);
}
