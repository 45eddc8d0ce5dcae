// The etcd v3 API (etcdserverpb / mvccpb, etcd 3.4) as plain TypeScript types.
//
// This file is the contract between the MVCC store, the gRPC server, the in-process and
// remote `KV` clients, and everything above them (apiserver, jepsen, bench). Field names are
// the camelCase of the proto fields. Representation rules:
// - keys, values and range ends are Buffers (bytes, not strings: etcd keys are arbitrary bytes);
// - revisions, versions, counts, TTLs, indexes and terms are `number` (they stay far below 2^53);
// - lease, member and cluster IDs are `bigint`: etcd draws them as random 63/64-bit numbers, and
//   a client must be able to hand them back exactly. Lease 0n means "no lease".
// - optional request fields follow proto3: absent means the zero value.

export type Bytes = Buffer;

export interface ResponseHeader {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}

// ---- mvccpb ----

export interface KeyValue {
  key: Bytes;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Bytes;
  lease: bigint;
}

export enum EventType {
  PUT = 0,
  DELETE = 1,
}

export interface Event {
  type: EventType;
  /** For DELETE, kv holds the key and the deletion's modRevision (value empty, version 0). */
  kv: KeyValue;
  prevKv?: KeyValue;
}

// ---- KV ----

export enum SortOrder {
  NONE = 0,
  ASCEND = 1,
  DESCEND = 2,
}

export enum SortTarget {
  KEY = 0,
  VERSION = 1,
  CREATE = 2,
  MOD = 3,
  VALUE = 4,
}

export interface RangeRequest {
  key: Bytes;
  /** Absent/empty: the single key. "\0": every key >= key. Otherwise [key, rangeEnd). */
  rangeEnd?: Bytes;
  limit?: number;
  /** <= 0: the current revision. */
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Bytes;
  value?: Bytes;
  lease?: bigint;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Bytes;
  rangeEnd?: Bytes;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

/** Exactly one of the four is set (proto oneof `request`). */
export interface RequestOp {
  requestRange?: RangeRequest;
  requestPut?: PutRequest;
  requestDeleteRange?: DeleteRangeRequest;
  requestTxn?: TxnRequest;
}

/** Exactly one of the four is set (proto oneof `response`). */
export interface ResponseOp {
  responseRange?: RangeResponse;
  responsePut?: PutResponse;
  responseDeleteRange?: DeleteRangeResponse;
  responseTxn?: TxnResponse;
}

export enum CompareResult {
  EQUAL = 0,
  GREATER = 1,
  LESS = 2,
  NOT_EQUAL = 3,
}

export enum CompareTarget {
  VERSION = 0,
  CREATE = 1,
  MOD = 2,
  VALUE = 3,
  LEASE = 4,
}

export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Bytes;
  /** proto oneof target_union: the field matching `target` is the one compared. */
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Bytes;
  lease?: bigint;
  rangeEnd?: Bytes;
}

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

// ---- Watch ----

export enum WatchFilterType {
  NOPUT = 0,
  NODELETE = 1,
}

export interface WatchCreateRequest {
  key: Bytes;
  rangeEnd?: Bytes;
  /** <= 0: from the next revision (only new events). */
  startRevision?: number;
  progressNotify?: boolean;
  filters?: WatchFilterType[];
  prevKv?: boolean;
  /** 0: the server assigns one. */
  watchId?: number;
  fragment?: boolean;
}

export interface WatchCancelRequest {
  watchId: number;
}

export type WatchProgressRequest = Record<string, never>;

/** Exactly one of the three is set (proto oneof `request_union`). */
export interface WatchRequest {
  createRequest?: WatchCreateRequest;
  cancelRequest?: WatchCancelRequest;
  progressRequest?: WatchProgressRequest;
}

export interface WatchResponse {
  header: ResponseHeader;
  watchId: number;
  created: boolean;
  canceled: boolean;
  /** Set when the watch's start revision was compacted (the watch is then canceled). */
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: Event[];
}

// ---- Lease ----

export interface LeaseGrantRequest {
  TTL: number;
  /** 0n: the server picks an ID. */
  ID?: bigint;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: bigint;
  TTL: number;
  error: string;
}

export interface LeaseRevokeRequest {
  ID: bigint;
}

export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

export interface LeaseKeepAliveRequest {
  ID: bigint;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: bigint;
  /** 0 or less: the lease is gone. */
  TTL: number;
}

export interface LeaseTimeToLiveRequest {
  ID: bigint;
  keys?: boolean;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: bigint;
  /** -1: the lease does not exist (expired or revoked). */
  TTL: number;
  grantedTTL: number;
  keys: Bytes[];
}

export interface LeaseStatus {
  ID: bigint;
}

export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: LeaseStatus[];
}

// ---- Cluster ----

export interface Member {
  ID: bigint;
  /** Empty while an added member has not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberAddRequest {
  peerURLs: string[];
  isLearner?: boolean;
}

export interface MemberAddResponse {
  header: ResponseHeader;
  member: Member;
  members: Member[];
}

export interface MemberRemoveRequest {
  ID: bigint;
}

export interface MemberRemoveResponse {
  header: ResponseHeader;
  members: Member[];
}

export interface MemberUpdateRequest {
  ID: bigint;
  peerURLs: string[];
}

export interface MemberUpdateResponse {
  header: ResponseHeader;
  members: Member[];
}

export interface MemberListResponse {
  header: ResponseHeader;
  members: Member[];
}

export interface MemberPromoteRequest {
  ID: bigint;
}

export interface MemberPromoteResponse {
  header: ResponseHeader;
  members: Member[];
}

// ---- Maintenance ----

export enum AlarmType {
  NONE = 0,
  NOSPACE = 1,
  CORRUPT = 2,
}

export enum AlarmAction {
  GET = 0,
  ACTIVATE = 1,
  DEACTIVATE = 2,
}

export interface AlarmRequest {
  action: AlarmAction;
  memberID?: bigint;
  alarm?: AlarmType;
}

export interface AlarmMember {
  memberID: bigint;
  alarm: AlarmType;
}

export interface AlarmResponse {
  header: ResponseHeader;
  alarms: AlarmMember[];
}

export interface StatusResponse {
  header: ResponseHeader;
  version: string;
  dbSize: number;
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  dbSizeInUse: number;
  isLearner: boolean;
}

export interface DefragmentResponse {
  header: ResponseHeader;
}

export interface HashKVRequest {
  revision?: number;
}

export interface HashKVResponse {
  header: ResponseHeader;
  hash: number;
  compactRevision: number;
}

export interface SnapshotResponse {
  header: ResponseHeader;
  remainingBytes: number;
  blob: Bytes;
}

export interface MoveLeaderRequest {
  targetID: bigint;
}

export interface MoveLeaderResponse {
  header: ResponseHeader;
}
