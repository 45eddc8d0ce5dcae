// The schema-driven codec: converts between the plain TS values of types.ts / wire-types.ts and
// protobufjs messages of proto/etcd/*.proto, for every message. A conversion plan is built once
// per message type from the reflected schema:
// - 64-bit integers named like IDs (ID, lease, clusterId, memberId, memberID, leader, targetID)
//   are bigint, signed or unsigned as the proto says; every other 64-bit field is a number;
// - bytes are Buffers;
// - on decode, absent fields become their zero value, except oneof members and the few message
//   fields that types.ts declares optional (prevKv, ...), which stay undefined;
// - on encode, zero-valued scalars are left out as Go's proto3 encoder does (oneof members are
//   always written: their presence is the information).

import protobuf from 'protobufjs';
import { lookupType } from './proto-schema.js';

const BIGINT_FIELDS = new Set(['ID', 'lease', 'clusterId', 'memberId', 'memberID', 'leader', 'targetID']);
/** Message fields that types.ts/wire-types.ts declare optional ("Type.field"). */
const OPTIONAL_MESSAGE_FIELDS = new Set([
  'mvccpb.Event.prevKv',
  'etcdserverpb.PutResponse.prevKv',
  'etcdserverpb.AuthUserAddRequest.options',
  'etcdserverpb.AuthRoleGrantPermissionRequest.perm',
]);

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const EMPTY = Buffer.alloc(0);

type Kind = 'i64n' | 'u64n' | 'num64' | 'bytes' | 'message' | 'plain';

interface FieldPlan {
  readonly name: string;
  readonly path: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  readonly oneof: boolean;
  readonly optionalMessage: boolean;
  sub: TypePlan | undefined;
}

interface TypePlan {
  readonly type: protobuf.Type;
  readonly fields: FieldPlan[];
}

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

const plans = new Map<protobuf.Type, TypePlan>();

function kindOf(field: protobuf.Field): Kind {
  if (field.resolvedType instanceof protobuf.Type) return 'message';
  switch (field.type) {
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return BIGINT_FIELDS.has(field.name) ? 'i64n' : 'num64';
    case 'uint64':
    case 'fixed64':
      return BIGINT_FIELDS.has(field.name) ? 'u64n' : 'num64';
    case 'bytes':
      return 'bytes';
    default:
      return 'plain';
  }
}

function planFor(type: protobuf.Type): TypePlan {
  const known = plans.get(type);
  if (known) return known;
  const plan: TypePlan = { type, fields: [] };
  plans.set(type, plan); // before recursing: messages nest themselves (TxnRequest in RequestOp)
  const typeName = type.fullName.replace(/^\./, '');
  for (const f of type.fieldsArray) {
    const kind = kindOf(f);
    plan.fields.push({
      name: f.name,
      path: `${typeName}.${f.name}`,
      kind,
      repeated: f.repeated,
      oneof: f.partOf !== null,
      optionalMessage: kind === 'message' && OPTIONAL_MESSAGE_FIELDS.has(`${typeName}.${f.name}`),
      sub: undefined,
    });
  }
  for (let i = 0; i < plan.fields.length; i++) {
    const f = type.fieldsArray[i]!;
    if (f.resolvedType instanceof protobuf.Type) plan.fields[i]!.sub = planFor(f.resolvedType);
  }
  return plan;
}

// ---- to wire ----

function toLong(v: unknown, unsigned: boolean, path: string): LongLike {
  if (typeof v !== 'bigint') throw new TypeError(`${path}: expected a bigint, got ${typeof v}`);
  if (unsigned ? v < 0n || v > MAX_U64 : v < MIN_I64 || v > MAX_I64) {
    throw new RangeError(`${path}: ${v} is out of range for ${unsigned ? 'uint64' : 'int64'}`);
  }
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned };
}

