// Pending ReadIndex requests on the leader. A request records the commit index when it arrived;
// it becomes safe once a majority has answered a heartbeat carrying its context (proving that
// this node was still the leader when the request arrived).

import type { Message, NodeId } from './types.js';

export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<NodeId>;
}

function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Bound on outstanding requests; beyond it new reads are refused (the caller retries). */
  constructor(readonly maxPending: number) {}

  get size(): number {
    return this.queue.length;
  }

  /** Adds a request; false if one with the same context is already pending or the queue is full. */
  addRequest(index: number, m: Message): boolean {
    const ctx = (m.entries[0]?.data ?? new Uint8Array(0)) as Uint8Array;
    const key = ctxKey(ctx);
    if (this.pending.has(key)) return false;
    if (this.queue.length >= this.maxPending) return false;
    this.pending.set(key, { index, req: m, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records a heartbeat acknowledgement for ctx; returns the acks so far, if ctx is pending. */
  recvAck(id: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * Dequeues the request with context ctx and every request before it (an ack for a later
   * heartbeat confirms leadership for the earlier requests too).
   */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const keys = this.queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of keys) {
      const rs = this.pending.get(k);
      if (rs) out.push(rs);
      this.pending.delete(k);
    }
    return out;
  }

  /** Context of the newest pending request (carried by heartbeats). */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    if (key === undefined) return undefined;
    return this.pending.get(key)?.req.entries[0]?.data;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
