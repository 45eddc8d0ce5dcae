import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import protobuf from 'protobufjs';
import { Prng } from '../../common/prng.js';
import {
  decode,
  decodeReflect,
  encode,
  encodeReflect,
  encodeWatchEvents,
  encodeWatchResponse,
  zeroMessage,
  ProtoDecodeError,
  type MessageName,
} from './codec.js';
import { etcdServices, type EtcdMethod } from './grpc-services.js';
import { etcdRoot } from './proto-schema.js';
import type { Compare, DeleteRangeRequest, Event, KeyValue, PutRequest, RangeRequest, RangeResponse, RequestOp, ResponseHeader, TxnRequest, WatchResponse } from './types.js';

const ETCD = '/usr/bin/etcd';

// ---- proto files vs the descriptors compiled into etcd 3.4 ----

// Just enough of google/protobuf/descriptor.proto to read a FileDescriptorProto.
const DESCRIPTOR_SUBSET = `
syntax = "proto2";
package d;
message File { optional string name = 1; optional string package = 2; repeated Msg message_type = 4;
  repeated Enum enum_type = 5; repeated Svc service = 6; }
message Msg { optional string name = 1; repeated Field field = 2; repeated Msg nested_type = 3;
  repeated Enum enum_type = 4; repeated Oneof oneof_decl = 8; }
message Field { optional string name = 1; optional int32 number = 3; optional int32 label = 4;
  optional int32 type = 5; optional string type_name = 6; optional int32 oneof_index = 9; }
message Oneof { optional string name = 1; }
message Enum { optional string name = 1; repeated EnumValue value = 2; }
message EnumValue { optional string name = 1; optional int32 number = 2; }
message Svc { optional string name = 1; repeated Method method = 2; }
message Method { optional string name = 1; optional string input_type = 2; optional string output_type = 3;
  optional bool client_streaming = 5; optional bool server_streaming = 6; }
`;

interface DFile { name?: string; package?: string; messageType: DMsg[]; enumType: DEnum[]; service: DSvc[] }
interface DMsg { name: string; field: DField[]; nestedType: DMsg[]; enumType: DEnum[]; oneofDecl: { name: string }[] }
interface DField { name: string; number: number; label?: number; type: number; typeName?: string; oneofIndex?: number }
interface DEnum { name: string; value: { name: string; number: number }[] }
interface DSvc { name: string; method: { name: string; inputType: string; outputType: string; clientStreaming?: boolean; serverStreaming?: boolean }[] }

const SCALAR_TYPES = ['', 'double', 'float', 'int64', 'uint64', 'int32', 'fixed64', 'fixed32', 'bool', 'string', 'group', 'message', 'bytes', 'uint32', 'enum', 'sfixed32', 'sfixed64', 'sint32', 'sint64'];

