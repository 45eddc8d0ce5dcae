// One simulated cluster member: the Raft core, its disk (survives crashes), its state machine
// (does not), and the Ready loop of the runtime contract — persist (taking simulated time, so
// a crash can lose an unfinished write), then send, then apply, then advance. Up to
// maxPipelinedReadys Readys may be in flight at once (the runtime writes the next Ready's entries
// while the last one's write runs); their writes finish in order, a crash loses all of them.

import type { Prng } from '../../common/prng.js';
import { decodeConfChange, type ConfChange } from '../core/conf-change.js';
import { RaftNode } from '../core/raft-node.js';
import { EntryType, StateType, type Entry, type Message, type NodeId, type Ready, type Snapshot } from '../core/types.js';
import type { SafetyChecker } from './checker.js';
import { DiskLog } from './disk-log.js';
import { chainHash, hashBytes } from './hash.js';
import { SimApp } from './sim-app.js';

export interface NodeTuning {
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  maxUncommittedEntriesSize: number;
  snapshotEvery: number;
  keepEntries: number;
  maxDiskDelay: number;
  /** Readys in flight at once (1: the classic loop, one Ready at a time). */
  maxPipelinedReadys: number;
}

/** What a node needs from the simulation around it. */
export interface NodeHost {
  readonly now: number;
  readonly checker: SafetyChecker;
  readonly prng: Prng;
  send(sender: NodeId, m: Message): void;
  onBecomeLeader(node: SimNode, term: number): void;
  onApplied(node: SimNode, e: Entry): void;
  onConfChangeApplied(node: SimNode, cc: ConfChange): void;
  onReadServed(node: SimNode, ctx: string, appliedIndex: number): void;
  onSnapshot(kind: 'taken' | 'installed'): void;
}

const snapshotPh = new WeakMap<Snapshot, number>();
function phOfSnapshot(s: Snapshot): number {
  let ph = snapshotPh.get(s);
  if (ph === undefined) {
    ph = SimApp.restore(s.data).prefixHash;
    snapshotPh.set(s, ph);
  }
  return ph;
}

export class SimNode {
  readonly disk = new DiskLog();
  core: RaftNode | undefined;
  app: SimApp | undefined;
  /** Readys taken whose writes have not finished, oldest first; they finish in this order. */
  private inflight: { rd: Ready; doneAt: number }[] = [];
  private pendingReads = new Map<string, number | undefined>();
  private lastCommitChecked = 0;
  /** Permanently stopped (removed from the cluster, or never admitted). */
  retired = false;
  downSince = 0;

  constructor(
    readonly id: NodeId,
    private readonly host: NodeHost,
    private readonly tuning: NodeTuning,
  ) {}

  get up(): boolean {
    return this.core !== undefined;
  }

  get isLeader(): boolean {
    return this.core?.raft.state === StateType.Leader;
  }

  /** Starts (or restarts) from what is on disk. */
  start(): void {
    const snap = this.disk.storage.snapshot();
    const app = snap.metadata.index > 0 ? SimApp.restore(snap.data) : new SimApp();
    app.confState = snap.metadata.confState;
    this.app = app;
    this.core = new RaftNode({
      id: this.id,
      electionTick: this.tuning.electionTick,
      heartbeatTick: this.tuning.heartbeatTick,
      storage: this.disk.storage,
      applied: snap.metadata.index,
      maxSizePerMsg: this.tuning.maxSizePerMsg,
      maxInflightMsgs: this.tuning.maxInflightMsgs,
      maxUncommittedEntriesSize: this.tuning.maxUncommittedEntriesSize,
      maxCommittedSizePerReady: 4 * this.tuning.maxSizePerMsg,
      checkQuorum: true,
      preVote: true,
      prng: this.host.prng.fork(),
    });
    // What this node persisted as committed must still be the committed log.
    const commit = this.disk.storage.getHardState().commit;
    for (let i = snap.metadata.index + 1; i <= commit; i++) {
      const ph = this.disk.phAt(i);
      if (ph !== undefined) this.host.checker.onCommitted(this.id, i, this.disk.storage.term(i), ph);
    }
    this.lastCommitChecked = Math.max(commit, snap.metadata.index);
    this.inflight = [];
    this.pendingReads.clear();
  }

  /** Loses everything not on disk, including a Ready whose write had not finished. */
  crash(): string[] {
    this.core = undefined;
    this.app = undefined;
    this.inflight = [];
    const abandoned = [...this.pendingReads.keys()];
    this.pendingReads.clear();
    this.downSince = this.host.now;
    return abandoned;
  }

  step(m: Message): void {
    this.core?.step(m);
  }

  tick(): void {
    this.core?.tick();
  }

  readIndex(ctx: string): boolean {
    if (!this.core) return false;
    if (!this.core.readIndex(new TextEncoder().encode(ctx))) return false;
    this.pendingReads.set(ctx, undefined);
    return true;
  }

