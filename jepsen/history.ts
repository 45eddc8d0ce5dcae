// The recorded history of a Jepsen-style run, in Jepsen's shape: every client operation is an
// `invoke` record followed (same process) by its completion — `ok` (it happened), `fail` (it
// definitely did not happen) or `info` (indeterminate: it may or may not have happened, at any
// time after its invocation). Nemesis faults are `info` records of process "nemesis" in the same
// history, so reports can line faults up with operations. One record per line in history.jsonl.

import { readFile, writeFile } from 'node:fs/promises';
import { isJsonObject, type Json } from './json.js';

export type OpType = 'invoke' | 'ok' | 'fail' | 'info';
export type CompletionType = 'ok' | 'fail' | 'info';

/** The process name reserved for fault records. */
export const NEMESIS = 'nemesis';

/** A client's identity. Numbers for ordinary clients; strings allowed (e.g. "watcher-3"). */
export type ProcessId = number | string;

export interface ClientRecord {
  /** Position in the history; strictly increasing in file order. */
  index: number;
  type: OpType;
  process: ProcessId;
  /** What the operation does: 'read', 'write', 'cas', 'txn', 'watch', 'lease-grant', ... */
  f: string;
  key?: string;
  /** Workload-specific, JSON-safe (bigints as strings: see json.ts toJson). */
  value: Json;
  /** Milliseconds since the run started, from a monotonic clock; non-decreasing in file order. */
  time: number;
  error?: string;
  /** The member the client talked to. */
  node?: string;
}

export interface FaultValue {
  /** 'partition', 'kill', 'pause', 'member', 'transfer', ... */
  kind: string;
  /** Members (or links) the fault acts on. */
  targets: string[];
  /** Pairs a stop with its start when several faults of one kind overlap. */
  id?: string;
  detail?: Json;
}

export interface FaultRecord {
  index: number;
  type: 'info';
  process: typeof NEMESIS;
  f: 'start' | 'stop';
  value: FaultValue;
  time: number;
  error?: string;
}

export type HistoryEntry = ClientRecord | FaultRecord;

export function isFault(e: HistoryEntry): e is FaultRecord {
  return e.process === NEMESIS;
}

export type HistoryErrorKind = 'parse' | 'schema' | 'order' | 'pairing' | 'full';

export class HistoryError extends Error {
  override name = 'HistoryError';
  constructor(
    readonly kind: HistoryErrorKind,
    message: string,
    /** 1-based line of history.jsonl, when the error came from parsing. */
    readonly line?: number,
  ) {
    super(line === undefined ? message : `history.jsonl line ${line}: ${message}`);
  }
}

/**
 * One client operation: an invocation paired with its completion. This is what checkers and
 * reports work on; `index` (the invocation's index) is the operation's identity everywhere.
 */
export interface Operation {
  index: number;
  process: ProcessId;
  f: string;
  key?: string;
  node?: string;
  /** 'info' also when the history ended before the operation completed. */
  type: CompletionType;
  /** The invocation's value. */
  value: Json;
  /** The completion's value; null when there was no completion. */
  result: Json;
  /** Invocation time. */
  call: number;
  /** Completion time as far as ordering goes: +Infinity for 'info' (it may take effect at any later time). */
  ret: number;
  /** When the completion was recorded (for 'info': when the client gave up; or the end of the history). */
  end: number;
  completionIndex?: number;
  error?: string;
}

/** A fault from its start record to its stop record (or the end of the history). */
export interface FaultPeriod {
  kind: string;
  targets: string[];
  id?: string;
  start: number;
  end: number;
  startIndex: number;
  /** Absent when the fault was still active when the history ended. */
  endIndex?: number;
  detail?: Json;
}

// ---- validation and (de)serialisation ----

const OP_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

/** Checks the shape of one parsed record; throws HistoryError('schema') naming the problem. */
export function validateEntry(raw: unknown, line?: number): HistoryEntry {
  const bad = (msg: string): never => {
    throw new HistoryError('schema', msg, line);
  };
  if (!isJsonObject(raw as Json)) return bad('a record must be a JSON object');
  const r = raw as { [k: string]: Json };
  if (typeof r.index !== 'number' || !Number.isSafeInteger(r.index) || r.index < 0) bad('index must be a non-negative integer');
  if (typeof r.type !== 'string' || !OP_TYPES.has(r.type)) bad(`type must be invoke|ok|fail|info, got ${JSON.stringify(r.type)}`);
  if (typeof r.process !== 'number' && typeof r.process !== 'string') bad('process must be a number or a string');
  if (typeof r.f !== 'string' || r.f === '') bad('f must be a non-empty string');
  if (typeof r.time !== 'number' || !Number.isFinite(r.time) || r.time < 0) bad('time must be a finite number ≥ 0');
  if (!('value' in r)) bad('value is required (null when there is none)');
  if ('key' in r && typeof r.key !== 'string') bad('key must be a string');
  if ('error' in r && typeof r.error !== 'string') bad('error must be a string');
  if ('node' in r && typeof r.node !== 'string') bad('node must be a string');
  if (r.process === NEMESIS) {
    if (r.type !== 'info') bad('nemesis records have type info');
    if (r.f !== 'start' && r.f !== 'stop') bad('nemesis records have f start|stop');
    const v = r.value as Json;
    if (!isJsonObject(v) || typeof v.kind !== 'string' || !Array.isArray(v.targets) || !v.targets.every((t) => typeof t === 'string')) {
      bad('a nemesis record value is {kind: string, targets: string[], id?, detail?}');
    }
    if (isJsonObject(v) && 'id' in v && typeof v.id !== 'string') bad('fault id must be a string');
  }
  return r as unknown as HistoryEntry;
}

