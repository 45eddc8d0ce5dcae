// The vocabulary of the Raft core: log entries, messages, persistent state and the Ready batch
// the runtime acts on. Plain data only; nothing here does I/O.

/** Node ids are positive safe integers; 0 means "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

export enum EntryType {
  /** Application data (an empty Normal entry is the no-op a new leader appends). */
  Normal = 0,
  /** A membership change, encoded with `encodeConfChange` (raft/core/conf-change.ts). */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export enum MessageType {
  // Local messages (never sent over the network).
  Hup = 0,
  Beat = 1,
  Prop = 2,
  CheckQuorum = 3,
  Unreachable = 4,
  SnapStatus = 5,
  // Peer messages.
  App = 10,
  AppResp = 11,
  Vote = 12,
  VoteResp = 13,
  PreVote = 14,
  PreVoteResp = 15,
  Snap = 16,
  Heartbeat = 17,
  HeartbeatResp = 18,
  TransferLeader = 19,
  TimeoutNow = 20,
  ReadIndex = 21,
  ReadIndexResp = 22,
}

export function isLocalMessage(t: MessageType): boolean {
  return t < MessageType.App;
}

export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.PreVoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.ReadIndexResp
  );
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** The application's state at metadata.index; opaque to the core. */
  data: Uint8Array;
}

export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** App: term of the entry at `index`. AppResp reject: term at rejectHint. Vote: last log term. */
  logTerm: number;
  /** App: index preceding `entries`. AppResp: the acknowledged (or rejected) index. Vote: last log index. */
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** Vote: CAMPAIGN_TRANSFER for a leadership-transfer election; Heartbeat(Resp): a ReadIndex context. */
  context?: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export enum StateType {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  lead: NodeId;
  state: StateType;
}

/** A ReadIndex request that is now safe: serve it once the state machine has applied `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/**
 * What the runtime must do, in this order:
 * 1. persist `hardState`, `entries` and `snapshot` (synced to disk when `mustSync`);
 * 2. send `messages` (only now: votes and acknowledgements depend on step 1);
 * 3. apply `snapshot` then `committedEntries` to the state machine, serve `readStates` once applied;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  mustSync: boolean;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: NONE, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

/** Rough size of an entry for flow control (bytes of payload plus a fixed overhead). */
export function entrySize(e: Entry): number {
  return e.data.length + 16;
}

export function entriesSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += entrySize(e);
  return n;
}

/** Keeps a prefix of `ents` whose size is within maxSize, but always at least one entry. */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0] as Entry);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n] as Entry);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export function newMessage(type: MessageType, init: Partial<Message> = {}): Message {
  return {
    type,
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...init,
  };
}
