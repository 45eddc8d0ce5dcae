// Encoding and decoding of etcd 3.4's wire messages (proto/etcd/*.proto) to and from the TS types
// of types.ts and wire-types.ts. `encode(name, msg)` and `decode(name, buf)` cover every message
// of the six services; the hot ones (KeyValue, Event, ResponseHeader, WatchResponse,
// RangeResponse, and the encoding of PutResponse and DeleteRangeResponse: codec-fast.ts; the
// write requests and RangeRequest: codec-requests.ts) use hand-written code, the rest the
// schema-driven codec (codec-reflect.ts). Decoded Buffers share memory with the input buffer.
//
// For watch fan-out, see encodeWatchEvents / encodeWatchResponse: encode a batch once, send it to
// many watchers; the gRPC serializers (grpc-services.ts) pass a Buffer through unchanged.

import {
  decodeEvent,
  decodeKeyValue,
  decodeRangeResponse,
  decodeResponseHeader,
  decodeWatchResponse,
  encodeEvent,
  encodeDeleteRangeResponse,
  encodeKeyValue,
  encodePutResponse,
  encodeRangeResponse,
  encodeResponseHeader,
  encodeWatchResponse,
} from './codec-fast.js';
import {
  decodeCompare,
  decodeDeleteRangeRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeRequestOp,
  decodeTxnRequest,
  encodeCompare,
  encodeDeleteRangeRequest,
  encodePutRequest,
  encodeRangeRequest,
  encodeRequestOp,
  encodeTxnRequest,
} from './codec-requests.js';
import { reflectCodec } from './codec-reflect.js';
import type * as t from './types.js';
import type * as w from './wire-types.js';

export { encodeWatchEvents, encodeWatchResponse } from './codec-fast.js';
export { ProtoDecodeError } from '../../common/proto-wire.js';

/** Every message of etcd 3.4's API by its proto name, with its TS type. */
export interface MessageTypes {
  // mvccpb
  KeyValue: t.KeyValue;
  Event: t.Event;
  // KV
  ResponseHeader: t.ResponseHeader;
  RangeRequest: t.RangeRequest;
  RangeResponse: t.RangeResponse;
  PutRequest: t.PutRequest;
  PutResponse: t.PutResponse;
  DeleteRangeRequest: t.DeleteRangeRequest;
  DeleteRangeResponse: t.DeleteRangeResponse;
  RequestOp: t.RequestOp;
  ResponseOp: t.ResponseOp;
  Compare: t.Compare;
  TxnRequest: t.TxnRequest;
  TxnResponse: t.TxnResponse;
  CompactionRequest: t.CompactionRequest;
  CompactionResponse: t.CompactionResponse;
  // Watch
  WatchRequest: t.WatchRequest;
  WatchCreateRequest: t.WatchCreateRequest;
  WatchCancelRequest: t.WatchCancelRequest;
  WatchProgressRequest: t.WatchProgressRequest;
  WatchResponse: t.WatchResponse;
  // Lease
  LeaseGrantRequest: t.LeaseGrantRequest;
  LeaseGrantResponse: t.LeaseGrantResponse;
  LeaseRevokeRequest: t.LeaseRevokeRequest;
  LeaseRevokeResponse: t.LeaseRevokeResponse;
  LeaseCheckpoint: w.LeaseCheckpoint;
  LeaseCheckpointRequest: w.LeaseCheckpointRequest;
  LeaseCheckpointResponse: w.LeaseCheckpointResponse;
  LeaseKeepAliveRequest: t.LeaseKeepAliveRequest;
  LeaseKeepAliveResponse: t.LeaseKeepAliveResponse;
  LeaseTimeToLiveRequest: t.LeaseTimeToLiveRequest;
  LeaseTimeToLiveResponse: t.LeaseTimeToLiveResponse;
  LeaseLeasesRequest: w.EmptyRequest;
  LeaseStatus: t.LeaseStatus;
  LeaseLeasesResponse: t.LeaseLeasesResponse;
  // Cluster
  Member: t.Member;
  MemberAddRequest: t.MemberAddRequest;
  MemberAddResponse: t.MemberAddResponse;
  MemberRemoveRequest: t.MemberRemoveRequest;
  MemberRemoveResponse: t.MemberRemoveResponse;
  MemberUpdateRequest: t.MemberUpdateRequest;
  MemberUpdateResponse: t.MemberUpdateResponse;
  MemberListRequest: w.EmptyRequest;
  MemberListResponse: t.MemberListResponse;
  MemberPromoteRequest: t.MemberPromoteRequest;
  MemberPromoteResponse: t.MemberPromoteResponse;
  // Maintenance
  AlarmRequest: t.AlarmRequest;
  AlarmMember: t.AlarmMember;
  AlarmResponse: t.AlarmResponse;
  StatusRequest: w.EmptyRequest;
  StatusResponse: t.StatusResponse;
  DefragmentRequest: w.EmptyRequest;
  DefragmentResponse: t.DefragmentResponse;
  HashRequest: w.EmptyRequest;
  HashResponse: w.HashResponse;
  HashKVRequest: t.HashKVRequest;
  HashKVResponse: t.HashKVResponse;
  SnapshotRequest: w.EmptyRequest;
  SnapshotResponse: t.SnapshotResponse;
  MoveLeaderRequest: t.MoveLeaderRequest;
  MoveLeaderResponse: t.MoveLeaderResponse;
  // Auth
  AuthEnableRequest: w.EmptyRequest;
  AuthEnableResponse: w.AuthHeaderResponse;
  AuthDisableRequest: w.EmptyRequest;
  AuthDisableResponse: w.AuthHeaderResponse;
  AuthenticateRequest: w.AuthenticateRequest;
  AuthenticateResponse: w.AuthenticateResponse;
  AuthUserAddRequest: w.AuthUserAddRequest;
  AuthUserAddResponse: w.AuthHeaderResponse;
  AuthUserGetRequest: w.AuthUserGetRequest;
  AuthUserGetResponse: w.AuthUserGetResponse;
  AuthUserListRequest: w.EmptyRequest;
  AuthUserListResponse: w.AuthUserListResponse;
  AuthUserDeleteRequest: w.AuthUserDeleteRequest;
  AuthUserDeleteResponse: w.AuthHeaderResponse;
  AuthUserChangePasswordRequest: w.AuthUserChangePasswordRequest;
  AuthUserChangePasswordResponse: w.AuthHeaderResponse;
  AuthUserGrantRoleRequest: w.AuthUserGrantRoleRequest;
  AuthUserGrantRoleResponse: w.AuthHeaderResponse;
  AuthUserRevokeRoleRequest: w.AuthUserRevokeRoleRequest;
  AuthUserRevokeRoleResponse: w.AuthHeaderResponse;
  AuthRoleAddRequest: w.AuthRoleAddRequest;
  AuthRoleAddResponse: w.AuthHeaderResponse;
  AuthRoleGetRequest: w.AuthRoleGetRequest;
  AuthRoleGetResponse: w.AuthRoleGetResponse;
  AuthRoleListRequest: w.EmptyRequest;
  AuthRoleListResponse: w.AuthRoleListResponse;
  AuthRoleDeleteRequest: w.AuthRoleDeleteRequest;
  AuthRoleDeleteResponse: w.AuthHeaderResponse;
  AuthRoleGrantPermissionRequest: w.AuthRoleGrantPermissionRequest;
  AuthRoleGrantPermissionResponse: w.AuthHeaderResponse;
  AuthRoleRevokePermissionRequest: w.AuthRoleRevokePermissionRequest;
  AuthRoleRevokePermissionResponse: w.AuthHeaderResponse;
}

