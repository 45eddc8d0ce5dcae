// The Raft state machine. Pure: it reads no clock (time is `tick()`), draws randomness only
// from the PRNG it is given, and does no I/O — it appends messages to `msgs` and changes the
// log, and the runtime (raft-node.ts's Ready/advance contract) persists and sends.
//
// Structure follows the Raft paper and etcd-io/raft: term handling common to all roles first,
// then a step function per role. Comments cite the rule each branch implements.

import { invariant } from '../../common/assert.js';
import type { Prng } from '../../common/prng.js';
import { applyToConfState, decodeConfChange, type ConfChange, encodeConfChange } from './conf-change.js';
import { ProgressState } from './progress.js';
import { ProgressTracker } from './progress-tracker.js';
import { VoteResult, majorityVoteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import { CompactedError, SnapshotTemporarilyUnavailableError, UnavailableError, type Storage } from './storage.js';
import {
  EntryType,
  MessageType,
  NONE,
  StateType,
  entriesSize,
  newMessage,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from './types.js';

/** Context of the votes of an election forced by a leadership transfer (bypasses leader lease). */
export const CAMPAIGN_TRANSFER = new Uint8Array([0x54, 0x52]); // "TR"

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns (randomised in [n, 2n)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /** Last index the application has applied (restart); entries after it are handed out again. */
  applied?: number;
  /** Bytes of entries per append message. */
  maxSizePerMsg?: number;
  /** Bytes of committed entries per Ready. */
  maxCommittedSizePerReady?: number;
  /** Append messages in flight per follower in Replicate state. */
  maxInflightMsgs?: number;
  /** Bytes of proposed-but-uncommitted entries the leader accepts before refusing proposals. */
  maxUncommittedEntriesSize?: number;
  /** Outstanding ReadIndex requests the leader holds. */
  maxPendingReadIndex?: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  prng: Prng;
}

export type DropReason =
  | 'not-leader'
  | 'leadership-transfer'
  | 'not-member'
  | 'too-many-uncommitted'
  | 'conf-change-in-progress'
  | 'invalid-conf-change';

/**
 * The outcome of a proposal. When accepted, (term, index) identifies the entry: the proposal
 * committed iff the entry applied at `index` has this `term`; another term there means it was
 * superseded by a new leader.
 */
export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; reason: DropReason; leader: NodeId; detail?: string };

enum CampaignType {
  PreElection,
  Election,
  Transfer,
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = StateType.Follower;
  readonly raftLog: RaftLog;
  readonly prs: ProgressTracker;
  isLearner = false;

  /** Outgoing messages, taken by the next Ready. */
  msgs: Message[] = [];
  /** ReadIndex requests that became safe, taken by the next Ready. */
  readStates: ReadState[] = [];

  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private randomizedElectionTimeout = 0;
  electionElapsed = 0;
  private heartbeatElapsed = 0;

  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  private readonly maxMsgSize: number;
  private readonly maxUncommittedSize: number;
  private readonly maxPendingReadIndex: number;
  private readonly prng: Prng;

  leadTransferee: NodeId = NONE;
  /** Index of the latest conf change proposed; no new one until it is applied. */
  pendingConfIndex = 0;
  private uncommittedSize = 0;
  readonly readOnly: ReadOnly;
  /** ReadIndex requests received before this leader committed an entry of its term. */
  private pendingReadIndexMessages: Message[] = [];

  constructor(c: RaftConfig) {
    invariant(c.id !== NONE, 'cannot use none as id');
    invariant(c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
    invariant(c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.maxMsgSize = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? 64 * 1024 * 1024;
    this.maxPendingReadIndex = c.maxPendingReadIndex ?? 4096;
    this.prng = c.prng;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? 16 * 1024 * 1024);
    this.prs = new ProgressTracker(c.maxInflightMsgs ?? 256);
    this.readOnly = new ReadOnly(this.maxPendingReadIndex);

    const { hardState, confState } = c.storage.initialState();
    this.prs.setConfig(confState, this.raftLog.lastIndex() + 1);
    this.isLearner = this.prs.learners.has(this.id);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () => `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---------------------------------------------------------------- sending

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp
    ) {
      // Vote traffic carries the term of the campaign it belongs to, set by the caller.
      invariant(m.term !== 0, () => `term should be set when sending ${MessageType[m.type]}`);
    } else {
      invariant(m.term === 0, () => `term should not be set when sending ${MessageType[m.type]} (was ${m.term})`);
      // Forwarded proposals and read requests are local to their origin: no term.
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex && m.type !== MessageType.TransferLeader) {
        m.term = this.term;
      }
    }
    this.msgs.push(m);
  }

  /** Sends an append (or a snapshot) to `to` if flow control allows; true if something was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return this.maybeSendSnapshot(to);
      throw e;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      newMessage(MessageType.App, {
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      }),
    );
    pr.sentEntries(ents.length, ents.length > 0 ? (ents[ents.length - 1] as Entry).index : prevIndex);
    return true;
  }

  private maybeSendSnapshot(to: NodeId): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || !pr.recentActive) return false; // don't ship a snapshot to a node that may be down
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) return false;
      throw e;
    }
    invariant(snapshot.metadata.index !== 0, 'need non-empty snapshot');
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send(newMessage(MessageType.Snap, { to, snapshot }));
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private sendHeartbeat(to: NodeId, ctx: Uint8Array | undefined): void {
    const pr = this.prs.progress.get(to);
    // A follower may not have the leader's whole log: commit only what it is known to hold.
    const commit = Math.min(pr?.match ?? 0, this.raftLog.committed);
    const m = newMessage(MessageType.Heartbeat, { to, commit });
    if (ctx) m.context = ctx;
    this.send(m);
  }

  bcastAppend(): void {
    for (const id of this.prs.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx();
    for (const id of this.prs.progress.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  // ---------------------------------------------------------------- role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      pr.match = id === this.id ? this.stableLastIndex() : 0;
      pr.next = last + 1;
      pr.state = ProgressState.Probe;
      pr.pendingSnapshot = 0;
      pr.msgAppFlowPaused = false;
      pr.recentActive = false;
      pr.inflights.reset();
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  /** The last index durably stored here and still part of the log. */
  stableLastIndex(): number {
    if (this.raftLog.hasNextOrInProgressSnapshot()) return 0;
    return this.raftLog.unstable.offset - 1;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  private becomeCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  private becomePreCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote: it only asks whether it could win.
    this.prs.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  private becomeLeader(): void {
    invariant(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.prs.progress.get(this.id);
    if (self) self.becomeReplicate();
    // The no-op entry of the new term: committing it commits everything before it (§5.4.2).
    const ok = this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    invariant(ok, 'empty entry was dropped');
    // No conf change until this leader's first entry (the no-op just appended) is applied
    // (single-server change safety).
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The no-op does not count towards the uncommitted-size limit.
    this.uncommittedSize = 0;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.prng.int(this.electionTimeout);
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  /** Can this node become leader? (A voter, with no snapshot being installed.) */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  // ---------------------------------------------------------------- log

  private appendEntries(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const size = entriesSize(es);
    if (this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > this.maxUncommittedSize) return false;
    this.uncommittedSize += size;
    for (let i = 0; i < es.length; i++) {
      const e = es[i] as Entry;
      e.term = this.term;
      e.index = li + 1 + i;
    }
    this.raftLog.append(es);
    // The leader's own acknowledgement comes when the entries are durable (advance).
    return true;
  }

  /** Recomputes the commit index from the quorum; true if it advanced. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  /** The runtime reports entries durable up to stableIndex: the leader counts its own ack. */
  onStable(): void {
    if (this.state !== StateType.Leader) return;
    const self = this.prs.progress.get(this.id);
    if (!self) return;
    if (self.maybeUpdate(this.stableLastIndex()) && this.maybeCommit()) this.onCommitAdvanced();
  }

  private onCommitAdvanced(): void {
    if (this.committedEntryInCurrentTerm()) this.releasePendingReadIndexMessages();
    this.bcastAppend();
  }

  /** Returns committed sizes to the proposal budget once they are handed to the application. */
  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    const s = entriesSize(ents);
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.committed) === this.term;
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage(MessageType.Hup, { from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage(MessageType.CheckQuorum, { from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage(MessageType.Beat, { from: this.id }));
    }
  }

  // ---------------------------------------------------------------- elections

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    // A conf change committed but not applied may change who votes: wait until it is applied.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    let lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    while (lo < hi) {
      const ents = this.raftLog.slice(lo, hi, 4 * 1024 * 1024);
      if (ents.length === 0) break;
      for (const e of ents) if (e.type === EntryType.ConfChange) return true;
      lo = (ents[ents.length - 1] as Entry).index + 1;
    }
    return false;
  }

  private campaign(t: CampaignType): void {
    let voteMsg: MessageType;
    let term: number;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      // Pre-votes ask about the next term without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    // Vote for self first (persisted with the HardState before any request goes out).
    const res = this.poll(this.id, voteMsg === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp, true);
    if (res === VoteResult.Won) {
      // Single voter: the election is already won.
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.prs.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      const m = newMessage(voteMsg, {
        to: id,
        term,
        index: this.raftLog.lastIndex(),
        logTerm: this.raftLog.lastTerm(),
      });
      if (t === CampaignType.Transfer) m.context = CAMPAIGN_TRANSFER;
      this.send(m);
    }
  }

  private poll(id: NodeId, _t: MessageType, granted: boolean): VoteResult {
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    // Term handling common to every role (Raft §5.1, plus pre-vote and leader lease).
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context !== undefined && bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Within the lease of a leader we heard from, ignore disruptive candidates (§4.2.3).
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The term is bumped when a quorum grants the pre-vote, not on each grant.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. back from a partition) learns our term and steps down. Without
        // this, with check-quorum or pre-vote it could never hear a higher term.
        this.send(newMessage(MessageType.AppResp, { to: m.from }));
      } else if (m.type === MessageType.PreVote && this.term > 0) {
        this.send(newMessage(MessageType.PreVoteResp, { to: m.from, term: this.term, reject: true }));
      }
      // Ignore every other message from an old term.
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        // We can vote if we repeat a vote, have not voted and know no leader in this term, or
        // (pre-vote) the candidate asks about a future term.
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
        // Grant only to candidates whose log is at least as up-to-date as ours (§5.4.1).
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.send(newMessage(respType, { to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else if (this.term > 0) {
          // (A node that never saw a term — a fresh joiner — has nothing to say: no answer.)
          this.send(newMessage(respType, { to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        switch (this.state) {
          case StateType.Leader:
            this.stepLeader(m);
            return;
          case StateType.Candidate:
          case StateType.PreCandidate:
            this.stepCandidate(m);
            return;
          case StateType.Follower:
            this.stepFollower(m);
            return;
        }
    }
  }

  /** Local proposal. Only the leader accepts; the runtime forwards clients to the leader. */
  propose(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.state !== StateType.Leader) return { ok: false, reason: 'not-leader', leader: this.lead };
    if (!this.prs.progress.has(this.id)) return { ok: false, reason: 'not-member', leader: NONE };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'leadership-transfer', leader: this.lead };
    if (type === EntryType.ConfChange) {
      if (this.pendingConfIndex > this.raftLog.applied) {
        return { ok: false, reason: 'conf-change-in-progress', leader: this.lead };
      }
      const cc = decodeConfChange(data);
      const next = applyToConfState(this.prs.confState(), cc);
      if (typeof next === 'string') return { ok: false, reason: 'invalid-conf-change', leader: this.lead, detail: next };
    }
    const e: Entry = { term: 0, index: 0, type, data };
    if (!this.appendEntries([e])) return { ok: false, reason: 'too-many-uncommitted', leader: this.lead };
    if (type === EntryType.ConfChange) this.pendingConfIndex = e.index;
    if (this.prs.isSingleton()) {
      // Nothing to send; commit follows once the entry is durable (onStable).
    } else {
      this.bcastAppend();
    }
    return { ok: true, index: e.index, term: e.term };
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.prs.quorumActive(this.id)) {
          // Lost contact with a majority for a whole election timeout: step down (§6.2).
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.prs.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.Prop:
        // Proposals arrive through propose(); a forwarded one is not supported.
        return;
      case MessageType.ReadIndex:
        this.leaderReadIndex(m);
        return;
      default:
        break;
    }

    // Everything below is a response or request from a known member.
    const pr = this.prs.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp: {
        pr.recentActive = true;
        if (m.reject) {
          // Fast back-off: jump to the follower's hint, then further back to the last index of
          // our log whose term is <= the follower's term there (one round trip per term).
          let nextProbeIdx = m.rejectHint;
          if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const oldPaused = pr.isPaused();
        const updated = pr.maybeUpdate(m.index);
        // A probe answered with the index we already knew still tells us where the follower is.
        if (!updated && !(pr.match === m.index && pr.state === ProgressState.Probe)) return;
        if (pr.state === ProgressState.Probe) {
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.raftLog.firstIndex()) {
          // The follower caught up with the snapshot and the log can take it from here.
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) {
          pr.inflights.freeLE(m.index);
        }
        if (this.maybeCommit()) {
          this.onCommitAdvanced();
        } else if (oldPaused) {
          this.sendAppend(m.from);
        }
        // Keep the pipeline full while flow control allows.
        while (this.maybeSendAppend(m.from, false)) {
          // loop
        }
        if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
          this.sendTimeoutNow(m.from);
        }
        return;
      }
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        // The follower is alive but acks may have been lost: free a slot so the stream resumes
        // (a gap then makes the follower reject, and the leader falls back to probing).
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressState.Probe) this.sendAppend(m.from);
        if (!m.context || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks) return;
        const votes = new Map<NodeId, boolean>();
        for (const id of acks) votes.set(id, true);
        if (majorityVoteResult(this.prs.voters, votes) !== VoteResult.Won) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the follower's answer (or the next heartbeat) before probing again.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.Unreachable:
        // The transport failed to deliver: stop streaming optimistically, probe instead.
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === transferee) return; // already in progress
          this.abortLeaderTransfer();
        }
        if (transferee === this.id) return; // already leader
        // The transfer must finish within an election timeout (see tickHeartbeat).
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
        else this.sendAppend(transferee);
        return;
      }
      default:
        return;
    }
  }

  private leaderReadIndex(m: Message): void {
    // The only voter is a quorum by itself: no heartbeat round (learners' acks never count).
    if (this.prs.voters.size === 1 && this.prs.isVoter(this.id)) {
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    // The commit index is only known to be current once an entry of this term committed (§6.4).
    if (!this.committedEntryInCurrentTerm()) {
      if (this.pendingReadIndexMessages.length < this.maxPendingReadIndex) this.pendingReadIndexMessages.push(m);
      return;
    }
    this.sendReadIndexHeartbeat(m);
  }

  private sendReadIndexHeartbeat(m: Message): void {
    const ctx = m.entries[0]?.data;
    if (!ctx) return;
    if (!this.readOnly.addRequest(this.raftLog.committed, m)) return;
    this.readOnly.recvAck(this.id, ctx);
    for (const id of this.prs.progress.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  private releasePendingReadIndexMessages(): void {
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexHeartbeat(m);
  }

  private respondToReadIndex(req: Message, readIndex: number): void {
    const ctx = req.entries[0]?.data ?? new Uint8Array(0);
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: ctx });
      return;
    }
    this.send(newMessage(MessageType.ReadIndexResp, { to: req.from, index: readIndex, entries: req.entries }));
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const res = this.poll(m.from, m.type, !m.reject);
        if (res === VoteResult.Won) {
          if (this.state === StateType.PreCandidate) this.campaign(CampaignType.Election);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === VoteResult.Lost) {
          // A pre-candidate that lost returns to follower at its own (unchanged) term.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.TimeoutNow:
        // The leader asks us to take over now: skip pre-vote and the lease check.
        this.hup(CampaignType.Transfer);
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.ReadIndexResp:
        if (m.entries.length !== 1) return;
        this.readStates.push({ index: m.index, requestCtx: (m.entries[0] as Entry).data });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(newMessage(MessageType.AppResp, { to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(newMessage(MessageType.AppResp, { to: m.from, index: lastNew }));
      return;
    }
    // Mismatch at m.index: hint the largest index whose term is <= m.logTerm so the leader can
    // skip back a whole term at a time.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const hint = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.send(
      newMessage(MessageType.AppResp, {
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = newMessage(MessageType.HeartbeatResp, { to: m.from });
    if (m.context) resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) return;
    if (this.restore(s)) {
      this.send(newMessage(MessageType.AppResp, { to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(newMessage(MessageType.AppResp, { to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or already covered by our log. */
  private restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // Defensive: only followers receive snapshots; become one, keeping the leader.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    // The snapshot's configuration may not include us yet: a member added after the snapshot
    // was taken gets the snapshot, then the log entry that adds it. Until that entry is applied
    // we are not in our own configuration, hence not promotable; that is safe.
    const cs = s.metadata.confState;
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      // We already have the entry at the snapshot's index: just move the commit index.
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs.progress.clear();
    this.prs.setConfig(cs, this.raftLog.lastIndex() + 1);
    this.isLearner = this.prs.learners.has(this.id);
    return true;
  }

  // ---------------------------------------------------------------- leadership transfer

  private sendTimeoutNow(to: NodeId): void {
    this.send(newMessage(MessageType.TimeoutNow, { to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---------------------------------------------------------------- membership

  /**
   * Applies a committed conf change (the application calls this when it applies the entry).
   * Returns the new configuration (unchanged if the change is not allowed).
   */
  applyConfChange(cc: ConfChange): ConfState {
    const next = applyToConfState(this.prs.confState(), cc);
    if (typeof next === 'string') return this.prs.confState();
    const before = new Set(this.prs.progress.keys());
    this.prs.setConfig(next, this.raftLog.lastIndex() + 1);
    for (const id of [...next.voters, ...next.learners]) {
      const pr = this.prs.progress.get(id);
      // A node just added counts as recently active, so check-quorum does not drop us before
      // it had a chance to answer.
      if (pr && !before.has(id)) pr.recentActive = true;
    }
    this.isLearner = this.prs.learners.has(this.id);
    if (this.state !== StateType.Leader) return next;

    if (this.leadTransferee !== NONE && !this.prs.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    if (!this.prs.isVoter(this.id)) {
      // A removed (or demoted) leader steps down. First tell everyone the commit index, and
      // hand over to an up-to-date voter so that the cluster does not wait for a timeout.
      this.bcastAppend();
      const last = this.raftLog.lastIndex();
      const heir = [...this.prs.voters].sort((a, b) => a - b).find((id) => this.prs.progress.get(id)?.match === last);
      if (heir !== undefined) this.sendTimeoutNow(heir);
      this.becomeFollower(this.term, NONE);
      return next;
    }
    // The quorum changed: something may commit now, and new members need appends.
    if (this.maybeCommit()) this.onCommitAdvanced();
    else this.bcastAppend();
    return next;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export { encodeConfChange };