function scalarToWire(f: FieldPlan, v: unknown): unknown {
  switch (f.kind) {
    case 'i64n':
      return toLong(v, false, f.path);
    case 'u64n':
      return toLong(v, true, f.path);
    case 'num64':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
        throw new TypeError(`${f.path}: expected a safe integer, got ${String(v)}`);
      }
      return v;
    case 'bytes':
      // protobufjs would base64-decode a string here: refuse anything but bytes.
      if (!(v instanceof Uint8Array)) throw new TypeError(`${f.path}: expected a Buffer, got ${typeof v}`);
      return v;
    case 'message':
      return toWire(f.sub!, v);
    case 'plain':
      return v;
  }
}

function isZero(f: FieldPlan, v: unknown): boolean {
  switch (f.kind) {
    case 'i64n':
    case 'u64n':
      return v === 0n;
    case 'bytes':
      return v instanceof Uint8Array && v.length === 0;
    case 'message':
      return false;
    default:
      return v === 0 || v === false || v === '';
  }
}

function toWire(plan: TypePlan, obj: unknown): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null) {
    throw new TypeError(`${plan.type.name}: expected an object, got ${obj === null ? 'null' : typeof obj}`);
  }
  const src = obj as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const v = src[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      if (!Array.isArray(v)) throw new TypeError(`${f.path}: expected an array`);
      if (v.length > 0) out[f.name] = v.map((x) => scalarToWire(f, x));
      continue;
    }
    if (!f.oneof && isZero(f, v)) continue;
    out[f.name] = scalarToWire(f, v);
  }
  return out;
}

// ---- from wire ----

function longToBigint(v: unknown, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  const l = v as LongLike;
  const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
  return unsigned ? u : BigInt.asIntN(64, u);
}

function longToNumber(v: unknown, unsigned: boolean): number {
  if (typeof v === 'number') return v;
  const l = v as LongLike;
  return (unsigned ? l.high >>> 0 : l.high | 0) * 4294967296 + (l.low >>> 0);
}

function scalarFromWire(f: FieldPlan, v: unknown): unknown {
  switch (f.kind) {
    case 'i64n':
      return longToBigint(v, false);
    case 'u64n':
      return longToBigint(v, true);
    case 'num64':
      return longToNumber(v, (v as LongLike).unsigned === true);
    case 'bytes': {
      const b = v as Uint8Array;
      if (b.length === 0) return EMPTY;
      return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    }
    case 'message':
      return fromWire(f.sub!, v as protobuf.Message);
    case 'plain':
      return v;
  }
}

function fromWire(plan: TypePlan, m: protobuf.Message): Record<string, unknown> {
  const src = m as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const v = src[f.name];
    if (f.oneof) {
      if (Object.prototype.hasOwnProperty.call(src, f.name) && v !== null && v !== undefined) {
        out[f.name] = scalarFromWire(f, v);
      }
      continue;
    }
    if (f.repeated) {
      out[f.name] = Array.isArray(v) ? v.map((x) => scalarFromWire(f, x)) : [];
      continue;
    }
    if (f.kind === 'message' && (v === null || v === undefined)) {
      if (!f.optionalMessage) out[f.name] = fromWire(f.sub!, f.sub!.type.create());
      continue;
    }
    out[f.name] = scalarFromWire(f, v);
  }
  return out;
}

export interface ReflectCodec<T> {
  encode(msg: T): Buffer;
  decode(buf: Uint8Array): T;
  /** The TS value of the message with every field at its zero value. */
  zero(): T;
}

const codecs = new Map<string, ReflectCodec<unknown>>();

/** The schema-driven codec of one message, by full proto name ("etcdserverpb.RangeRequest"). */
export function reflectCodec<T>(fullName: string): ReflectCodec<T> {
  const known = codecs.get(fullName);
  if (known) return known as ReflectCodec<T>;
  const type = lookupType(fullName);
  const plan = planFor(type);
  const codec: ReflectCodec<T> = {
    encode(msg: T): Buffer {
      const w = type.encode(toWire(plan, msg)).finish();
      return Buffer.isBuffer(w) ? w : Buffer.from(w.buffer, w.byteOffset, w.byteLength);
    },
    decode(buf: Uint8Array): T {
      return fromWire(plan, type.decode(buf)) as T;
    },
    zero(): T {
      return fromWire(plan, type.create()) as T;
    },
  };
  codecs.set(fullName, codec as ReflectCodec<unknown>);
  return codec;
}
