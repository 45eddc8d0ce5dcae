// Builds a history from whole operations (invocation time, completion time, outcome) instead of
// record by record: how hand-made test histories and simulated histories are written.

import { NEMESIS, type ClientRecord, type CompletionType, type FaultRecord, type HistoryEntry, type ProcessId } from './history.js';
import type { Json } from './json.js';

export interface OpSpec {
  process: ProcessId;
  f: string;
  key?: string;
  /** The invocation's value (default null). */
  value?: Json;
  call: number;
  /** Completion time; omitted: the operation never completed (pending at the end: 'info'). */
  end?: number;
  type: CompletionType;
  /** The completion's value (default: the invocation's value, as Jepsen does). */
  result?: Json;
  error?: string;
  node?: string;
}

export interface FaultSpec {
  kind: string;
  targets: string[];
  start: number;
  /** Omitted: still active when the history ends. */
  end?: number;
  id?: string;
}

export function buildHistory(ops: readonly OpSpec[], faults: readonly FaultSpec[] = []): HistoryEntry[] {
  const records: Array<{ time: number; seq: number; rec: Omit<ClientRecord, 'index'> | Omit<FaultRecord, 'index'> }> = [];
  let seq = 0;
  for (const op of ops) {
    const base = (type: ClientRecord['type'], value: Json, time: number): Omit<ClientRecord, 'index'> => {
      const r: Omit<ClientRecord, 'index'> = { type, process: op.process, f: op.f, value, time };
      if (op.key !== undefined) r.key = op.key;
      if (op.node !== undefined) r.node = op.node;
      return r;
    };
    records.push({ time: op.call, seq: seq++, rec: base('invoke', op.value ?? null, op.call) });
    if (op.end !== undefined) {
      const c = base(op.type, op.result !== undefined ? op.result : (op.value ?? null), op.end);
      if (op.error !== undefined) c.error = op.error;
      records.push({ time: op.end, seq: seq++, rec: c });
    }
  }
  for (const f of faults) {
    const value = { kind: f.kind, targets: [...f.targets], ...(f.id !== undefined ? { id: f.id } : {}) };
    records.push({ time: f.start, seq: seq++, rec: { type: 'info', process: NEMESIS, f: 'start', value, time: f.start } });
    if (f.end !== undefined) {
      records.push({ time: f.end, seq: seq++, rec: { type: 'info', process: NEMESIS, f: 'stop', value, time: f.end } });
    }
  }
  records.sort((a, b) => a.time - b.time || a.seq - b.seq);
  return records.map((r, index) => ({ ...r.rec, index }) as HistoryEntry);
}