/** The gzipped FileDescriptorProtos gogo-protobuf registers, found by scanning the etcd binary. */
function descriptorsInEtcdBinary(): Map<string, DFile> {
  const File = protobuf.parse(DESCRIPTOR_SUBSET).root.lookupType('d.File');
  const bin = readFileSync(ETCD);
  const magic = Buffer.from([0x1f, 0x8b, 0x08]);
  const found = new Map<string, DFile>();
  for (let i = bin.indexOf(magic); i >= 0 && found.size < 3; i = bin.indexOf(magic, i + 1)) {
    let raw: Buffer;
    try {
      raw = gunzipSync(bin.subarray(i, i + 256 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      continue;
    }
    let file: DFile;
    try {
      file = File.toObject(File.decode(raw), { defaults: false, arrays: true }) as DFile;
    } catch {
      continue;
    }
    if (['etcdserverpb', 'mvccpb', 'authpb'].includes(file.package ?? '') && ['rpc.proto', 'kv.proto', 'auth.proto'].includes(file.name ?? '')) {
      found.set(file.package!, file);
    }
  }
  return found;
}

/** One line per field/value/method, the same shape for both sides. */
function describeBinary(file: DFile): string[] {
  const out: string[] = [];
  const enumLines = (prefix: string, e: DEnum) => e.value.map((v) => `enum ${prefix}${e.name}.${v.name}=${v.number}`);
  const msg = (prefix: string, m: DMsg) => {
    const full = `${prefix}${m.name}`;
    out.push(`message ${full}`);
    for (const f of m.field) {
      const type = f.typeName ? f.typeName.replace(/^\./, '') : SCALAR_TYPES[f.type];
      const oneof = f.oneofIndex !== undefined && m.oneofDecl[f.oneofIndex] ? ` oneof:${m.oneofDecl[f.oneofIndex]!.name}` : '';
      out.push(`field ${full}.${f.name}=${f.number} ${f.label === 3 ? 'repeated ' : ''}${type}${oneof}`);
    }
    for (const e of m.enumType) out.push(...enumLines(`${full}.`, e));
    for (const n of m.nestedType) msg(`${full}.`, n);
  };
  for (const m of file.messageType) msg(`${file.package}.`, m);
  for (const e of file.enumType) out.push(...enumLines(`${file.package}.`, e));
  for (const s of file.service) {
    for (const m of s.method) {
      out.push(
        `rpc ${file.package}.${s.name}.${m.name}(${m.clientStreaming ? 'stream ' : ''}${m.inputType.replace(/^\./, '')}) ` +
          `returns (${m.serverStreaming ? 'stream ' : ''}${m.outputType.replace(/^\./, '')})`,
      );
    }
  }
  return out.sort();
}

/** The .proto files as written (keepCase: field and oneof names exactly as in the file). */
function describeLoaded(pkg: string): string[] {
  const raw = new protobuf.Root();
  raw.resolvePath = etcdRoot().resolvePath;
  raw.loadSync('etcd/rpc.proto', { keepCase: true });
  raw.resolveAll();
  const out: string[] = [];
  const walk = (obj: protobuf.ReflectionObject, prefix: string) => {
    if (obj instanceof protobuf.Type) {
      const full = `${prefix}${obj.name}`;
      out.push(`message ${full}`);
      for (const f of obj.fieldsArray) {
        const type = f.resolvedType ? f.resolvedType.fullName.replace(/^\./, '') : f.type;
        const oneof = f.partOf ? ` oneof:${f.partOf.name}` : '';
        out.push(`field ${full}.${f.name}=${f.id} ${f.repeated ? 'repeated ' : ''}${type}${oneof}`);
      }
      for (const n of obj.nestedArray) walk(n, `${full}.`);
    } else if (obj instanceof protobuf.Enum) {
      for (const [name, num] of Object.entries(obj.values)) out.push(`enum ${prefix}${obj.name}.${name}=${num}`);
    } else if (obj instanceof protobuf.Service) {
      for (const m of obj.methodsArray) {
        out.push(
          `rpc ${prefix}${obj.name}.${m.name}(${m.requestStream ? 'stream ' : ''}${m.resolvedRequestType!.fullName.replace(/^\./, '')}) ` +
            `returns (${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType!.fullName.replace(/^\./, '')})`,
        );
      }
    }
  };
  for (const obj of (raw.lookup(pkg) as protobuf.Namespace).nestedArray) walk(obj, `${pkg}.`);
  return out.sort();
}

test('proto/etcd/*.proto match the descriptors compiled into etcd 3.4 exactly', { skip: !existsSync(ETCD) && `${ETCD} missing` }, () => {
  const compiled = descriptorsInEtcdBinary();
  assert.deepEqual([...compiled.keys()].sort(), ['authpb', 'etcdserverpb', 'mvccpb'], 'descriptors not found in the etcd binary');
  for (const [pkg, file] of compiled) {
    assert.deepEqual(describeLoaded(pkg), describeBinary(file), `package ${pkg} differs from etcd 3.4`);
  }
});

// ---- random messages ----

function bytes(p: Prng, max: number): Buffer {
  const b = Buffer.alloc(p.int(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = p.int(256);
  return b;
}

const INTERESTING_I64 = [0n, 1n, -1n, 127n, 128n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)];
const INTERESTING_U64 = [0n, 1n, 2n ** 32n - 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];

function revision(p: Prng): number {
  return p.pick([0, 1, 127, 128, 16384, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1, p.int(1_000_000)]);
}

function header(p: Prng): ResponseHeader {
  return { clusterId: p.pick(INTERESTING_U64), memberId: p.pick(INTERESTING_U64), revision: revision(p), raftTerm: revision(p) };
}

function keyValue(p: Prng): KeyValue {
  return { key: bytes(p, 20), createRevision: revision(p), modRevision: revision(p), version: revision(p), value: bytes(p, 300), lease: p.pick(INTERESTING_I64) };
}

function event(p: Prng): Event {
  const ev: Event = { type: p.int(2), kv: keyValue(p) };
  if (p.chance(0.5)) ev.prevKv = keyValue(p);
  return ev;
}

function watchResponse(p: Prng): WatchResponse {
  return {
    header: header(p),
    watchId: p.pick([0, 1, -1, 7, 2 ** 40]),
    created: p.chance(0.3),
    canceled: p.chance(0.3),
    compactRevision: p.chance(0.3) ? revision(p) : 0,
    cancelReason: p.pick(['', 'mvcc: watcher range is empty', 'ünïcode ✓']),
    fragment: p.chance(0.2),
    events: Array.from({ length: p.int(6) }, () => event(p)),
  };
}

function rangeResponse(p: Prng): RangeResponse {
  return { header: header(p), kvs: Array.from({ length: p.int(6) }, () => keyValue(p)), more: p.chance(0.5), count: revision(p) };
}

function rangeRequest(p: Prng): RangeRequest {
  const r: RangeRequest = { key: bytes(p, 20) };
  if (p.chance(0.5)) r.rangeEnd = bytes(p, 20);
  if (p.chance(0.5)) r.limit = revision(p);
  if (p.chance(0.5)) r.revision = p.pick([revision(p), -3]);
  if (p.chance(0.3)) r.sortOrder = p.int(3);
  if (p.chance(0.3)) r.sortTarget = p.int(5);
  if (p.chance(0.5)) r.serializable = p.chance(0.5);
  if (p.chance(0.3)) r.keysOnly = p.chance(0.5);
  if (p.chance(0.3)) r.countOnly = p.chance(0.5);
  if (p.chance(0.2)) r.minModRevision = revision(p);
  if (p.chance(0.2)) r.maxModRevision = revision(p);
  if (p.chance(0.2)) r.minCreateRevision = revision(p);
  if (p.chance(0.2)) r.maxCreateRevision = revision(p);
  return r;
}

function putRequest(p: Prng): PutRequest {
  const r: PutRequest = { key: bytes(p, 20) };
  if (p.chance(0.7)) r.value = bytes(p, 300);
  if (p.chance(0.4)) r.lease = p.pick(INTERESTING_I64);
  if (p.chance(0.3)) r.prevKv = p.chance(0.5);
  if (p.chance(0.2)) r.ignoreValue = p.chance(0.5);
  if (p.chance(0.2)) r.ignoreLease = p.chance(0.5);
  return r;
}

function deleteRequest(p: Prng): DeleteRangeRequest {
  const r: DeleteRangeRequest = { key: bytes(p, 20) };
  if (p.chance(0.5)) r.rangeEnd = bytes(p, 20);
  if (p.chance(0.5)) r.prevKv = p.chance(0.5);
  return r;
}

function compare(p: Prng): Compare {
  const c: Compare = { result: p.int(4), target: p.int(5), key: bytes(p, 20) };
  switch (p.int(6)) {
    case 0:
      c.version = revision(p);
      break;
    case 1:
      c.createRevision = revision(p);
      break;
    case 2:
      c.modRevision = revision(p);
      break;
    case 3:
      c.value = bytes(p, 30);
      break;
    case 4:
      c.lease = p.pick(INTERESTING_I64);
      break;
  }
  if (p.chance(0.3)) c.rangeEnd = bytes(p, 10);
  return c;
}

function requestOp(p: Prng, depth: number): RequestOp {
  switch (p.int(depth > 1 ? 3 : 4)) {
    case 0:
      return { requestRange: rangeRequest(p) };
    case 1:
      return { requestPut: putRequest(p) };
    case 2:
      return { requestDeleteRange: deleteRequest(p) };
    default:
      return { requestTxn: txnRequest(p, depth + 1) };
  }
}

function txnRequest(p: Prng, depth = 0): TxnRequest {
  return {
    compare: Array.from({ length: p.int(4) }, () => compare(p)),
    success: Array.from({ length: p.int(4) }, () => requestOp(p, depth)),
    failure: Array.from({ length: p.int(3) }, () => requestOp(p, depth)),
  };
}

test('hand-written encoders write exactly the bytes of the schema-driven codec', () => {
  const p = new Prng(20240601);
  for (let i = 0; i < 300; i++) {
    const cases: [MessageName, unknown][] = [
      ['ResponseHeader', header(p)],
      ['KeyValue', keyValue(p)],
      ['Event', event(p)],
      ['WatchResponse', watchResponse(p)],
      ['RangeResponse', rangeResponse(p)],
      ['PutResponse', p.chance(0.5) ? { header: header(p), prevKv: keyValue(p) } : { header: header(p) }],
      ['DeleteRangeResponse', { header: header(p), deleted: p.pick([0, 1, 7, 2 ** 40]), prevKvs: Array.from({ length: p.int(3) }, () => keyValue(p)) }],
    ];
    for (const [name, msg] of cases) {
      const fast = encode(name, msg as never);
      const slow = encodeReflect(name, msg as never);
      assert.ok(fast.equals(slow), `${name} #${i}: fast and schema-driven encodings differ`);
      assert.deepEqual(decode(name, fast), msg, `${name} #${i}: fast decode does not round-trip`);
      assert.deepEqual(decodeReflect(name, fast), msg, `${name} #${i}: schema-driven decode does not round-trip`);
    }
  }
});

test('hand-written request codecs: the same bytes as the schema-driven codec, and the same decoded values', () => {
  const p = new Prng(20261201);
  for (let i = 0; i < 400; i++) {
    const cases: [MessageName, unknown][] = [
      ['RangeRequest', rangeRequest(p)],
      ['PutRequest', putRequest(p)],
      ['DeleteRangeRequest', deleteRequest(p)],
      ['Compare', compare(p)],
      ['RequestOp', requestOp(p, 0)],
      ['TxnRequest', txnRequest(p)],
    ];
    for (const [name, msg] of cases) {
      const fast = encode(name, msg as never);
      const slow = encodeReflect(name, msg as never);
      assert.ok(fast.equals(slow), `${name} #${i}: fast and schema-driven encodings differ`);
      // Decoded, absent fields are zero values on both paths (so compare the two decodes).
      assert.deepEqual(decode(name, fast), decodeReflect(name, fast), `${name} #${i}: the decoders disagree`);
    }
  }
  assert.throws(() => encode('PutRequest', { key: 'k' as unknown as Buffer }), TypeError);
  assert.throws(() => encode('PutRequest', { key: Buffer.from('k'), lease: 2n ** 63n }), RangeError);
  assert.throws(() => encode('TxnRequest', { compare: [{ result: 0, target: 0, key: Buffer.from('k'), lease: 5 as unknown as bigint }], success: [], failure: [] }), TypeError);
  assert.throws(() => decode('TxnRequest', Buffer.from([0x0a, 0x05, 0x01])), /runs past|truncated/);
});

test('a batch encoded once gives the same WatchResponse bytes for every watcher', () => {
  const p = new Prng(99);
  const events = Array.from({ length: 5 }, () => event(p));
  const shared = encodeWatchEvents(events);
  for (const watchId of [0, 3, 12]) {
    const res: WatchResponse = { ...watchResponse(p), watchId, events };
    const once = encodeWatchResponse(res, shared);
    assert.ok(once.equals(encode('WatchResponse', res)));
    assert.deepEqual(decode('WatchResponse', once), res);
  }
  assert.equal(encodeWatchEvents([]).length, 0);
});

test('64-bit IDs survive exactly; revisions and counts are numbers', () => {
  for (const id of INTERESTING_I64) {
    const kv = { key: Buffer.from('k'), createRevision: 1, modRevision: 2, version: 1, value: Buffer.from('v'), lease: id };
    assert.equal(decode('KeyValue', encode('KeyValue', kv)).lease, id);
    assert.equal(decode('LeaseGrantResponse', encode('LeaseGrantResponse', { header: zeroMessage('ResponseHeader'), ID: id, TTL: 5, error: '' })).ID, id);
  }
  for (const id of INTERESTING_U64) {
    const m = decode('Member', encode('Member', { ID: id, name: 'm', peerURLs: [], clientURLs: [], isLearner: false }));
    assert.equal(m.ID, id);
    assert.equal(decode('StatusResponse', encode('StatusResponse', { ...zeroMessage('StatusResponse'), leader: id })).leader, id);
  }
  assert.throws(() => encode('Member', { ID: -1n, name: '', peerURLs: [], clientURLs: [], isLearner: false }), RangeError);
  assert.throws(() => encode('LeaseRevokeRequest', { ID: 2n ** 63n }), RangeError);
  assert.throws(() => encode('LeaseRevokeRequest', { ID: 5 as unknown as bigint }), TypeError);
  assert.throws(() => encode('RangeRequest', { key: 'abc' as unknown as Buffer }), TypeError);
  const big = decode('RangeRequest', encode('RangeRequest', { key: Buffer.from('a'), revision: -3, limit: 2 ** 40 }));
  assert.equal(big.revision, -3);
  assert.equal(big.limit, 2 ** 40);
  assert.equal(typeof decode('ResponseHeader', encode('ResponseHeader', { clusterId: 1n, memberId: 2n, revision: 3, raftTerm: 4 })).revision, 'number');
});

test('absent fields decode to zero values, optional messages stay absent', () => {
  const put = decode('PutResponse', Buffer.alloc(0));
  assert.deepEqual(put, { header: { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 } });
  assert.equal('prevKv' in put, false);
  const ev = decode('Event', Buffer.alloc(0));
  assert.deepEqual(ev, { type: 0, kv: { key: Buffer.alloc(0), createRevision: 0, modRevision: 0, version: 0, value: Buffer.alloc(0), lease: 0n } });
  const op = decode('RequestOp', encode('RequestOp', { requestPut: { key: Buffer.from('k') } }));
  assert.deepEqual(Object.keys(op), ['requestPut']);
  // A oneof member set to its zero value is still sent: its presence is the information.
  const cmp = decode('Compare', encode('Compare', { result: 0, target: 0, key: Buffer.from('k'), version: 0 }));
  assert.equal(cmp.version, 0);
  assert.equal('createRevision' in cmp, false);
  const wr = decode('WatchRequest', encode('WatchRequest', { progressRequest: {} }));
  assert.deepEqual(wr, { progressRequest: {} });
  // Zero scalars are not written, as Go's encoder does: an all-zero RangeResponse is its empty header.
  assert.deepEqual([...encode('RangeResponse', { header: zeroMessage('ResponseHeader'), kvs: [], more: false, count: 0 })], [0x0a, 0x00]);
  assert.equal(encode('RangeRequest', { key: Buffer.from('a'), limit: 0, revision: 0, keysOnly: false }).length, 3);
});

test('every request and response of every service round-trips from its zero value', () => {
  let methods = 0;
  for (const [svcName, svc] of Object.entries(etcdServices)) {
    const proto = etcdRoot().lookupService(`etcdserverpb.${svcName}`);
    for (const [method, def] of Object.entries(svc) as [string, EtcdMethod<unknown, unknown>][]) {
      methods++;
      const m = proto.methods[method]!;
      m.resolve();
      assert.equal(def.path, `/etcdserverpb.${svcName}/${method}`);
      const req = zeroMessage(m.resolvedRequestType!.name as MessageName);
      const res = zeroMessage(m.resolvedResponseType!.name as MessageName);
      assert.deepEqual(def.requestDeserialize(def.requestSerialize(req)), req, `${method} request`);
      assert.deepEqual(def.responseDeserialize(def.responseSerialize(res)), res, `${method} response`);
    }
  }
  assert.equal(methods, 5 + 1 + 5 + 5 + 7 + 16);
  for (const name of ['RequestOp', 'ResponseOp', 'Compare', 'LeaseCheckpointRequest', 'AlarmMember', 'LeaseStatus'] as MessageName[]) {
    const zero = zeroMessage(name);
    assert.deepEqual(decode(name, encode(name, zero as never)), zero, name);
  }
});

test('serializers pass an already-encoded Buffer through unchanged', () => {
  const res: WatchResponse = watchResponse(new Prng(5));
  const bytesOnce = encode('WatchResponse', res);
  const out = etcdServices.Watch.Watch.responseSerialize(bytesOnce);
  assert.equal(out, bytesOnce);
  assert.deepEqual(etcdServices.Watch.Watch.responseDeserialize(out), res);
  const req = etcdServices.KV.Range.requestSerialize({ key: Buffer.from('x'), limit: 3 });
  assert.equal(etcdServices.KV.Range.requestDeserialize(req).limit, 3);
  assert.equal(etcdServices.KV.Range.path, '/etcdserverpb.KV/Range');
  assert.equal(etcdServices.Maintenance.Snapshot.responseStream, true);
  assert.equal(etcdServices.Maintenance.Snapshot.requestStream, false);
  assert.equal(etcdServices.Lease.LeaseKeepAlive.requestStream && etcdServices.Lease.LeaseKeepAlive.responseStream, true);
});

test('malformed input is rejected, never misread', () => {
  const good = encode('WatchResponse', watchResponse(new Prng(8)));
  for (let cut = 1; cut < good.length; cut += Math.max(1, Math.floor(good.length / 40))) {
    const truncated = good.subarray(0, cut);
    let decoded: WatchResponse | undefined;
    try {
      decoded = decode('WatchResponse', truncated);
    } catch (e) {
      assert.ok(e instanceof ProtoDecodeError, `cut ${cut}: ${String(e)}`);
      continue;
    }
    // A cut exactly between two fields is a valid, shorter message.
    assert.ok(decoded);
  }
  assert.throws(() => decode('KeyValue', Buffer.from([0x0a, 0x05, 0x61])), ProtoDecodeError);
  assert.throws(() => decode('KeyValue', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), ProtoDecodeError);
  assert.throws(() => decode('RangeRequest', Buffer.from([0x0a, 0x05, 0x61])));
  // Unknown fields (a newer etcd) are skipped.
  const withUnknown = Buffer.concat([encode('KeyValue', keyValue(new Prng(3))), Buffer.from([0xf8, 0x01, 0x05, 0x82, 0x02, 0x01, 0x00])]);
  assert.ok(decode('KeyValue', withUnknown));
});
