// A hand-driven cluster of RaftNodes for the core's unit tests. Unlike the simulator, nothing
// happens on its own: a test ticks nodes, delivers (or drops) exactly the messages it wants, and
// reads each node's state in between, so a test reads like a transcript of the paper's scenario.
//
// Each node runs the Ready contract of types.ts exactly: persist (snapshot, entries, hard state)
// into its MemoryStorage, then send, then apply (snapshot, then committed entries, calling
// applyConfChange for ConfChange entries), then advance. Messages are cloned when sent (as a
// real transport would serialise them) and sit in one FIFO queue until a test delivers them.
// Deterministic: every node's election timeouts come from a Prng seeded from (seed, id).

import { invariant } from '../../common/assert.js';
import { Prng } from '../../common/prng.js';
import { ConfChangeType, decodeConfChange, encodeConfChange, type ConfChange } from './conf-change.js';
import { MemoryStorage } from './memory-storage.js';
import { RaftNode } from './raft-node.js';
import type { ProposeResult, RaftConfig } from './raft.js';
import {
  EntryType,
  MessageType,
  StateType,
  newMessage,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Snapshot,
} from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/** Tuning shared by every node of a cluster (RaftConfig minus id, storage, prng). */
export interface NodeOptions {
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  maxUncommittedEntriesSize?: number;
  maxCommittedSizePerReady?: number;
  maxPendingReadIndex?: number;
}

export interface ClusterOptions extends NodeOptions {
  /** Initial voters, bootstrapped with RaftNode.bootstrap (default [1, 2, 3]). */
  voters?: NodeId[];
  /** Initial learners: committed AddLearnerNode entries written after the bootstrap entries. */
  learners?: NodeId[];
  /**
   * Per node: the terms of entries to write after the bootstrap entries (index voters+learners+1
   * onwards), as if left by earlier leaders. The node's HardState term is the last of them.
   */
  logs?: Record<NodeId, number[]>;
  /** Per node: the HardState term to start in (default: the last term of its `logs`, or 1). */
  terms?: Record<NodeId, number>;
  /** Seed of every node's PRNG (default 1). */
  seed?: number;
}

/** A message as it left its sender, with the sender's persisted HardState at that moment. */
export interface SentMessage {
  msg: Message;
  senderPersisted: HardState;
}