  /** The prefix hash of this node's whole log (disk + unstable) at i. */
  logPhFrom(lo: number, hi: number, cb: (i: number, term: number, ph: number) => void): void {
    const core = this.core;
    if (!core || lo > hi) return;
    const log = core.raft.raftLog;
    const u = log.unstable;
    let base: number | undefined;
    let baseIndex: number;
    if (u.snapshot) {
      baseIndex = u.snapshot.metadata.index;
      base = phOfSnapshot(u.snapshot);
    } else {
      baseIndex = u.offset - 1;
      base = this.disk.phAt(baseIndex);
    }
    for (let i = lo; i <= Math.min(hi, baseIndex); i++) {
      const ph = u.snapshot ? (i === baseIndex ? base : undefined) : this.disk.phAt(i);
      if (ph !== undefined) cb(i, log.term(i), ph);
    }
    if (hi <= baseIndex || base === undefined) return;
    let h = base;
    for (let k = 0; k < u.entries.length; k++) {
      const e = u.entries[k] as Entry;
      if (e.index > hi) break;
      h = chainHash(h, e.term, hashBytes(e.data));
      if (e.index >= lo) cb(e.index, e.term, h);
    }
  }

  private logPhAt(i: number): number | undefined {
    let out: number | undefined;
    this.logPhFrom(i, i, (_i, _t, ph) => (out = ph));
    return out;
  }

  /** Runs the Ready loop as far as simulated time allows. */
  process(): void {
    for (let guard = 0; guard < 100; guard++) {
      const core = this.core;
      if (!core) return;
      const oldest = this.inflight[0];
      if (oldest && oldest.doneAt <= this.host.now) {
        this.inflight.shift();
        this.complete(oldest.rd);
        continue;
      }
      if (!core.hasReady()) return;
      if (oldest && (this.inflight.length >= this.tuning.maxPipelinedReadys || !core.canTakeWhileOutstanding())) return;
      const rd = core.ready();
      const checker = this.host.checker;
      if (rd.softState?.state === StateType.Leader) {
        const log = core.raft.raftLog;
        checker.onBecomeLeader(this.id, core.raft.term, log.lastIndex(), log.firstIndex() - 1, (i) => this.logPhAt(i));
        this.host.onBecomeLeader(this, core.raft.term);
      }
      if (rd.snapshot) this.lastCommitChecked = Math.max(this.lastCommitChecked, rd.snapshot.metadata.index);
      if (rd.hardState && rd.hardState.commit > this.lastCommitChecked) {
        this.logPhFrom(this.lastCommitChecked + 1, rd.hardState.commit, (i, term, ph) => checker.onCommitted(this.id, i, term, ph));
        this.lastCommitChecked = rd.hardState.commit;
      }
      const delay = this.tuning.maxDiskDelay > 0 ? this.host.prng.int(this.tuning.maxDiskDelay + 1) : 0;
      // The disk writes in order: a write cannot finish before the one queued ahead of it.
      const last = this.inflight[this.inflight.length - 1];
      this.inflight.push({ rd, doneAt: Math.max(this.host.now + delay, last ? last.doneAt : 0) });
    }
  }

  private complete(rd: Ready): void {
    const core = this.core;
    const checker = this.host.checker;
    if (!core || !this.app) return;
    // 1. persist
    if (rd.snapshot) this.disk.applySnapshot(rd.snapshot, phOfSnapshot(rd.snapshot));
    this.disk.append(rd.entries, (e, ph) => checker.onLogEntry(this.id, e.index, e.term, ph));
    if (rd.hardState) this.disk.storage.setHardState(rd.hardState);
    // 2. send
    for (const m of rd.messages) this.host.send(this.id, m);
    // 3. apply
    if (rd.snapshot) {
      const app = SimApp.restore(rd.snapshot.data);
      app.confState = rd.snapshot.metadata.confState;
      this.app = app;
      checker.onSnapshotRestore(this.id, rd.snapshot.metadata.index, app.prefixHash);
      this.host.onSnapshot('installed');
    }
    for (const e of rd.committedEntries) {
      const ph = this.app.apply(e);
      checker.onApply(this.id, e.index, e.term, ph);
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        this.app.confState = core.applyConfChange(cc);
        this.host.onConfChangeApplied(this, cc);
        if (!this.core) return; // the host stopped us
      }
      this.host.onApplied(this, e);
    }
    for (const rs of rd.readStates) {
      const ctx = new TextDecoder().decode(rs.requestCtx);
      if (this.pendingReads.has(ctx)) this.pendingReads.set(ctx, rs.index);
    }
    // 4. advance
    core.advance(rd);
    this.serveReads();
    this.maybeSnapshot();
  }

  private serveReads(): void {
    const app = this.app;
    if (!app) return;
    for (const [ctx, index] of this.pendingReads) {
      if (index !== undefined && app.appliedIndex >= index) {
        this.pendingReads.delete(ctx);
        this.host.onReadServed(this, ctx, app.appliedIndex);
      }
    }
  }

  /** Drops a read the client gave up on. */
  forgetRead(ctx: string): void {
    this.pendingReads.delete(ctx);
  }

  private maybeSnapshot(): void {
    const app = this.app;
    if (!app) return;
    const snapIndex = this.disk.storage.snapshot().metadata.index;
    if (app.appliedIndex - snapIndex < this.tuning.snapshotEvery) return;
    this.disk.createSnapshot(app.appliedIndex, app.confState, app.snapshotData());
    this.disk.compact(app.appliedIndex - this.tuning.keepEntries);
    this.host.onSnapshot('taken');
  }
}
