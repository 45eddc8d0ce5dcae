// Membership changes, one server at a time.
//
// Why single-server changes rather than joint consensus: adding or removing one voter changes
// the voter set so that any majority of the old set and any majority of the new set intersect,
// which is all safety needs, and it keeps the configuration a plain set. The two known hazards
// are handled the way etcd-io/raft handles them: (1) at most one change is in flight — the
// leader refuses a new one until the previous one is applied (pendingConfIndex); (2) a new leader
// must first commit an entry of its own term before it may propose a change (becomeLeader sets
// pendingConfIndex to its last index, so the change waits for its no-op entry to be applied).
// A change takes effect when applied (not when appended), on every node alike.
// "Replace a member" is two changes: add the new one, then remove the old one.

import type { ConfState, NodeId } from './types.js';

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 2,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to the core (the store puts the member's URLs and name here). */
  context: Uint8Array;
}

// Encoding: [type u8][nodeId f64 BE][context bytes...]. A node id is a safe integer, so f64 is exact.
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(9 + cc.context.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, cc.type);
  dv.setFloat64(1, cc.nodeId);
  out.set(cc.context, 9);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < 9) throw new Error(`raft: conf change entry too short (${data.length} bytes)`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = dv.getUint8(0);
  if (type !== ConfChangeType.AddNode && type !== ConfChangeType.RemoveNode && type !== ConfChangeType.AddLearnerNode) {
    throw new Error(`raft: unknown conf change type ${type}`);
  }
  const nodeId = dv.getFloat64(1);
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) throw new Error(`raft: bad node id in conf change: ${nodeId}`);
  return { type, nodeId, context: data.subarray(9) };
}

/**
 * The configuration after applying `cc` to `cs`, or an error string if the change is not
 * allowed (it then has no effect, on every node alike, since all nodes decide the same way).
 */
export function applyToConfState(cs: ConfState, cc: ConfChange): ConfState | string {
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  const id = cc.nodeId;
  switch (cc.type) {
    case ConfChangeType.AddNode:
      // Adds a voter, or promotes a learner.
      learners.delete(id);
      voters.add(id);
      break;
    case ConfChangeType.AddLearnerNode:
      if (voters.has(id)) return `node ${id} is a voter; demoting a voter to learner is not supported`;
      learners.add(id);
      break;
    case ConfChangeType.RemoveNode:
      if (!voters.has(id) && !learners.has(id)) return `node ${id} is not a member`;
      voters.delete(id);
      learners.delete(id);
      if (voters.size === 0) return 'removing the last voter is not allowed';
      break;
  }
  return { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) };
}
