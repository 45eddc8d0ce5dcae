// @grpc/grpc-js service definitions for etcd 3.4's six services, with (de)serializers that go
// through the codec. The same objects serve `server.addService(KVService, impl)` and
// `makeGenericClientConstructor(KVService, 'KV')` / `client.makeUnaryRequest(def.path, ...)`.
// Method keys are the proto names (Range, MemberList, ...); originalName is the lowerCamel form
// (range, memberList), which grpc-js also accepts for implementations and client methods.
//
// Serializers pass a Buffer through unchanged, so a server can encode a message once (e.g. a
// watch event batch, see codec.ts encodeWatchResponse) and write the same bytes to many streams.
// Each table is checked against proto/etcd/rpc.proto when first built.

import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { invariant } from '../../common/assert.js';
import { decode, encode, protoName, type MessageName, type MessageTypes } from './codec.js';
import { lookupService } from './proto-schema.js';

/** A method definition whose serializers also take an already-encoded Buffer. */
export interface EtcdMethod<Req, Res> extends MethodDefinition<Req, Res> {
  requestSerialize: (value: Req | Buffer) => Buffer;
  responseSerialize: (value: Res | Buffer) => Buffer;
}

type MethodSpec = readonly [request: MessageName, response: MessageName, requestStream: boolean, responseStream: boolean];
type ServiceSpec = Readonly<Record<string, MethodSpec>>;

export type EtcdService<S extends ServiceSpec> = {
  readonly [K in keyof S]: EtcdMethod<MessageTypes[S[K][0]], MessageTypes[S[K][1]]>;
};

const KV_SPEC = {
  Range: ['RangeRequest', 'RangeResponse', false, false],
  Put: ['PutRequest', 'PutResponse', false, false],
  DeleteRange: ['DeleteRangeRequest', 'DeleteRangeResponse', false, false],
  Txn: ['TxnRequest', 'TxnResponse', false, false],
  Compact: ['CompactionRequest', 'CompactionResponse', false, false],
} as const satisfies ServiceSpec;

const WATCH_SPEC = {
  Watch: ['WatchRequest', 'WatchResponse', true, true],
} as const satisfies ServiceSpec;

const LEASE_SPEC = {
  LeaseGrant: ['LeaseGrantRequest', 'LeaseGrantResponse', false, false],
  LeaseRevoke: ['LeaseRevokeRequest', 'LeaseRevokeResponse', false, false],
  LeaseKeepAlive: ['LeaseKeepAliveRequest', 'LeaseKeepAliveResponse', true, true],
  LeaseTimeToLive: ['LeaseTimeToLiveRequest', 'LeaseTimeToLiveResponse', false, false],
  LeaseLeases: ['LeaseLeasesRequest', 'LeaseLeasesResponse', false, false],
} as const satisfies ServiceSpec;

const CLUSTER_SPEC = {
  MemberAdd: ['MemberAddRequest', 'MemberAddResponse', false, false],
  MemberRemove: ['MemberRemoveRequest', 'MemberRemoveResponse', false, false],
  MemberUpdate: ['MemberUpdateRequest', 'MemberUpdateResponse', false, false],
  MemberList: ['MemberListRequest', 'MemberListResponse', false, false],
  MemberPromote: ['MemberPromoteRequest', 'MemberPromoteResponse', false, false],
} as const satisfies ServiceSpec;

const MAINTENANCE_SPEC = {
  Alarm: ['AlarmRequest', 'AlarmResponse', false, false],
  Status: ['StatusRequest', 'StatusResponse', false, false],
  Defragment: ['DefragmentRequest', 'DefragmentResponse', false, false],
  Hash: ['HashRequest', 'HashResponse', false, false],
  HashKV: ['HashKVRequest', 'HashKVResponse', false, false],
  Snapshot: ['SnapshotRequest', 'SnapshotResponse', false, true],
  MoveLeader: ['MoveLeaderRequest', 'MoveLeaderResponse', false, false],
} as const satisfies ServiceSpec;

