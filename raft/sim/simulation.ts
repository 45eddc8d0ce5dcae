// One seed of the deterministic cluster simulation. A single PRNG drives everything: fault
// rates (drawn per seed: swarm testing), the network, disks, crashes, clients. Time is simulated
// (one step = one time unit; a Raft tick every TICK units). Phase 1 injects faults; phase 2 heals
// everything and demands a leader and progress within a bound. The checker runs on every event.

import { Prng } from '../../common/prng.js';
import { ConfChangeType, type ConfChange } from '../core/conf-change.js';
import { MessageType, type ConfState, type Entry, type Message, type NodeId } from '../core/types.js';
import { SafetyChecker, type Violation } from './checker.js';
import { CALM, PacketNetwork, type NetworkFaults, type PartitionKind } from './packet-network.js';
import { encodeWrite } from './sim-app.js';
import { SimNode, type NodeHost, type NodeTuning } from './sim-node.js';

export const TICK = 10;

export interface SimOptions {
  seed: number;
  nodes: number;
  /** Time units of the fault phase. */
  steps: number;
  /** Keep a trace of the last events for the violation report. */
  traceSize?: number;
}

export interface SimStats {
  elections: number;
  partitions: number;
  crashes: number;
  snapshots: number;
  confChanges: number;
  leaderTransfers: number;
  reads: number;
  committed: number;
}

export function emptyStats(): SimStats {
  return { elections: 0, partitions: 0, crashes: 0, snapshots: 0, confChanges: 0, leaderTransfers: 0, reads: 0, committed: 0 };
}

export interface SimResult {
  seed: number;
  violations: Violation[];
  stats: SimStats;
  trace: string[];
  params: SwarmParams;
  endTime: number;
}

/** Fault and workload rates for one seed (per time unit unless noted). */
export interface SwarmParams {
  network: NetworkFaults;
  partitionRate: number;
  healRate: number;
  partitionKinds: PartitionKind[];
  crashRate: number;
  /** Crashes aimed at the current leader (the fault that most often exposes commit bugs). */
  leaderCrashRate: number;
  /** Probability that a new leader crashes shortly after its election (the riskiest moment). */
  newLeaderCrashChance: number;
  restartRate: number;
  writeRate: number;
  readRate: number;
  transferRate: number;
  confChangeRate: number;
  tuning: NodeTuning;
}

function drawParams(p: Prng): SwarmParams {
  const maybe = (prob: number, v: () => number): number => (p.chance(prob) ? v() : 0);
  const kinds: PartitionKind[] = ['symmetric', 'asymmetric', 'isolate-leader', 'bridge'];
  const partitionKinds = kinds.filter(() => p.chance(0.6));
  if (partitionKinds.length === 0) partitionKinds.push(p.pick(kinds));
  const minDelay = p.range(1, 3);
  return {
    network: {
      dropRate: maybe(0.6, () => p.float() * 0.15),
      dupRate: maybe(0.4, () => p.float() * 0.1),
      minDelay,
      maxDelay: minDelay + p.range(1, 25),
      slowRate: maybe(0.3, () => p.float() * 0.03),
    },
    partitionRate: maybe(0.75, () => 1 / p.range(200, 1500)),
    healRate: 1 / p.range(100, 1000),
    partitionKinds,
    crashRate: maybe(0.7, () => 1 / p.range(300, 3000)),
    leaderCrashRate: maybe(0.5, () => 1 / p.range(150, 1500)),
    newLeaderCrashChance: maybe(0.4, () => 0.05 + p.float() * 0.3),
    restartRate: 1 / p.range(50, 500),
    writeRate: 1 / p.range(3, 40),
    readRate: 1 / p.range(5, 60),
    transferRate: maybe(0.6, () => 1 / p.range(300, 2000)),
    confChangeRate: maybe(0.6, () => 1 / p.range(300, 2000)),
    tuning: {
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: p.pick([1, 64, 256, 1024, 1 << 20]),
      maxInflightMsgs: p.range(1, 16),
      // Backpressure: the leader refuses proposals beyond this many uncommitted bytes.
      maxUncommittedEntriesSize: p.pick([256, 1024, 8192, 65536]),
      snapshotEvery: p.range(5, 150),
      keepEntries: p.range(0, 30),
      maxDiskDelay: p.range(0, 6),
      maxPipelinedReadys: p.range(1, 4),
    },
  };
}

