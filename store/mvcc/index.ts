// keelson's MVCC store: the public surface for the Raft runtime and the etcd gRPC server.
//
// Raft runtime:
//   const sm = await StoreStateMachine.open({ dir, lessor: { minTTL, now }, maxTxnOps });
//   // every committed entry, in order (empty data for Raft's own empty entries):
//   const results = await sm.applyBatch(entries, { sync });   // ApplyResult per entry
//   await sm.persist({ sync: true });                          // before compacting the Raft log
//   const snap = await sm.snapshot();  // { index, term, chunks }   -> InstallSnapshot
//   await sm.restore(chunks);          // follower installing a snapshot
//   sm.promote(electionTimeoutMs) / sm.demote()                // on leadership changes
// gRPC server:
//   propose encodeStoreRequest({ put | deleteRange | txn | compaction | leaseGrant{ID chosen
//   here} | leaseRevoke | leaseCheckpoint | alarm }) after checkPutRequest / checkTxnRequest...;
//   serve sm.range, sm.readTxn (when isTxnReadOnly), sm.hashKV, sm.leaseTimeToLive,
//   sm.leaseLeases, sm.leaseRenew directly; sm.lessor.expired() on the leader -> propose revokes;
//   watches: const stream = sm.watchHub.openStream(sink); stream.watch(createRequest) ...
// Response headers carry only `revision`: fill cluster/member/term in top-level headers only
// (nested txn responses keep etcd's partial headers).

export { StoreStateMachine } from './state-machine.js';
export { MemberStore } from './member-store.js';
export type { MemberAction, MemberChange } from './member-store.js';
export type {
  ApplyResult,
  CheckpointResponse,
  MemberChangeResponse,
  RaftEntryData,
  StoreResponse,
  StoreSnapshot,
  StoreStateMachineOptions,
} from './state-machine.js';
export { BadRequestError, decodeStoreRequest, encodeStoreRequest } from './store-request.js';
export type {
  LeaseCheckpoint,
  LeaseCheckpointProposal,
  LeaseGrantProposal,
  LeaseRevokeProposal,
  StoreRequest,
} from './store-request.js';
export {
  DEFAULT_MAX_TXN_OPS,
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
} from './request-checks.js';
export { isTxnReadOnly } from './kv-applier.js';
export { WatchErrors, WatchHub, WatchStream } from './watch-hub.js';
export type { WatchHubOptions, WatchSink } from './watch-hub.js';
export { LEASE_REVOKE_RATE, Lease, Lessor, MAX_LEASE_TTL, minLeaseTTLSeconds } from './lessor.js';
export type { LessorOptions, RenewResult, TimeToLive } from './lessor.js';
export type { KvStore } from './kv-store.js';
export type { RecentHistoryLimits } from './recent-history.js';
export { SnapshotFormatError } from './snapshot-format.js';
export { StorageError } from './backend.js';
