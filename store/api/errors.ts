// etcd's errors as values: each has the gRPC status code and the exact message etcd 3.4 sends
// (etcdserver/api/v3rpc/rpctypes/error.go), so clients that match on them keep working.
// The store throws these; the gRPC layer maps them 1:1 to a status; the remote client maps a
// received status back to the same value.

/** gRPC status codes (google.rpc.Code), kept here so the store does not import grpc. */
export enum GrpcCode {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export class EtcdError extends Error {
  override name = 'EtcdError';
  constructor(
    readonly code: GrpcCode,
    message: string,
  ) {
    super(message);
  }

  /** Same code and message: the way clients compare etcd errors. */
  is(other: EtcdError): boolean {
    return this.code === other.code && this.message === other.message;
  }
}

const e = (code: GrpcCode, message: string): EtcdError => new EtcdError(code, message);
const C = GrpcCode;

// Each call returns a fresh Error (fresh stack); compare with `.is()` or by message.
export const Errors = {
  emptyKey: () => e(C.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: () => e(C.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: () => e(C.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: () => e(C.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: () => e(C.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: () => e(C.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: () => e(C.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: () => e(C.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: () => e(C.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),

  leaseNotFound: () => e(C.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExist: () => e(C.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: () => e(C.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),

  memberExist: () => e(C.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExist: () => e(C.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: () =>
    e(C.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members'),
  memberBadURLs: () => e(C.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  memberNotFound: () => e(C.NOT_FOUND, 'etcdserver: member not found'),
  memberNotLearner: () => e(C.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  learnerNotReady: () =>
    e(C.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader'),
  tooManyLearners: () => e(C.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'),

  requestTooLarge: () => e(C.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  tooManyRequests: () => e(C.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),

  noLeader: () => e(C.UNAVAILABLE, 'etcdserver: no leader'),
  notLeader: () => e(C.FAILED_PRECONDITION, 'etcdserver: not leader'),
  leaderChanged: () => e(C.UNAVAILABLE, 'etcdserver: leader changed'),
  notCapable: () => e(C.UNAVAILABLE, 'etcdserver: not capable'),
  stopped: () => e(C.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: () => e(C.UNAVAILABLE, 'etcdserver: request timed out'),
  timeoutDueToLeaderFail: () =>
    e(C.UNAVAILABLE, 'etcdserver: request timed out, possibly due to previous leader failure'),
  timeoutDueToConnectionLost: () =>
    e(C.UNAVAILABLE, 'etcdserver: request timed out, possibly due to connection lost'),
  unhealthy: () => e(C.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  corrupt: () => e(C.DATA_LOSS, 'etcdserver: corrupt cluster'),
  notSupportedForLearner: () => e(C.UNAVAILABLE, 'etcdserver: rpc not supported for learner'),
  badLeaderTransferee: () => e(C.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
} as const;
