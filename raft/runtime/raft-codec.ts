// Raft messages on the wire: raft/core's Message <-> proto/raft/raft.proto, with protobufjs.

import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../../common/package-root.js';
import type { ConfState, Entry, Message, SnapshotMetadata } from '../core/types.js';

let root: protobuf.Root | undefined;

export function raftRoot(): protobuf.Root {
  if (!root) {
    root = protobuf.loadSync(join(packageRoot(), 'proto', 'raft', 'raft.proto'));
    root.resolveAll();
  }
  return root;
}

function type(name: string): protobuf.Type {
  return raftRoot().lookupType(`keelson.raft.${name}`);
}

let T:
  | {
      Batch: protobuf.Type;
      Chunk: protobuf.Type;
      ProposeReq: protobuf.Type;
      ProposeResp: protobuf.Type;
      ProposeBatchReq: protobuf.Type;
      ProposeBatchResp: protobuf.Type;
      Empty: protobuf.Type;
      FwdReq: protobuf.Type;
      FwdResp: protobuf.Type;
    }
  | undefined;
function types() {
  T ??= {
    FwdReq: type('ForwardRequest'),
    FwdResp: type('ForwardResponse'),
    Batch: type('Batch'),
    Chunk: type('SnapshotChunk'),
    ProposeReq: type('ProposeRequest'),
    ProposeResp: type('ProposeResponse'),
    ProposeBatchReq: type('ProposeBatchRequest'),
    ProposeBatchResp: type('ProposeBatchResponse'),
    Empty: type('Empty'),
  };
  return T;
}

type Long = { toNumber(): number };
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === undefined || v === null) return 0;
  return (v as Long).toNumber();
}

const EMPTY = new Uint8Array(0);

interface PbEntry {
  term?: unknown;
  index?: unknown;
  type?: number;
  data?: Uint8Array;
}
interface PbConfState {
  voters?: unknown[];
  learners?: unknown[];
}
interface PbMeta {
  index?: unknown;
  term?: unknown;
  confState?: PbConfState;
}
interface PbMessage {
  type?: number;
  to?: unknown;
  from?: unknown;
  term?: unknown;
  logTerm?: unknown;
  index?: unknown;
  entries?: PbEntry[];
  commit?: unknown;
  snapshot?: PbMeta;
  reject?: boolean;
  rejectHint?: unknown;
  context?: Uint8Array;
}

function toPbMessage(m: Message): PbMessage {
  const pb: PbMessage = {
    type: m.type,
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
  };
  if (m.entries.length > 0) pb.entries = m.entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: e.data }));
  if (m.snapshot) pb.snapshot = metaToPb(m.snapshot.metadata);
  if (m.context) pb.context = m.context;
  return pb;
}

function metaToPb(md: SnapshotMetadata): PbMeta {
  return { index: md.index, term: md.term, confState: { voters: md.confState.voters, learners: md.confState.learners } };
}

function metaFromPb(pb: PbMeta | undefined): SnapshotMetadata {
  const cs: ConfState = {
    voters: (pb?.confState?.voters ?? []).map(num),
    learners: (pb?.confState?.learners ?? []).map(num),
  };
  return { index: num(pb?.index), term: num(pb?.term), confState: cs };
}

function fromPbMessage(pb: PbMessage): Message {
  const entries: Entry[] = (pb.entries ?? []).map((e) => ({
    term: num(e.term),
    index: num(e.index),
    type: e.type ?? 0,
    data: e.data ?? EMPTY,
  }));
  const m: Message = {
    type: pb.type ?? 0,
    to: num(pb.to),
    from: num(pb.from),
    term: num(pb.term),
    logTerm: num(pb.logTerm),
    index: num(pb.index),
    entries,
    commit: num(pb.commit),
    reject: pb.reject ?? false,
    rejectHint: num(pb.rejectHint),
  };
  if (pb.snapshot) m.snapshot = { metadata: metaFromPb(pb.snapshot), data: EMPTY };
  if (pb.context && pb.context.length > 0) m.context = pb.context;
  return m;
}

// The hot path: the hand-written codec of the same wire format.
export { encodeBatch, decodeBatch } from './raft-batch-codec.js';

/** The schema-driven (protobufjs) encoding of a Batch, for cross-checking the hand-written one. */
export function encodeBatchProto(msgs: readonly Message[]): Uint8Array {
  const t = types().Batch;
  return t.encode(t.fromObject({ messages: msgs.map(toPbMessage) })).finish();
}