export type MessageName = keyof MessageTypes;

/** The message's full proto name: KeyValue and Event are mvccpb, the rest etcdserverpb. */
export function protoName(name: MessageName): string {
  return name === 'KeyValue' || name === 'Event' ? `mvccpb.${name}` : `etcdserverpb.${name}`;
}

type Encoder<N extends MessageName> = (msg: MessageTypes[N]) => Buffer;
type Decoder<N extends MessageName> = (buf: Uint8Array) => MessageTypes[N];

const FAST_ENCODERS: { [N in MessageName]?: Encoder<N> } = {
  KeyValue: encodeKeyValue,
  Event: encodeEvent,
  ResponseHeader: encodeResponseHeader,
  WatchResponse: (res) => encodeWatchResponse(res),
  RangeResponse: encodeRangeResponse,
  PutResponse: encodePutResponse,
  DeleteRangeResponse: encodeDeleteRangeResponse,
  RangeRequest: encodeRangeRequest,
  PutRequest: encodePutRequest,
  DeleteRangeRequest: encodeDeleteRangeRequest,
  Compare: encodeCompare,
  RequestOp: encodeRequestOp,
  TxnRequest: encodeTxnRequest,
};

const FAST_DECODERS: { [N in MessageName]?: Decoder<N> } = {
  KeyValue: decodeKeyValue,
  Event: decodeEvent,
  ResponseHeader: decodeResponseHeader,
  WatchResponse: decodeWatchResponse,
  RangeResponse: decodeRangeResponse,
  RangeRequest: decodeRangeRequest,
  PutRequest: decodePutRequest,
  DeleteRangeRequest: decodeDeleteRangeRequest,
  Compare: decodeCompare,
  RequestOp: decodeRequestOp,
  TxnRequest: decodeTxnRequest,
};

export function encode<N extends MessageName>(name: N, msg: MessageTypes[N]): Buffer {
  const fast = FAST_ENCODERS[name] as Encoder<N> | undefined;
  return fast ? fast(msg) : reflectCodec<MessageTypes[N]>(protoName(name)).encode(msg);
}

/** Absent fields come back as their zero values (optional message fields as undefined). */
export function decode<N extends MessageName>(name: N, buf: Uint8Array): MessageTypes[N] {
  const fast = FAST_DECODERS[name] as Decoder<N> | undefined;
  return fast ? fast(buf) : reflectCodec<MessageTypes[N]>(protoName(name)).decode(buf);
}

/** The schema-driven path only, for cross-checking the hand-written one (tests). */
export function encodeReflect<N extends MessageName>(name: N, msg: MessageTypes[N]): Buffer {
  return reflectCodec<MessageTypes[N]>(protoName(name)).encode(msg);
}

export function decodeReflect<N extends MessageName>(name: N, buf: Uint8Array): MessageTypes[N] {
  return reflectCodec<MessageTypes[N]>(protoName(name)).decode(buf);
}

/** The message with every field at its zero value. */
export function zeroMessage<N extends MessageName>(name: N): MessageTypes[N] {
  return reflectCodec<MessageTypes[N]>(protoName(name)).zero();
}