/** One member: its core, its "disk" (MemoryStorage) and a trivial state machine. */
export class TestNode {
  node: RaftNode;
  /** Every entry applied, in order (a restored snapshot replaces what came before it). */
  applied: Entry[] = [];
  appliedIndex = 0;
  /** The state machine: the payloads of applied non-empty Normal entries, in order. */
  appData: string[] = [];
  confState: ConfState = { voters: [], learners: [] };
  readStates: ReadState[] = [];
  /** Every Ready this node handled, in order. */
  readies: Ready[] = [];
  /** When set, the cluster does not run this node's Ready loop; the test drives it. */
  hold = false;
  down = false;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    private readonly makeConfig: (applied: number) => RaftConfig,
    applied = 0,
  ) {
    this.node = new RaftNode(makeConfig(applied));
  }

  get raft(): RaftNode['raft'] {
    return this.node.raft;
  }

  get term(): number {
    return this.node.raft.term;
  }

  get commit(): number {
    return this.node.raft.raftLog.committed;
  }

  get lastIndex(): number {
    return this.node.raft.raftLog.lastIndex();
  }

  /** Every entry of the log (stable and unstable) from firstIndex. */
  logEntries(): Entry[] {
    const log = this.node.raft.raftLog;
    return log.slice(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  }

  /** The term of every entry of the log from firstIndex, for compact assertions. */
  logTerms(): number[] {
    return this.logEntries().map((e) => e.term);
  }

  termAt(i: number): number {
    return this.node.raft.raftLog.zeroTermOnOutOfBounds(i);
  }

  /** Step 1 of the contract: make the Ready durable. */
  persist(rd: Ready): void {
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
  }

  /** Step 3 of the contract: apply the snapshot, then the committed entries, then read states. */
  apply(rd: Ready): void {
    if (rd.snapshot) {
      const s = rd.snapshot;
      this.appData = s.data.length > 0 ? (JSON.parse(text(s.data)) as string[]) : [];
      this.applied = [];
      this.appliedIndex = s.metadata.index;
      this.confState = { voters: [...s.metadata.confState.voters], learners: [...s.metadata.confState.learners] };
    }
    for (const e of rd.committedEntries) {
      invariant(e.index === this.appliedIndex + 1, () => `node ${this.id} applies ${e.index} after ${this.appliedIndex}`);
      this.applied.push(e);
      this.appliedIndex = e.index;
      if (e.type === EntryType.ConfChange) {
        this.confState = this.node.applyConfChange(decodeConfChange(e.data));
      } else if (e.data.length > 0) {
        this.appData.push(text(e.data));
      }
    }
    for (const rs of rd.readStates) this.readStates.push(rs);
  }

  /** The state machine's snapshot payload. */
  snapshotData(): Uint8Array {
    return bytes(JSON.stringify(this.appData));
  }

  /** Applied entries as "index@term" (conf changes too), for assertions. */
  appliedIds(): string[] {
    return this.applied.map((e) => `${e.index}@${e.term}`);
  }

  restartCore(applied: number): void {
    this.node = new RaftNode(this.makeConfig(applied));
  }
}

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  queue: Message[] = [];
  /** Every message ever sent, with its sender's persisted HardState at send time. */
  readonly sent: SentMessage[] = [];
  /** Messages dropped (by isolation or a drop rule) at delivery time. */
  readonly dropped: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private dropRules: ((m: Message) => boolean)[] = [];
  readonly options: ClusterOptions;

  constructor(options: ClusterOptions = {}) {
    this.options = options;
    const voters = options.voters ?? [1, 2, 3];
    const learners = options.learners ?? [];
    for (const id of [...voters, ...learners]) {
      const storage = new MemoryStorage();
      RaftNode.bootstrap(storage, voters.map((v) => ({ id: v })));
      let index = voters.length;
      if (learners.length > 0) {
        storage.append(
          learners.map((l) => ({
            term: 1,
            index: ++index,
            type: EntryType.ConfChange,
            data: encodeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: l, context: new Uint8Array(0) }),
          })),
        );
        storage.setHardState({ term: 1, vote: 0, commit: index });
      }
      const terms = options.logs?.[id] ?? [];
      const base = index;
      if (terms.length > 0) {
        storage.append(terms.map((t, k) => ({ term: t, index: base + 1 + k, type: EntryType.Normal, data: bytes(`old ${base + 1 + k}@${t}`) })));
      }
      const term = options.terms?.[id] ?? Math.max(1, ...terms);
      if (term > 1 || terms.length > 0) storage.setHardState({ term, vote: 0, commit: base });
      this.addNode(id, storage);
    }
    // Apply the bootstrap entries everywhere, which is how the configuration takes effect.
    this.processAll();
  }

  /** Config of node `id` (tests may use it to build a node by hand). */
  config(id: NodeId, storage: MemoryStorage, applied = 0, overrides: NodeOptions = {}): RaftConfig {
    const o = { ...this.options, ...overrides };
    const c: RaftConfig = {
      id,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      storage,
      applied,
      // The paper's protocol by default; tests of the extensions switch them on.
      preVote: o.preVote ?? false,
      checkQuorum: o.checkQuorum ?? false,
      prng: new Prng((this.options.seed ?? 1) * 7919 + id),
    };
    if (o.maxSizePerMsg !== undefined) c.maxSizePerMsg = o.maxSizePerMsg;
    if (o.maxInflightMsgs !== undefined) c.maxInflightMsgs = o.maxInflightMsgs;
    if (o.maxUncommittedEntriesSize !== undefined) c.maxUncommittedEntriesSize = o.maxUncommittedEntriesSize;
    if (o.maxCommittedSizePerReady !== undefined) c.maxCommittedSizePerReady = o.maxCommittedSizePerReady;
    if (o.maxPendingReadIndex !== undefined) c.maxPendingReadIndex = o.maxPendingReadIndex;
    return c;
  }

  /** Adds a member process. With no storage it starts empty (a node about to join). */
  addNode(id: NodeId, storage = new MemoryStorage()): TestNode {
    invariant(!this.nodes.has(id), () => `node ${id} exists`);
    const n = new TestNode(id, storage, (applied) => this.config(id, storage, applied));
    this.nodes.set(id, n);
    return n;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    invariant(n, () => `no node ${id}`);
    return n;
  }

  raft(id: NodeId): RaftNode['raft'] {
    return this.node(id).raft;
  }

  // ------------------------------------------------------------------ the Ready loop

  /** Runs node id's Ready loop until it has nothing more to do. */
  process(id: NodeId): void {
    const n = this.node(id);
    if (n.hold || n.down) return;
    for (let guard = 0; n.node.hasReady(); guard++) {
      invariant(guard < 1000, () => `node ${id}: Ready loop does not settle`);
      this.handleReady(n, n.node.ready());
    }
  }

  /** The whole contract for one Ready: persist, send, apply, advance. */
  handleReady(n: TestNode, rd: Ready): void {
    n.readies.push(rd);
    n.persist(rd);
    this.send(n, rd.messages);
    n.apply(rd);
    n.node.advance(rd);
  }

  /** Step 2 of the contract: hands messages to the network (cloned, as on the wire). */
  send(n: TestNode, msgs: readonly Message[]): void {
    for (const m of msgs) {
      // A forwarded TransferLeader keeps the transferee as its `from` (that is its meaning).
      invariant(m.from === n.id || m.type === MessageType.TransferLeader, () => `node ${n.id} sent a message from ${m.from}`);
      const copy = structuredClone(m);
      this.sent.push({ msg: copy, senderPersisted: n.storage.getHardState() });
      this.queue.push(copy);
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  // ------------------------------------------------------------------ driving

  tick(id: NodeId, times = 1): void {
    const n = this.node(id);
    if (n.down) return;
    for (let i = 0; i < times; i++) {
      n.node.tick();
      this.process(id);
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.nodes.keys()) this.tick(id);
  }

  campaign(id: NodeId): void {
    this.node(id).node.campaign();
    this.process(id);
  }

  propose(id: NodeId, data: string): ProposeResult {
    const r = this.node(id).node.propose(bytes(data));
    this.process(id);
    return r;
  }

  proposeConfChange(id: NodeId, type: ConfChangeType, nodeId: NodeId): ProposeResult {
    const cc: ConfChange = { type, nodeId, context: new Uint8Array(0) };
    const r = this.node(id).node.proposeConfChange(cc);
    this.process(id);
    return r;
  }

  readIndex(id: NodeId, ctx: string): boolean {
    const ok = this.node(id).node.readIndex(bytes(ctx));
    this.process(id);
    return ok;
  }

  transferLeadership(id: NodeId, to: NodeId): void {
    this.node(id).node.transferLeadership(to);
    this.process(id);
  }

  // ------------------------------------------------------------------ the network

  /** Drops, from now on, every message to or from id. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Drops, from now on, every message matching the rule (until heal()). */
  drop(rule: (m: Message) => boolean): void {
    this.dropRules.push(rule);
  }

  heal(): void {
    this.isolated.clear();
    this.dropRules = [];
  }

  private blocked(m: Message): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    const to = this.nodes.get(m.to);
    if (!to || to.down) return true;
    return this.dropRules.some((r) => r(m));
  }

  /**
   * Delivers, in send order, the queued messages that match `filter` (all by default), running
   * each recipient's Ready loop after each message. Messages sent meanwhile stay queued for the
   * next call. Returns the messages delivered.
   */
  deliver(filter: (m: Message) => boolean = () => true): Message[] {
    const now = this.queue;
    this.queue = [];
    const keep: Message[] = [];
    const out: Message[] = [];
    for (const m of now) {
      if (!filter(m)) {
        keep.push(m);
        continue;
      }
      if (this.blocked(m)) {
        this.dropped.push(m);
        // The transport tells the sender a snapshot did not arrive (the Ready contract's reportSnapshot).
        if (m.type === MessageType.Snap) this.reportSnapshot(m.from, m.to, false);
        continue;
      }
      const to = this.node(m.to);
      to.node.step(m);
      this.process(m.to);
      if (m.type === MessageType.Snap) this.reportSnapshot(m.from, m.to, true);
      out.push(m);
    }
    this.queue = [...keep, ...this.queue];
    return out;
  }

  private reportSnapshot(from: NodeId, to: NodeId, ok: boolean): void {
    const s = this.nodes.get(from);
    if (!s || s.down) return;
    s.node.reportSnapshot(to, ok);
    this.process(from);
  }

  /** Steps a hand-made message into its recipient (bypassing the network) and runs its Ready loop. */
  inject(init: Partial<Message> & { type: MessageType; from: NodeId; to: NodeId }): void {
    this.node(init.to).node.step(newMessage(init.type, init));
    this.process(init.to);
  }

  /** Removes queued messages matching `filter` without delivering them; returns them. */
  discard(filter: (m: Message) => boolean = () => true): Message[] {
    const out = this.queue.filter(filter);
    this.queue = this.queue.filter((m) => !filter(m));
    return out;
  }

  /** Queued messages matching the filter (not removed). */
  pending(filter: (m: Message) => boolean = () => true): Message[] {
    return this.queue.filter(filter);
  }

  /** Delivers until no message is in flight (bounded). Returns how many were delivered. */
  stabilize(maxRounds = 200): number {
    let n = 0;
    for (let round = 0; this.queue.length > 0; round++) {
      invariant(round < maxRounds, `cluster did not stabilize within ${maxRounds} rounds`);
      n += this.deliver().length;
    }
    return n;
  }

  /** Campaigns node id and delivers everything; the node must end up leader. */
  elect(id: NodeId): TestNode {
    this.campaign(id);
    this.stabilize();
    const n = this.node(id);
    invariant(n.raft.state === StateType.Leader, () => `node ${id} did not win (state ${n.raft.state}, term ${n.raft.term})`);
    return n;
  }

  /** The leader with the highest term, if any. */
  leader(): TestNode | undefined {
    let best: TestNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.down || n.raft.state !== StateType.Leader) continue;
      if (!best || n.term > best.term) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------------ crashes and snapshots

  /** Stops node id: it loses everything not in its storage; messages to it are dropped. */
  crash(id: NodeId): void {
    this.node(id).down = true;
  }

  /**
   * Restarts node id from its storage. The state machine is rebuilt from the storage's snapshot,
   * so `applied` is the snapshot index — unless given, as by an application whose own state is
   * durable up to `applied` (it must then not skip a conf change: the core takes the
   * configuration from the storage's snapshot). Entries after `applied` are applied again.
   */
  restart(id: NodeId, applied?: number): TestNode {
    const n = this.node(id);
    const snap = n.storage.snapshot();
    const from = applied ?? snap.metadata.index;
    invariant(from >= snap.metadata.index, 'restart: applied is below the snapshot');
    const kept = n.applied.filter((e) => e.index > snap.metadata.index && e.index <= from);
    invariant(kept.length === from - snap.metadata.index, 'restart: the state machine never applied up to `applied`');
    n.appData = snap.data.length > 0 ? (JSON.parse(text(snap.data)) as string[]) : [];
    for (const e of kept) if (e.type === EntryType.Normal && e.data.length > 0) n.appData.push(text(e.data));
    n.applied = [];
    n.appliedIndex = from;
    n.confState = { voters: [...snap.metadata.confState.voters], learners: [...snap.metadata.confState.learners] };
    n.readStates = [];
    n.down = false;
    n.restartCore(from);
    this.process(id);
    return n;
  }

  /** The application snapshots node id at its applied index and compacts the log up to it. */
  snapshotAndCompact(id: NodeId): Snapshot {
    const n = this.node(id);
    const snap = n.storage.createSnapshot(n.appliedIndex, n.confState, n.snapshotData());
    n.storage.compact(n.appliedIndex);
    return snap;
  }
}

/** Message filters for deliver()/discard()/drop(). */
export const msg = {
  type:
    (...types: MessageType[]) =>
    (m: Message): boolean =>
      types.includes(m.type),
  from:
    (id: NodeId) =>
    (m: Message): boolean =>
      m.from === id,
  to:
    (id: NodeId) =>
    (m: Message): boolean =>
      m.to === id,
  between:
    (a: NodeId, b: NodeId) =>
    (m: Message): boolean =>
      m.from === a && m.to === b,
  and:
    (...fs: ((m: Message) => boolean)[]) =>
    (m: Message): boolean =>
      fs.every((f) => f(m)),
  not:
    (f: (m: Message) => boolean) =>
    (m: Message): boolean =>
      !f(m),
};