const AUTH_SPEC = {
  AuthEnable: ['AuthEnableRequest', 'AuthEnableResponse', false, false],
  AuthDisable: ['AuthDisableRequest', 'AuthDisableResponse', false, false],
  Authenticate: ['AuthenticateRequest', 'AuthenticateResponse', false, false],
  UserAdd: ['AuthUserAddRequest', 'AuthUserAddResponse', false, false],
  UserGet: ['AuthUserGetRequest', 'AuthUserGetResponse', false, false],
  UserList: ['AuthUserListRequest', 'AuthUserListResponse', false, false],
  UserDelete: ['AuthUserDeleteRequest', 'AuthUserDeleteResponse', false, false],
  UserChangePassword: ['AuthUserChangePasswordRequest', 'AuthUserChangePasswordResponse', false, false],
  UserGrantRole: ['AuthUserGrantRoleRequest', 'AuthUserGrantRoleResponse', false, false],
  UserRevokeRole: ['AuthUserRevokeRoleRequest', 'AuthUserRevokeRoleResponse', false, false],
  RoleAdd: ['AuthRoleAddRequest', 'AuthRoleAddResponse', false, false],
  RoleGet: ['AuthRoleGetRequest', 'AuthRoleGetResponse', false, false],
  RoleList: ['AuthRoleListRequest', 'AuthRoleListResponse', false, false],
  RoleDelete: ['AuthRoleDeleteRequest', 'AuthRoleDeleteResponse', false, false],
  RoleGrantPermission: ['AuthRoleGrantPermissionRequest', 'AuthRoleGrantPermissionResponse', false, false],
  RoleRevokePermission: ['AuthRoleRevokePermissionRequest', 'AuthRoleRevokePermissionResponse', false, false],
} as const satisfies ServiceSpec;

function lowerCamel(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function serializer<N extends MessageName>(name: N): (value: MessageTypes[N] | Buffer) => Buffer {
  return (value) => (Buffer.isBuffer(value) ? value : encode(name, value));
}

function deserializer<N extends MessageName>(name: N): (bytes: Buffer) => MessageTypes[N] {
  return (bytes) => decode(name, bytes);
}

function makeService<S extends ServiceSpec>(serviceName: string, spec: S): EtcdService<S> {
  const svc = lookupService(`etcdserverpb.${serviceName}`);
  const protoMethods = Object.keys(svc.methods).sort();
  invariant(
    protoMethods.join() === Object.keys(spec).sort().join(),
    () => `${serviceName}: methods ${Object.keys(spec).join()} differ from rpc.proto's ${protoMethods.join()}`,
  );
  const out: Record<string, EtcdMethod<unknown, unknown>> = {};
  for (const [method, [req, res, reqStream, resStream]] of Object.entries(spec)) {
    const m = svc.methods[method]!;
    invariant(
      m.resolvedRequestType?.fullName === `.${protoName(req)}` &&
        m.resolvedResponseType?.fullName === `.${protoName(res)}` &&
        (m.requestStream === true) === reqStream &&
        (m.responseStream === true) === resStream,
      () => `${serviceName}.${method}: table disagrees with rpc.proto`,
    );
    out[method] = {
      path: `/etcdserverpb.${serviceName}/${method}`,
      originalName: lowerCamel(method),
      requestStream: reqStream,
      responseStream: resStream,
      requestSerialize: serializer(req) as (v: unknown) => Buffer,
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res) as (v: unknown) => Buffer,
      responseDeserialize: deserializer(res),
    };
  }
  return out as EtcdService<S>;
}

export type KVServiceDef = EtcdService<typeof KV_SPEC>;
export type WatchServiceDef = EtcdService<typeof WATCH_SPEC>;
export type LeaseServiceDef = EtcdService<typeof LEASE_SPEC>;
export type ClusterServiceDef = EtcdService<typeof CLUSTER_SPEC>;
export type MaintenanceServiceDef = EtcdService<typeof MAINTENANCE_SPEC>;
export type AuthServiceDef = EtcdService<typeof AUTH_SPEC>;

export const KVService: KVServiceDef = makeService('KV', KV_SPEC);
export const WatchService: WatchServiceDef = makeService('Watch', WATCH_SPEC);
export const LeaseService: LeaseServiceDef = makeService('Lease', LEASE_SPEC);
export const ClusterService: ClusterServiceDef = makeService('Cluster', CLUSTER_SPEC);
export const MaintenanceService: MaintenanceServiceDef = makeService('Maintenance', MAINTENANCE_SPEC);
export const AuthService: AuthServiceDef = makeService('Auth', AUTH_SPEC);

/** All six by service name, e.g. for `for (const [name, def] of ...) server.addService(def, impl[name])`. */
export const etcdServices = {
  KV: KVService,
  Watch: WatchService,
  Lease: LeaseService,
  Cluster: ClusterService,
  Maintenance: MaintenanceService,
  Auth: AuthService,
} as const satisfies Record<string, ServiceDefinition>;