/** Checks the order invariants of a whole history: indexes strictly increase, times never go back. */
export function validateOrder(entries: readonly HistoryEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const a = entries[i - 1] as HistoryEntry;
    const b = entries[i] as HistoryEntry;
    if (b.index <= a.index) throw new HistoryError('order', `index ${b.index} follows ${a.index}: indexes must strictly increase`);
    if (b.time < a.time) throw new HistoryError('order', `record ${b.index} has time ${b.time} < ${a.time} of record ${a.index}`);
  }
}

/** One history.jsonl line (without the newline). */
export function formatEntry(e: HistoryEntry): string {
  return JSON.stringify(e);
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  return entries.map((e) => formatEntry(e) + '\n').join('');
}

export function parseHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new HistoryError('parse', (err as Error).message, i + 1);
    }
    out.push(validateEntry(raw, i + 1));
  }
  validateOrder(out);
  return out;
}

export async function writeHistoryFile(path: string, entries: readonly HistoryEntry[]): Promise<void> {
  await writeFile(path, formatHistory(entries));
}

export async function readHistoryFile(path: string): Promise<HistoryEntry[]> {
  return parseHistory(await readFile(path, 'utf8'));
}

// ---- pairing ----

/**
 * Pairs each invocation with the next completion of the same process. A process has at most one
 * operation outstanding; an invocation still pending when the history ends becomes 'info'.
 * Returns operations in invocation order.
 */
export function pairOperations(entries: readonly HistoryEntry[]): Operation[] {
  const ops: Operation[] = [];
  const pending = new Map<ProcessId, number>(); // process → position in ops
  let lastTime = 0;
  for (const e of entries) {
    lastTime = Math.max(lastTime, e.time);
    if (isFault(e)) continue;
    if (e.type === 'invoke') {
      const open = pending.get(e.process);
      if (open !== undefined) {
        throw new HistoryError('pairing', `process ${e.process} invokes ${e.index} while ${(ops[open] as Operation).index} is still pending`);
      }
      const op: Operation = {
        index: e.index,
        process: e.process,
        f: e.f,
        type: 'info',
        value: e.value,
        result: null,
        call: e.time,
        ret: Infinity,
        end: Infinity, // fixed below if it never completes
      };
      if (e.key !== undefined) op.key = e.key;
      if (e.node !== undefined) op.node = e.node;
      pending.set(e.process, ops.length);
      ops.push(op);
      continue;
    }
    const at = pending.get(e.process);
    if (at === undefined) throw new HistoryError('pairing', `completion ${e.index} of process ${e.process} has no pending invocation`);
    const op = ops[at] as Operation;
    if (e.f !== op.f) throw new HistoryError('pairing', `completion ${e.index} has f=${e.f} but its invocation ${op.index} has f=${op.f}`);
    if (e.key !== undefined && op.key !== undefined && e.key !== op.key) {
      throw new HistoryError('pairing', `completion ${e.index} has key ${e.key} but its invocation ${op.index} has key ${op.key}`);
    }
    pending.delete(e.process);
    op.type = e.type;
    op.result = e.value;
    op.end = e.time;
    op.ret = e.type === 'info' ? Infinity : e.time;
    op.completionIndex = e.index;
    if (e.error !== undefined) op.error = e.error;
    if (op.node === undefined && e.node !== undefined) op.node = e.node;
  }
  for (const at of pending.values()) (ops[at] as Operation).end = lastTime;
  return ops;
}

/** Counts of completed operations by outcome (pending ones count as info). */
export function countOutcomes(ops: readonly Operation[]): { ok: number; fail: number; info: number } {
  const c = { ok: 0, fail: 0, info: 0 };
  for (const op of ops) c[op.type]++;
  return c;
}

/**
 * Fault periods from nemesis records. A stop closes the open start with the same id; without an
 * id, the oldest open start of the same kind and targets, else of the same kind.
 */
export function faultPeriods(entries: readonly HistoryEntry[]): FaultPeriod[] {
  const out: FaultPeriod[] = [];
  const open: FaultPeriod[] = [];
  let lastTime = 0;
  const sameTargets = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && a.every((t, i) => t === b[i]);
  for (const e of entries) {
    lastTime = Math.max(lastTime, e.time);
    if (!isFault(e)) continue;
    const v = e.value;
    if (e.f === 'start') {
      const p: FaultPeriod = { kind: v.kind, targets: [...v.targets], start: e.time, end: Infinity, startIndex: e.index };
      if (v.id !== undefined) p.id = v.id;
      if (v.detail !== undefined) p.detail = v.detail;
      open.push(p);
      out.push(p);
      continue;
    }
    let i = -1;
    if (v.id !== undefined) i = open.findIndex((p) => p.id === v.id);
    else {
      i = open.findIndex((p) => p.kind === v.kind && sameTargets(p.targets, v.targets));
      if (i < 0) i = open.findIndex((p) => p.kind === v.kind);
    }
    if (i < 0) continue; // a stop with nothing to stop (e.g. "heal" when all was healthy): no period
    const p = open[i] as FaultPeriod;
    open.splice(i, 1);
    p.end = e.time;
    p.endIndex = e.index;
  }
  for (const p of open) p.end = lastTime;
  return out;
}

/** The time span a history covers: [first record, last record]. */
export function historySpan(entries: readonly HistoryEntry[]): { start: number; end: number } {
  if (entries.length === 0) return { start: 0, end: 0 };
  return { start: (entries[0] as HistoryEntry).time, end: (entries[entries.length - 1] as HistoryEntry).time };
}
