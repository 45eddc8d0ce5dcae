// Messages of etcd 3.4's API that exist on the wire but are not part of the shared contract in
// types.ts: empty requests, the legacy Hash call, the lease checkpoint (raft-internal in etcd) and
// the Auth service. Same representation rules as types.ts.

import type { Bytes, ResponseHeader } from './types.js';

/** Requests without fields (StatusRequest, MemberListRequest, SnapshotRequest, ...). */
export type EmptyRequest = Record<string, never>;

export interface HashResponse {
  header: ResponseHeader;
  hash: number;
}

export interface LeaseCheckpoint {
  ID: bigint;
  // protobufjs keeps "remaining_TTL" as is (its camelCase only lifts lower-case letters).
  remaining_TTL: number;
}

export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}

export interface LeaseCheckpointResponse {
  header: ResponseHeader;
}

// ---- authpb ----

export interface UserAddOptions {
  noPassword: boolean;
}

export enum PermissionType {
  READ = 0,
  WRITE = 1,
  READWRITE = 2,
}

export interface Permission {
  permType: PermissionType;
  key: Bytes;
  rangeEnd: Bytes;
}

// ---- Auth service ----

export interface AuthenticateRequest {
  name: string;
  password: string;
}

export interface AuthUserAddRequest {
  name: string;
  password?: string;
  options?: UserAddOptions;
}

export interface AuthUserGetRequest {
  name: string;
}

export interface AuthUserDeleteRequest {
  name: string;
}

export interface AuthUserChangePasswordRequest {
  name: string;
  password: string;
}

export interface AuthUserGrantRoleRequest {
  user: string;
  role: string;
}

export interface AuthUserRevokeRoleRequest {
  name: string;
  role: string;
}

export interface AuthRoleAddRequest {
  name: string;
}

export interface AuthRoleGetRequest {
  role: string;
}

export interface AuthRoleDeleteRequest {
  role: string;
}

export interface AuthRoleGrantPermissionRequest {
  name: string;
  perm?: Permission;
}

export interface AuthRoleRevokePermissionRequest {
  role: string;
  key: Bytes;
  rangeEnd?: Bytes;
}

/** AuthEnable/AuthDisable/UserAdd/UserDelete/... responses: only a header. */
export interface AuthHeaderResponse {
  header: ResponseHeader;
}

export interface AuthenticateResponse {
  header: ResponseHeader;
  token: string;
}

export interface AuthUserGetResponse {
  header: ResponseHeader;
  roles: string[];
}

export interface AuthRoleGetResponse {
  header: ResponseHeader;
  perm: Permission[];
}

export interface AuthRoleListResponse {
  header: ResponseHeader;
  roles: string[];
}

export interface AuthUserListResponse {
  header: ResponseHeader;
  users: string[];
}
