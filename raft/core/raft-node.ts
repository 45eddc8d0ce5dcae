// The public face of the Raft core (etcd-io/raft's RawNode): feed it ticks, peer messages and
// requests; take a Ready, act on it (persist, send, apply), then advance. Single-threaded and
// synchronous.
//
// Several Readys may be outstanding (a runtime that writes Ready N+1's entries while Ready N's
// write is in flight, as etcd-io/raft's asynchronous storage writes allow): each hands out only
// entries no earlier Ready did, and they are advanced in the order they were taken. A Ready
// that installs a snapshot or changes the term or vote is a barrier: it is only taken when no
// other is outstanding (see canTakeWhileOutstanding), and none is taken until it is advanced.

import { invariant } from '../../common/assert.js';
import { decodeConfChange, encodeConfChange, ConfChangeType, type ConfChange } from './conf-change.js';
import type { MemoryStorage } from './memory-storage.js';
import { ProgressState } from './progress.js';
import { Raft, type ProposeResult, type RaftConfig } from './raft.js';
import {
  EntryType,
  MessageType,
  NONE,
  StateType,
  hardStateEqual,
  isLocalMessage,
  newMessage,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SoftState,
} from './types.js';

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
  inflight: number;
  pendingSnapshot: number;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  lead: NodeId;
  state: StateType;
  leadTransferee: NodeId;
  config: ConfState;
  /** Only on the leader. */
  progress: Map<NodeId, ProgressStatus>;
}

export class RaftNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** Readys taken and not yet advanced, oldest first. */
  private readonly outstanding: Ready[] = [];
  /** One of them installs a snapshot or changes term or vote: nothing may overlap it. */
  private barrierOutstanding = false;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Writes the initial state of a brand-new cluster member into empty storage: one AddNode
   * entry per initial voter at term 1, all committed. Every initial member must bootstrap with
   * the same list (and contexts) so their logs agree. The entries are then applied through the
   * normal path, which is how the configuration comes into effect.
   */
  static bootstrap(storage: MemoryStorage, peers: { id: NodeId; context?: Uint8Array }[]): void {
    invariant(storage.lastIndex() === 0, 'bootstrap: storage is not empty');
    invariant(peers.length > 0, 'bootstrap: no peers');
    const ents: Entry[] = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: p.id, context: p.context ?? new Uint8Array(0) }),
    }));
    storage.append(ents);
    storage.setHardState({ term: 1, vote: NONE, commit: ents.length });
  }

  tick(): void {
    this.raft.tick();
  }

  /** A message from a peer. Local message types are refused (they have their own methods). */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new Error(`raft: cannot step local message ${MessageType[m.type]} from the network`);
    // Responses from nodes we do not track are meaningless to us.
    if (!this.raft.prs.progress.has(m.from) && isResponse(m.type) && this.raft.state === StateType.Leader) return;
    this.raft.step(m);
  }

  campaign(): void {
    this.raft.step(newMessage(MessageType.Hup, { from: this.raft.id }));
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(EntryType.Normal, data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.raft.propose(EntryType.ConfChange, encodeConfChange(cc));
  }

  /** Call when a committed ConfChange entry is applied; returns the configuration to record. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  static decodeConfChange(e: Entry): ConfChange {
    return decodeConfChange(e.data);
  }

  /**
   * Requests a linearizable read point. `ctx` identifies the request; a ReadState with the same
   * ctx appears in a later Ready once safe. Returns false if there is no known leader to ask.
   */
  readIndex(ctx: Uint8Array): boolean {
    // The context is how the answer finds its request; an empty one could never be matched.
    if (ctx.length === 0) throw new Error('raft: readIndex needs a non-empty request context');
    if (this.raft.state !== StateType.Leader && this.raft.lead === NONE) return false;
    this.raft.step(
      newMessage(MessageType.ReadIndex, { entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }] }),
    );
    return true;
  }

  /** Asks the leader to hand leadership to `transferee` (forwarded if we are a follower). */
  transferLeadership(transferee: NodeId): void {
    this.raft.step(newMessage(MessageType.TransferLeader, { from: transferee }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage(MessageType.Unreachable, { from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage(MessageType.SnapStatus, { from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state) return true;
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.hasNextOrInProgressSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /** Readys taken and not yet advanced. */
  get outstandingReadys(): number {
    return this.outstanding.length;
  }

  /**
   * Whether the next Ready may be taken while others are outstanding: it installs no snapshot
   * and changes neither term nor vote (those must be durable before anything that depends on
   * them, and a snapshot replaces the log the outstanding writes append to), and no outstanding
   * Ready does either.
   */
  canTakeWhileOutstanding(): boolean {
    if (this.barrierOutstanding) return false;
    const r = this.raft;
    if (r.raftLog.hasNextOrInProgressSnapshot()) return false;
    return r.term === this.prevHardState.term && r.vote === this.prevHardState.vote;
  }

  /** Takes the next batch of work. Call advance(ready) when it is done. */
  ready(): Ready {
    const overlapOk = this.canTakeWhileOutstanding();
    invariant(this.outstanding.length === 0 || overlapOk, 'ready() taken over an outstanding snapshot or term/vote change, or one of those over outstanding Readys');
    const r = this.raft;
    const entries = [...r.raftLog.nextUnstableEnts()];
    r.raftLog.acceptUnstable();
    const committedEntries = r.raftLog.nextCommittedEnts();
    const rd: Ready = {
      readStates: r.readStates,
      entries,
      committedEntries,
      messages: r.msgs,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) {
      rd.hardState = hs;
      // A vote or term must be durable before any message that depends on it; commit alone need not be.
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    const snap = r.raftLog.nextUnstableSnapshot();
    if (snap) rd.snapshot = snap;
    if (entries.length > 0 || snap) rd.mustSync = true;

    r.msgs = [];
    r.readStates = [];
    if (committedEntries.length > 0) {
      r.raftLog.applyingTo((committedEntries[committedEntries.length - 1] as Entry).index);
      r.reduceUncommittedSize(committedEntries);
    }
    this.outstanding.push(rd);
    if (!overlapOk) this.barrierOutstanding = true;
    return rd;
  }

  /** The Ready was persisted, sent and applied (Readys are advanced in the order taken). */
  advance(rd: Ready): void {
    invariant(this.outstanding[0] === rd, () => (this.outstanding.length === 0 ? 'advance() without ready()' : 'advance() out of order'));
    this.outstanding.shift();
    if (this.outstanding.length === 0) this.barrierOutstanding = false;
    const r = this.raft;
    if (rd.snapshot) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      r.raftLog.appliedTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1] as Entry;
      r.raftLog.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      r.raftLog.appliedTo((rd.committedEntries[rd.committedEntries.length - 1] as Entry).index);
    }
    r.onStable();
    r.raftLog.checkInvariants();
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (r.state === StateType.Leader) {
      for (const [id, pr] of r.prs.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.length,
          pendingSnapshot: pr.pendingSnapshot,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      firstIndex: r.raftLog.firstIndex(),
      lead: r.lead,
      state: r.state,
      leadTransferee: r.leadTransferee,
      config: r.prs.confState(),
      progress,
    };
  }
}

function isResponse(t: MessageType): boolean {
  return t === MessageType.AppResp || t === MessageType.HeartbeatResp;
}
