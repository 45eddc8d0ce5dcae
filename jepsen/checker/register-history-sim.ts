// Generates register histories that are linearizable by construction: simulated clients issue
// overlapping reads, writes and CASes; each operation takes effect at a random instant between
// its invocation and its completion, in one global order. Used to test the checker at scale
// (and by the harness's self-test): any history this produces must be accepted.

import { Prng } from '../../common/prng.js';
import type { CompletionType, HistoryEntry } from '../history.js';
import { buildHistory } from '../history-builder.js';
import type { Json } from '../json.js';

export interface RegisterSimOptions {
  seed: number;
  clients: number;
  /** Total operations over all clients. */
  ops: number;
  keys: readonly string[];
  /** Values written are drawn from [0, values). Small ranges make reads ambiguous (harder). */
  values: number;
  /** Fraction of operations that end 'info' (half of them took effect). */
  infoRate?: number;
  /** Longest time from invocation to completion (ms). */
  maxLatency?: number;
}

interface SimOp {
  process: number;
  f: 'read' | 'write' | 'cas';
  key: string;
  value: Json;
  call: number;
  at: number;
  ret: number;
  info: boolean;
  applies: boolean;
  type: CompletionType;
  result: Json;
}

export function simulateRegisterHistory(o: RegisterSimOptions): HistoryEntry[] {
  const prng = new Prng(o.seed);
  const maxLatency = o.maxLatency ?? 10;
  const infoRate = o.infoRate ?? 0;
  const clock = new Array<number>(o.clients).fill(0);
  const ops: SimOp[] = [];
  for (let i = 0; i < o.ops; i++) {
    const process = prng.int(o.clients);
    const call = (clock[process] as number) + prng.float() * 2;
    const at = call + prng.float() * maxLatency;
    const ret = at + 0.001 + prng.float() * maxLatency;
    clock[process] = ret;
    const r = prng.float();
    const f = r < 0.45 ? 'read' : r < 0.8 ? 'write' : 'cas';
    const value: Json = f === 'read' ? null : f === 'write' ? prng.int(o.values) : [prng.int(o.values), prng.int(o.values)];
    const info = prng.chance(infoRate);
    ops.push({ process, f, key: prng.pick(o.keys), value, call, at, ret, info, applies: !info || prng.chance(0.5), type: 'ok', result: null });
  }
  // Apply effects in the order of their instants.
  const state = new Map<string, Json>();
  for (const op of [...ops].sort((a, b) => a.at - b.at)) {
    const cur = state.get(op.key) ?? null;
    if (op.f === 'read') op.result = cur;
    else if (op.f === 'write') {
      if (op.applies) state.set(op.key, op.value);
    } else {
      const [from, to] = op.value as [number, number];
      if (cur !== from) op.type = 'fail';
      else if (op.applies) state.set(op.key, to);
    }
    if (op.info) {
      op.type = 'info';
      op.result = null;
    }
  }
  return buildHistory(
    ops.map((op) => ({
      process: op.process,
      f: op.f,
      key: op.key,
      value: op.value,
      call: op.call,
      end: op.ret,
      type: op.type,
      result: op.f === 'read' ? op.result : op.value,
    })),
  );
}
