// A follower's proposals on their way to the leader: those made in the same turn of the event
// loop go out as one ProposeBatch call rather than one call each. Under load most writes reach
// a follower first, and a peer call costs both members far more CPU than the proposal itself.
//
// A batch succeeds or fails as a whole: its callers see the same error, so the runtime's rule
// stays per call (retry only what certainly never reached the leader).

import type { NodeId } from '../core/types.js';
import type { ProposeResponse } from './raft-codec.js';

/** Sends one batch: the leader's answers in order, or an error for all of them. */
export type SendBatch = (leader: NodeId, datas: Uint8Array[], timeoutMs: number) => Promise<ProposeResponse[]>;

interface Pending {
  data: Uint8Array;
  deadline: number;
  resolve: (r: ProposeResponse) => void;
  reject: (e: Error) => void;
}

export interface ProposalBatcherOptions {
  /** Proposals per call (default 1024). */
  maxBatch?: number;
  /** Payload bytes per call (default 4 MiB; a single larger proposal still goes alone). */
  maxBatchBytes?: number;
  /** Proposals waiting for the next turn before new ones are refused (default 16384). */
  maxQueued?: number;
}

export class ProposalBatcherFullError extends Error {
  override name = 'ProposalBatcherFullError';
}

export class ProposalBatcher {
  private readonly queues = new Map<NodeId, Pending[]>();
  private queued = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly maxQueued: number;

  constructor(
    private readonly send: SendBatch,
    o: ProposalBatcherOptions = {},
  ) {
    this.maxBatch = o.maxBatch ?? 1024;
    this.maxBatchBytes = o.maxBatchBytes ?? 4 * 1024 * 1024;
    this.maxQueued = o.maxQueued ?? 16384;
  }

  /** Queues a proposal for `leader`; resolves with the leader's answer to it. */
  propose(leader: NodeId, data: Uint8Array, deadline: number): Promise<ProposeResponse> {
    if (this.queued >= this.maxQueued) {
      return Promise.reject(new ProposalBatcherFullError(`${this.queued} proposals already wait to be forwarded`));
    }
    return new Promise((resolve, reject) => {
      let q = this.queues.get(leader);
      if (!q) {
        q = [];
        this.queues.set(leader, q);
      }
      q.push({ data, deadline, resolve, reject });
      this.queued++;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Sends what is queued now rather than at the end of the turn. The runtime calls this before
   * it handles a Ready: that runs in the same phase of the event loop as the scheduled flush, so
   * the batch is as full, but a Ready can block the thread in a disk write (~0.5 ms under load),
   * and a proposal forwarded after it waits for that as well as for the leader.
   */
  flushPending(): void {
    if (this.scheduled) this.flush();
  }

  private flush(): void {
    this.scheduled = false;
    const queues = [...this.queues];
    this.queues.clear();
    this.queued = 0;
    for (const [leader, q] of queues) {
      let i = 0;
      while (i < q.length) {
        const batch: Pending[] = [];
        let bytes = 0;
        while (i < q.length && batch.length < this.maxBatch) {
          const p = q[i] as Pending;
          if (batch.length > 0 && bytes + p.data.length > this.maxBatchBytes) break;
          batch.push(p);
          bytes += p.data.length;
          i++;
        }
        this.sendBatch(leader, batch);
      }
    }
  }

  private sendBatch(leader: NodeId, batch: Pending[]): void {
    let deadline = 0;
    for (const p of batch) deadline = Math.max(deadline, p.deadline);
    this.send(
      leader,
      batch.map((p) => p.data),
      Math.max(1, deadline - Date.now()),
    ).then(
      (rs) => {
        for (let i = 0; i < batch.length; i++) (batch[i] as Pending).resolve(rs[i] as ProposeResponse);
      },
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        for (const p of batch) p.reject(err);
      },
    );
  }
}
