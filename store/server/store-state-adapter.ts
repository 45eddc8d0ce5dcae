// The store as the Raft runtime's state machine: committed entries go to StoreStateMachine in
// order; membership changes are mirrored into the store's member list (so MemberList answers
// from replicated state and members survive snapshots and restarts).

import { ConfChangeType } from '../../raft/core/conf-change.js';
import type { NodeId, SnapshotMetadata } from '../../raft/core/types.js';
import type { AppliedEntry, RaftStateMachine } from '../../raft/runtime/raft-runtime.js';
import { createReadStream } from 'node:fs';
import type { ApplyResult, StoreStateMachine } from '../mvcc/index.js';
import { encodeStoreRequest, type MemberChange } from '../mvcc/index.js';
import { decodeMemberContext } from './member-context.js';
import { hostPort } from './peer-url.js';

export class StoreStateAdapter implements RaftStateMachine {
  constructor(readonly sm: StoreStateMachine) {}

  appliedIndex(): number {
    return this.sm.appliedIndex;
  }

  async apply(entries: readonly AppliedEntry[]): Promise<unknown[]> {
    const batch = entries.map((e) => ({ index: e.index, term: e.term, data: e.confChange ? this.memberRequest(e) : e.data }));
    const results: ApplyResult[] = await this.sm.applyBatch(batch);
    return results;
  }

  /** The store request mirroring an applied Raft membership change (empty if it had no effect). */
  private memberRequest(e: AppliedEntry): Uint8Array {
    const cc = e.confChange;
    if (!cc) return e.data;
    const id = BigInt(cc.change.nodeId);
    const isVoter = cc.confState.voters.includes(cc.change.nodeId);
    const isLearner = cc.confState.learners.includes(cc.change.nodeId);
    const existing = this.sm.members.get(id);
    let change: MemberChange | undefined;
    switch (cc.change.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        if (!isVoter && !isLearner) break; // refused by Raft
        const ctx = decodeMemberContext(cc.change.context);
        if (existing && !ctx) change = { action: 'promote', ID: id };
        else change = { action: 'add', ID: id, name: ctx?.name ?? existing?.name ?? '', peerURLs: ctx?.peerURLs ?? existing?.peerURLs ?? [], clientURLs: ctx?.clientURLs ?? existing?.clientURLs ?? [], isLearner };
        break;
      }
      case ConfChangeType.RemoveNode:
        if (!isVoter && !isLearner) change = { action: 'remove', ID: id };
        break;
    }
    return change ? Buffer.from(encodeStoreRequest({ member: change })) : new Uint8Array(0);
  }

  sync(): Promise<void> {
    return this.sm.persist({ sync: true });
  }

  async snapshot(): Promise<{ index: number; chunks: AsyncIterable<Uint8Array> }> {
    const s = await this.sm.snapshot();
    return { index: s.index, chunks: s.chunks };
  }

  async restore(file: string, md: SnapshotMetadata): Promise<void> {
    const r = await this.sm.restore(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
    if (r.index !== md.index) throw new Error(`snapshot file holds index ${r.index}, but Raft installed ${md.index}`);
  }

  peerUrls(): Map<NodeId, string> {
    const out = new Map<NodeId, string>();
    for (const m of this.sm.members.list()) {
      const url = m.peerURLs[0];
      if (url === undefined) continue;
      try {
        out.set(Number(m.ID), hostPort(url));
      } catch {
        // A member with an unusable URL cannot be dialed; it is still listed.
      }
    }
    return out;
  }
}