export function decodeBatchProto(buf: Uint8Array): Message[] {
  const obj = types().Batch.decode(buf) as unknown as { messages?: PbMessage[] };
  return (obj.messages ?? []).map(fromPbMessage);
}

export interface SnapshotChunk {
  header?: Message;
  data: Uint8Array;
  last: boolean;
  totalSize: number;
  crc32: number;
}

export function encodeChunk(c: SnapshotChunk): Uint8Array {
  const t = types().Chunk;
  const pb: Record<string, unknown> = { data: c.data, last: c.last, totalSize: c.totalSize, crc32: c.crc32 };
  if (c.header) pb['header'] = toPbMessage(c.header);
  return t.encode(t.fromObject(pb)).finish();
}

export function decodeChunk(buf: Uint8Array): SnapshotChunk {
  const o = types().Chunk.decode(buf) as unknown as { header?: PbMessage; data?: Uint8Array; last?: boolean; totalSize?: unknown; crc32?: number };
  const c: SnapshotChunk = { data: o.data ?? EMPTY, last: o.last ?? false, totalSize: num(o.totalSize), crc32: o.crc32 ?? 0 };
  if (o.header) c.header = fromPbMessage(o.header);
  return c;
}

export interface ProposeResponse {
  term: number;
  index: number;
  error: string;
  leader: number;
}

export function encodeProposeRequest(data: Uint8Array): Uint8Array {
  const t = types().ProposeReq;
  return t.encode(t.fromObject({ data })).finish();
}

export function decodeProposeRequest(buf: Uint8Array): Uint8Array {
  return ((types().ProposeReq.decode(buf) as unknown as { data?: Uint8Array }).data ?? EMPTY) as Uint8Array;
}

export function encodeProposeResponse(r: ProposeResponse): Uint8Array {
  const t = types().ProposeResp;
  return t.encode(t.fromObject(r)).finish();
}

export function decodeProposeResponse(buf: Uint8Array): ProposeResponse {
  const o = types().ProposeResp.decode(buf) as unknown as { term?: unknown; index?: unknown; error?: string; leader?: unknown };
  return { term: num(o.term), index: num(o.index), error: o.error ?? '', leader: num(o.leader) };
}

export function encodeProposeBatchRequest(datas: readonly Uint8Array[]): Uint8Array {
  const t = types().ProposeBatchReq;
  return t.encode({ proposals: datas.map((data) => ({ data })) }).finish();
}

export function decodeProposeBatchRequest(buf: Uint8Array): Uint8Array[] {
  const o = types().ProposeBatchReq.decode(buf) as unknown as { proposals?: { data?: Uint8Array }[] };
  return (o.proposals ?? []).map((p) => p.data ?? EMPTY);
}

export function encodeProposeBatchResponse(rs: readonly ProposeResponse[]): Uint8Array {
  const t = types().ProposeBatchResp;
  return t.encode(t.fromObject({ results: rs })).finish();
}

export function decodeProposeBatchResponse(buf: Uint8Array): ProposeResponse[] {
  const o = types().ProposeBatchResp.decode(buf) as unknown as { results?: { term?: unknown; index?: unknown; error?: string; leader?: unknown }[] };
  return (o.results ?? []).map((r) => ({ term: num(r.term), index: num(r.index), error: r.error ?? '', leader: num(r.leader) }));
}

export interface ForwardRequest {
  kind: string;
  payload: Uint8Array;
}

export interface ForwardResponse {
  payload: Uint8Array;
  error: string;
}

export function encodeForwardRequest(r: ForwardRequest): Uint8Array {
  const t = types().FwdReq;
  return t.encode(t.fromObject(r)).finish();
}

export function decodeForwardRequest(buf: Uint8Array): ForwardRequest {
  const o = types().FwdReq.decode(buf) as unknown as { kind?: string; payload?: Uint8Array };
  return { kind: o.kind ?? '', payload: o.payload ?? EMPTY };
}

export function encodeForwardResponse(r: ForwardResponse): Uint8Array {
  const t = types().FwdResp;
  return t.encode(t.fromObject(r)).finish();
}

export function decodeForwardResponse(buf: Uint8Array): ForwardResponse {
  const o = types().FwdResp.decode(buf) as unknown as { payload?: Uint8Array; error?: string };
  return { payload: o.payload ?? EMPTY, error: o.error ?? '' };
}
