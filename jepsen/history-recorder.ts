// Records a history while a run is going: assigns indexes, stamps times from the clock it was
// handed, enforces Jepsen's one-outstanding-operation-per-process rule, and streams each record
// to an optional sink (so a crashed run still leaves its history on disk).

import { invariant } from '../common/assert.js';
import {
  HistoryError,
  NEMESIS,
  type ClientRecord,
  type CompletionType,
  type FaultRecord,
  type FaultValue,
  type HistoryEntry,
  type ProcessId,
} from './history.js';
import { toJson } from './json.js';

export interface HistoryRecorderOptions {
  /** Milliseconds since the run started, monotonic (e.g. () => performance.now() - t0). */
  now: () => number;
  /** Bound on records kept in memory; recording past it throws HistoryError('full'). */
  maxEntries: number;
  /** Called with every record as it is made, e.g. to append it to history.jsonl. */
  sink?: (entry: HistoryEntry) => void;
}

export interface InvokeOptions {
  key?: string;
  node?: string;
}

interface Pending {
  index: number;
  f: string;
  key?: string;
}

export class HistoryRecorder {
  private readonly list: HistoryEntry[] = [];
  private readonly pending = new Map<ProcessId, Pending>();
  private lastTime = 0;

  constructor(private readonly opts: HistoryRecorderOptions) {
    invariant(opts.maxEntries > 0, 'HistoryRecorder: maxEntries must be positive');
  }

  /** Records an invocation; returns its index, which identifies the operation. */
  invoke(process: ProcessId, f: string, value: unknown, o: InvokeOptions = {}): number {
    if (process === NEMESIS) throw new HistoryError('schema', `process name "${NEMESIS}" is reserved for faults`);
    if (this.pending.has(process)) {
      throw new HistoryError('pairing', `process ${process} already has operation ${this.pending.get(process)?.index} outstanding`);
    }
    const e: ClientRecord = { index: this.list.length, type: 'invoke', process, f, value: toJson(value ?? null), time: this.stamp() };
    if (o.key !== undefined) e.key = o.key;
    if (o.node !== undefined) e.node = o.node;
    this.push(e);
    const p: Pending = { index: e.index, f };
    if (o.key !== undefined) p.key = o.key;
    this.pending.set(process, p);
    return e.index;
  }

  /** Records the completion of the process's outstanding operation. */
  complete(process: ProcessId, type: CompletionType, value: unknown, o: { error?: string; node?: string } = {}): void {
    const p = this.pending.get(process);
    if (p === undefined) throw new HistoryError('pairing', `process ${process} has no outstanding operation to complete`);
    const e: ClientRecord = { index: this.list.length, type, process, f: p.f, value: toJson(value ?? null), time: this.stamp() };
    if (p.key !== undefined) e.key = p.key;
    if (o.error !== undefined) e.error = o.error;
    if (o.node !== undefined) e.node = o.node;
    this.push(e);
    this.pending.delete(process);
  }

  /** Records a fault starting or stopping, at the moment it took effect. */
  fault(f: 'start' | 'stop', value: FaultValue, error?: string): void {
    const v: FaultValue = { kind: value.kind, targets: [...value.targets] };
    if (value.id !== undefined) v.id = value.id;
    if (value.detail !== undefined) v.detail = toJson(value.detail);
    const e: FaultRecord = { index: this.list.length, type: 'info', process: NEMESIS, f, value: v, time: this.stamp() };
    if (error !== undefined) e.error = error;
    this.push(e);
  }

  /** Closes every outstanding operation as 'info' (the run is over; their outcome is unknown). */
  closeAll(error = 'history ended before the operation completed'): void {
    for (const process of [...this.pending.keys()]) this.complete(process, 'info', null, { error });
  }

  outstanding(): number {
    return this.pending.size;
  }

  entries(): readonly HistoryEntry[] {
    return this.list;
  }

  private stamp(): number {
    // A monotonic clock never goes back; clamp anyway so the history's order invariant holds.
    const t = this.opts.now();
    invariant(Number.isFinite(t), 'HistoryRecorder: the clock returned a non-finite time');
    this.lastTime = Math.max(this.lastTime, t);
    return this.lastTime;
  }

  private push(e: HistoryEntry): void {
    if (this.list.length >= this.opts.maxEntries) {
      throw new HistoryError('full', `history holds ${this.opts.maxEntries} records, the configured bound`);
    }
    this.list.push(e);
    this.opts.sink?.(e);
  }
}
