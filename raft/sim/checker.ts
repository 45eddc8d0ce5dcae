// The simulator's safety checker. It is fed events as they happen and checks the Raft safety
// properties incrementally (Raft paper, Figure 3), plus linearizable reads:
//
//   election safety       at most one leader per term;
//   log matching          two logs with an entry of the same index and term agree up to it;
//   leader completeness   a new leader holds every entry committed before its term;
//   committed-durable     no two nodes ever consider different entries committed at one index
//                         (a committed entry is never lost, across crashes and restarts);
//   state machine safety  no two nodes apply different entries at one index;
//   acknowledged writes   an acknowledged write is the committed entry at its index;
//   linearizable reads    a ReadIndex read reflects every write acknowledged before it began.
//
// Logs are compared through prefix hashes (hash.ts), so "agree up to i" is one comparison.

import type { NodeId } from '../core/types.js';

export type Invariant =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'committed-durable'
  | 'state-machine-safety'
  | 'acknowledged-write'
  | 'linearizable-read'
  | 'liveness'
  | 'crash';

export interface Violation {
  invariant: Invariant;
  message: string;
  time: number;
}

export class SafetyChecker {
  readonly violations: Violation[] = [];
  private readonly leaders = new Map<number, NodeId>();
  /** (index, term) -> prefix hash, over every log entry any node persisted. */
  private readonly entries = new Map<string, number>();
  /** The committed log: index -> term / prefix hash. */
  private readonly chainTerm: number[] = [];
  private readonly chainPh: number[] = [];
  private maxAckedIndex = 0;
  private readonly readFloor = new Map<string, number>();
  now = 0;

  private fail(invariant: Invariant, message: string): void {
    this.violations.push({ invariant, message, time: this.now });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  /** Highest index known committed. */
  get committedIndex(): number {
    return this.chainTerm.length - 1;
  }

  committedAt(index: number): { term: number; ph: number } | undefined {
    const term = this.chainTerm[index];
    const ph = this.chainPh[index];
    return term === undefined || ph === undefined ? undefined : { term, ph };
  }

  onLeader(term: number, id: NodeId): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) this.fail('election-safety', `term ${term} has two leaders: ${prev} and ${id}`);
    else this.leaders.set(term, id);
  }

  onLogEntry(node: NodeId, index: number, term: number, ph: number): void {
    const k = `${index}:${term}`;
    const prev = this.entries.get(k);
    if (prev === undefined) this.entries.set(k, ph);
    else if (prev !== ph) this.fail('log-matching', `node ${node}: entry ${index}@${term} has a log prefix that differs from another node's`);
  }

  private record(index: number, term: number, ph: number): boolean {
    const t = this.chainTerm[index];
    if (t === undefined) {
      // Committed indexes are learned in order per node, but the chain may have gaps when one
      // node learns them via a snapshot; fill only what is given.
      this.chainTerm[index] = term;
      this.chainPh[index] = ph;
      return true;
    }
    return t === term && this.chainPh[index] === ph;
  }

  /** A node considers (index, term) committed with log prefix hash ph. */
  onCommitted(node: NodeId, index: number, term: number, ph: number): void {
    if (!this.record(index, term, ph)) {
      this.fail(
        'committed-durable',
        `node ${node} considers ${index}@${term} committed, but ${index}@${this.chainTerm[index]} was committed (a committed entry was lost or overwritten)`,
      );
    }
  }

  onApply(node: NodeId, index: number, term: number, ph: number): void {
    if (!this.record(index, term, ph)) {
      this.fail(
        'state-machine-safety',
        `node ${node} applied ${index}@${term} (prefix ${ph}) but ${index}@${this.chainTerm[index]} (prefix ${this.chainPh[index]}) was applied elsewhere`,
      );
    }
  }

  onSnapshotRestore(node: NodeId, index: number, ph: number): void {
    const c = this.committedAt(index);
    if (!c) this.fail('state-machine-safety', `node ${node} restored a snapshot at ${index}, which nobody committed`);
    else if (c.ph !== ph) this.fail('state-machine-safety', `node ${node} restored a snapshot at ${index} whose state differs from the committed log`);
  }

  /**
   * A node became leader of `term`. `phAt(i)` is its log's prefix hash at i (undefined when i is
   * beyond its log; `snapshotIndex` below which its log was compacted into a snapshot).
   */
  onBecomeLeader(node: NodeId, term: number, lastIndex: number, snapshotIndex: number, phAt: (i: number) => number | undefined): void {
    this.onLeader(term, node);
    const c = this.committedIndex;
    if (c <= 0 || c <= snapshotIndex) return;
    if (lastIndex < c) {
      this.fail('leader-completeness', `node ${node} became leader of term ${term} with last index ${lastIndex} < committed index ${c}`);
      return;
    }
    const ph = phAt(c);
    const want = this.chainPh[c];
    if (ph !== undefined && want !== undefined && ph !== want) {
      this.fail('leader-completeness', `node ${node} became leader of term ${term} but its log differs from the committed log at ${c}`);
    }
  }

  onWriteAcked(index: number, term: number): void {
    const t = this.chainTerm[index];
    if (t !== term) this.fail('acknowledged-write', `write acknowledged at ${index}@${term} but the committed entry there is @${t}`);
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  onReadStart(readId: string): void {
    this.readFloor.set(readId, this.maxAckedIndex);
  }

  /** The read was served from a state machine that had applied `appliedIndex`. */
  onReadDone(readId: string, node: NodeId, appliedIndex: number): void {
    const floor = this.readFloor.get(readId);
    this.readFloor.delete(readId);
    if (floor === undefined) return;
    if (appliedIndex < floor) {
      this.fail('linearizable-read', `read ${readId} on node ${node} saw index ${appliedIndex}, older than write ${floor} acknowledged before it began`);
    }
  }

  onReadAbandoned(readId: string): void {
    this.readFloor.delete(readId);
  }

  onLiveness(message: string): void {
    this.fail('liveness', message);
  }

  onCrash(node: NodeId, err: unknown): void {
    this.fail('crash', `node ${node} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