interface PendingWrite {
  node: NodeId;
  term: number;
  index: number;
  start: number;
}

interface PendingRead {
  node: NodeId;
  start: number;
}

const WRITE_TIMEOUT = 40 * TICK * 10;
const READ_TIMEOUT = 30 * TICK * 10;

export class Simulation implements NodeHost {
  readonly prng: Prng;
  readonly checker = new SafetyChecker();
  readonly params: SwarmParams;
  readonly stats = emptyStats();
  private readonly network: PacketNetwork;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly trace: string[] = [];
  private readonly traceSize: number;
  now = 0;
  private nextNodeId: number;
  private nextOp = 1;
  private readonly writes = new Map<string, PendingWrite>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly appliedConfIndexes = new Set<number>();
  private transfer: { target: NodeId; until: number } | undefined;
  /** Removals to propose once an addition (replace) is applied: new id -> old id. */
  private readonly replaceAfter = new Map<NodeId, NodeId>();
  /** Crashes scheduled at a time. */
  private readonly crashAt = new Map<NodeId, number>();
  /** Nodes to stop after their removal, at a time. */
  private readonly retireAt = new Map<NodeId, number>();
  private latestConf: { index: number; cs: ConfState } = { index: 0, cs: { voters: [], learners: [] } };
  private faultsOn = true;

  constructor(readonly options: SimOptions) {
    this.prng = new Prng(options.seed);
    this.params = drawParams(this.prng.fork());
    this.network = new PacketNetwork(this.prng.fork(), this.params.network);
    this.traceSize = options.traceSize ?? 40;
    const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.nextNodeId = options.nodes + 1;
    for (const id of ids) {
      const n = new SimNode(id, this, this.params.tuning);
      // Every initial member bootstraps the same configuration entries.
      n.disk.bootstrap(ids, (e, ph) => this.checker.onLogEntry(id, e.index, e.term, ph));
      this.nodes.set(id, n);
      n.start();
    }
  }

  private log(s: string): void {
    this.trace.push(`t=${this.now} ${s}`);
    if (this.trace.length > this.traceSize) this.trace.shift();
  }

  // ------------------------------------------------------------------ NodeHost

  send(sender: NodeId, m: Message): void {
    const dest = this.nodes.get(m.to);
    const delivered = dest !== undefined && this.network.send(sender, m, this.now);
    if (!delivered) this.reportLost(sender, m);
  }

  private reportLost(sender: NodeId, m: Message): void {
    const s = this.nodes.get(sender);
    if (!s?.core) return;
    // The sender's transport notices a failed snapshot (and, sometimes, an unreachable peer).
    if (m.type === MessageType.Snap) s.core.reportSnapshot(m.to, false);
    else if (!this.network.linkUp(sender, m.to) && this.prng.chance(0.3)) s.core.reportUnreachable(m.to);
  }

  onBecomeLeader(node: SimNode, term: number): void {
    this.stats.elections++;
    this.log(`node ${node.id} became leader of term ${term}`);
    if (this.faultsOn && this.prng.chance(this.params.newLeaderCrashChance)) {
      this.crashAt.set(node.id, this.now + this.prng.range(1, 3 * TICK));
    }
    if (this.transfer && this.transfer.target === node.id && this.now <= this.transfer.until) {
      this.stats.leaderTransfers++;
      this.transfer = undefined;
    }
  }

  onApplied(node: SimNode, e: Entry): void {
    const key = `${node.id}:${e.index}`;
    const w = this.writes.get(key);
    if (!w) return;
    this.writes.delete(key);
    if (w.term === e.term) {
      this.checker.onWriteAcked(e.index, e.term);
      this.stats.committed++;
    }
  }

  onConfChangeApplied(node: SimNode, cc: ConfChange): void {
    const app = node.app;
    if (!app) return;
    if (app.appliedIndex > this.latestConf.index) this.latestConf = { index: app.appliedIndex, cs: app.confState };
    if (!this.appliedConfIndexes.has(app.appliedIndex)) {
      this.appliedConfIndexes.add(app.appliedIndex);
      this.stats.confChanges++;
      this.log(`conf change applied at ${app.appliedIndex}: ${ConfChangeType[cc.type]} ${cc.nodeId} -> voters ${app.confState.voters} learners ${app.confState.learners}`);
      if (cc.type === ConfChangeType.RemoveNode && !this.retireAt.has(cc.nodeId)) {
        // Give a removed leader a moment to hand over, then stop the process.
        this.retireAt.set(cc.nodeId, this.now + 3 * TICK);
      }
    }
    if (cc.type === ConfChangeType.AddNode && this.replaceAfter.has(cc.nodeId) && node.isLeader) {
      const old = this.replaceAfter.get(cc.nodeId) as NodeId;
      this.replaceAfter.delete(cc.nodeId);
      const res = node.core?.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: old, context: new Uint8Array(0) });
      this.log(`replace: propose remove ${old} after ${cc.nodeId} joined: ${res?.ok ? 'ok' : res?.reason}`);
    }
  }

  onReadServed(node: SimNode, ctx: string, appliedIndex: number): void {
    const r = this.reads.get(ctx);
    if (!r) return;
    this.reads.delete(ctx);
    this.checker.onReadDone(ctx, node.id, appliedIndex);
    this.stats.reads++;
  }

  onSnapshot(kind: 'taken' | 'installed'): void {
    if (kind === 'installed') {
      this.stats.snapshots++;
      this.log('snapshot installed');
    }
  }

  // ------------------------------------------------------------------ the loop

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.isLeader && (!best || (n.core?.raft.term ?? 0) > (best.core?.raft.term ?? 0))) best = n;
    }
    return best;
  }

  private stepOnce(): void {
    this.now++;
    this.checker.now = this.now;
    const { delivered, lost } = this.network.due(this.now);
    for (const p of lost) this.reportLost(p.sender, p.msg);
    for (const p of delivered) {
      const dest = this.nodes.get(p.to);
      if (!dest?.up) {
        this.reportLost(p.sender, p.msg);
        continue;
      }
      this.guard(dest, () => dest.step({ ...p.msg }));
      if (p.msg.type === MessageType.Snap) {
        const s = this.nodes.get(p.sender);
        if (s?.core) this.guard(s, () => s.core?.reportSnapshot(p.to, true));
      }
    }
    if (this.now % TICK === 0) for (const n of this.nodes.values()) if (n.up) this.guard(n, () => n.tick());
    if (this.faultsOn) this.injectFaults();
    this.clients();
    for (const [id, at] of this.retireAt) {
      if (at <= this.now) {
        this.retireAt.delete(id);
        const n = this.nodes.get(id);
        if (n && !n.retired && !this.isMember(id)) {
          n.retired = true;
          this.abandonReads(n.crash());
          this.log(`node ${id} retired`);
        }
      }
    }
    for (const n of this.nodes.values()) if (n.up) this.guard(n, () => n.process());
  }

  private guard(n: SimNode, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.checker.onCrash(n.id, e);
      this.abandonReads(n.crash());
      n.retired = true;
    }
  }

  private isMember(id: NodeId): boolean {
    return this.latestConf.cs.voters.includes(id) || this.latestConf.cs.learners.includes(id);
  }

  private abandonReads(ctxs: string[]): void {
    for (const c of ctxs) {
      this.reads.delete(c);
      this.checker.onReadAbandoned(c);
    }
  }

  private injectFaults(): void {
    const p = this.prng;
    const P = this.params;
    if (P.partitionRate > 0 && p.chance(P.partitionRate)) {
      const kind = p.pick(P.partitionKinds);
      const ids = [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
      const desc = this.network.partition(kind, ids, this.leader()?.id);
      this.stats.partitions++;
      this.log(`partition ${desc}`);
    } else if (p.chance(P.healRate)) {
      this.network.heal();
    }
    if (P.crashRate > 0 && p.chance(P.crashRate)) {
      const up = this.upNodes();
      if (up.length > 0) this.crash(p.pick(up));
    }
    for (const [id, at] of this.crashAt) {
      if (at > this.now) continue;
      this.crashAt.delete(id);
      const n = this.nodes.get(id);
      if (n?.up) this.crash(n);
    }
    if (P.leaderCrashRate > 0 && p.chance(P.leaderCrashRate)) {
      const leader = this.leader();
      if (leader) this.crash(leader);
    }
    if (p.chance(P.restartRate)) {
      const down = [...this.nodes.values()].filter((n) => !n.up && !n.retired);
      if (down.length > 0) {
        const n = p.pick(down);
        this.guard(n, () => n.start());
        this.log(`restart node ${n.id}`);
      }
    }
    if (P.transferRate > 0 && p.chance(P.transferRate)) this.requestTransfer();
    if (P.confChangeRate > 0 && p.chance(P.confChangeRate)) this.requestConfChange();
  }

  private crash(n: SimNode): void {
    const wasLeader = n.isLeader;
    this.abandonReads(n.crash());
    this.dropWritesOf(n.id);
    this.stats.crashes++;
    this.log(`crash node ${n.id}${wasLeader ? ' (leader)' : ''}`);
  }

  private dropWritesOf(node: NodeId): void {
    for (const [k, w] of this.writes) if (w.node === node) this.writes.delete(k);
  }

  private requestTransfer(): void {
    const leader = this.leader();
    if (!leader?.core) return;
    const voters = leader.core.raft.prs.confState().voters.filter((v) => v !== leader.id);
    if (voters.length === 0) return;
    const target = this.prng.pick(voters);
    // Half of the requests go through a follower, which forwards them.
    const via = this.prng.chance(0.5) ? leader : this.nodes.get(target);
    if (!via?.core) return;
    via.core.transferLeadership(target);
    this.transfer = { target, until: this.now + 3 * 10 * TICK };
    this.log(`transfer leadership ${leader.id} -> ${target} (via ${via.id})`);
  }

  private requestConfChange(): void {
    const leader = this.leader();
    if (!leader?.core) return;
    const cs = leader.core.raft.prs.confState();
    const p = this.prng;
    const canGrow = this.nodes.size < this.options.nodes + 6;
    const action = p.pick(['add', 'add-learner', 'promote', 'remove', 'replace'] as const);
    const propose = (cc: ConfChange): boolean => {
      const res = leader.core?.proposeConfChange(cc);
      this.log(`propose ${ConfChangeType[cc.type]} ${cc.nodeId} on leader ${leader.id}: ${res?.ok ? `index ${res.index}` : res?.reason}`);
      return res?.ok === true;
    };
    const newNode = (): SimNode => {
      const n = new SimNode(this.nextNodeId++, this, this.params.tuning);
      this.nodes.set(n.id, n);
      n.start();
      return n;
    };
    switch (action) {
      case 'add':
      case 'add-learner': {
        if (!canGrow || cs.voters.length >= 7) return;
        const n = newNode();
        const ok = propose({
          type: action === 'add' ? ConfChangeType.AddNode : ConfChangeType.AddLearnerNode,
          nodeId: n.id,
          context: new Uint8Array(0),
        });
        if (!ok) this.retire(n);
        return;
      }
      case 'promote': {
        if (cs.learners.length === 0) return;
        propose({ type: ConfChangeType.AddNode, nodeId: p.pick(cs.learners), context: new Uint8Array(0) });
        return;
      }
      case 'remove': {
        const candidates = [...cs.learners, ...(cs.voters.length > 3 ? cs.voters : [])];
        if (candidates.length === 0) return;
        propose({ type: ConfChangeType.RemoveNode, nodeId: p.pick(candidates), context: new Uint8Array(0) });
        return;
      }
      case 'replace': {
        if (!canGrow) return;
        const old = p.pick(cs.voters);
        const n = newNode();
        if (propose({ type: ConfChangeType.AddNode, nodeId: n.id, context: new Uint8Array(0) })) this.replaceAfter.set(n.id, old);
        else this.retire(n);
        return;
      }
    }
  }

  private retire(n: SimNode): void {
    n.retired = true;
    this.abandonReads(n.crash());
  }

  private clients(): void {
    const p = this.prng;
    const P = this.params;
    // Once healed, clients stop writing: liveness is about recovering from faults, and a seed
    // whose write rate exceeds what its tuning can replicate would otherwise never catch up.
    if (this.faultsOn && p.chance(P.writeRate)) {
      // Clients cannot tell a deposed leader from the current one: any node that believes it
      // leads gets writes (this is what makes logs diverge under partitions).
      const up = this.upNodes();
      const leaders = up.filter((n) => n.isLeader);
      const target = leaders.length > 0 && p.chance(0.9) ? p.pick(leaders) : up.length > 0 ? p.pick(up) : undefined;
      if (target?.core) {
        const op = this.nextOp++;
        const res = target.core.propose(encodeWrite({ op, key: p.int(4), value: op }));
        if (res.ok) this.writes.set(`${target.id}:${res.index}`, { node: target.id, term: res.term, index: res.index, start: this.now });
      }
    }
    if (p.chance(P.readRate)) {
      const up = this.upNodes();
      if (up.length > 0) {
        const n = p.pick(up);
        const ctx = `r${this.nextOp++}`;
        // The read begins now: every write acknowledged so far must be visible to it.
        this.checker.onReadStart(ctx);
        if (n.readIndex(ctx)) this.reads.set(ctx, { node: n.id, start: this.now });
        else this.checker.onReadAbandoned(ctx);
      }
    }
    // Clients give up on requests that take too long (their outcome stays unknown).
    if (this.now % (10 * TICK) === 0) {
      for (const [k, w] of this.writes) if (this.now - w.start > WRITE_TIMEOUT) this.writes.delete(k);
      for (const [k, r] of this.reads) {
        if (this.now - r.start > READ_TIMEOUT) {
          this.reads.delete(k);
          this.nodes.get(r.node)?.forgetRead(k);
          this.checker.onReadAbandoned(k);
        }
      }
    }
  }

  // ------------------------------------------------------------------ phases

  run(): SimResult {
    for (let i = 0; i < this.options.steps && this.checker.ok; i++) this.stepOnce();
    if (this.checker.ok) this.livenessPhase();
    for (const v of this.checker.violations) this.log(`VIOLATION ${v.invariant}: ${v.message}`);
    return {
      seed: this.options.seed,
      violations: this.checker.violations,
      stats: this.stats,
      trace: this.trace,
      params: this.params,
      endTime: this.now,
    };
  }

  /** Heal everything; a leader must emerge and a new write must commit on every voter. */
  private livenessPhase(): void {
    this.faultsOn = false;
    this.network.faults = CALM;
    this.network.heal();
    this.log('liveness phase: network healed, faults off');
    const healedAt = this.now;
    const bound = 60 * 10 * TICK;
    let probe: { node: NodeId; index: number; term: number } | undefined;
    while (this.checker.ok) {
      if (this.now - healedAt > bound) {
        const st = [...this.nodes.values()]
          .filter((n) => !n.retired)
          .map((n) => (n.core ? `${n.id}:${n.core.raft.state}@${n.core.raft.term} lead=${n.core.raft.lead} commit=${n.core.raft.raftLog.committed} applied=${n.app?.appliedIndex}` : `${n.id}:down`))
          .join('; ');
        this.checker.onLiveness(`no progress within ${bound} time units after healing (voters ${this.latestConf.cs.voters}; ${st})`);
        return;
      }
      // Members come back; nodes outside the configuration stay down.
      for (const n of this.nodes.values()) {
        if (!n.up && !n.retired && this.isMember(n.id)) {
          this.guard(n, () => n.start());
          this.log(`restart node ${n.id} (liveness)`);
        }
      }
      this.stepOnce();
      const leader = this.leader();
      if (!leader?.core) continue;
      const voters = leader.core.raft.prs.confState().voters;
      if (!probe || (this.now - healedAt) % (10 * 10 * TICK) === 0) {
        const res = leader.core.propose(encodeWrite({ op: this.nextOp++, key: 0, value: -1 }));
        if (res.ok) {
          probe = { node: leader.id, index: res.index, term: res.term };
        }
      }
      if (!probe) continue;
      const p = probe;
      const done = voters.every((v) => {
        const n = this.nodes.get(v);
        return n?.app !== undefined && n.app.appliedIndex >= p.index && n.core?.raft.raftLog.matchTerm(p.index, p.term) === true;
      });
      if (done && voters.every((v) => this.nodes.get(v)?.core?.raft.lead === leader.id)) return;
    }
  }
}

export function runSeed(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

