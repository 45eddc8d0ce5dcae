// The Wing–Gong linearizability search with Lowe's memoisation, over one partition (one key),
// following Porcupine's checkSingle: the invocations and returns sit in a doubly linked list in
// time order; the search walks it, linearizing ("lifting") an operation whenever the model can
// take it, and backtracks when it reaches the return of an operation it has not linearized.
// A configuration (set of linearized ops, model state) is explored at most once. The search is
// iterative (explicit stack), so long histories cannot overflow the call stack.
//
// An operation whose return time is +Infinity (an indeterminate one) may be linearized at any
// point after its call, or never: all such returns sort last, so reaching one means every
// determinate operation has been linearized and the history is linearizable.

import { invariant } from '../../common/assert.js';
import type { AnyModel } from './model.js';
import { ConfigurationMemo, OpSet } from './op-set.js';

export interface SearchOp {
  call: number;
  /** +Infinity when the operation may or may not have taken effect. */
  ret: number;
  /** Tie-break (the history index): equal times order by it. */
  index: number;
  input: unknown;
  /** undefined when the outcome is unknown. */
  output: unknown;
}

export interface SearchLimits {
  now: () => number;
  /** Give up (result 'unknown') once now() passes this. */
  deadline: number;
  /** Give up once the memo holds this many configurations (a memory bound). */
  maxConfigurations: number;
}

/** The furthest the search got before it had to give up on a path (positions index the input). */
export interface BestPath {
  /** Operations linearized, in linearization order. */
  order: number[];
  /** Model state after each of them. */
  statesAfter: unknown[];
  /** The operation whose return was reached without it being linearizable. */
  blocked: number;
  /** Model state when it was blocked (the initial state if order is empty). */
  stateAtBlock: unknown;
  /** Operations invoked but not linearized at that point (they were tried there and failed). */
  pending: number[];
}

export type SearchOutcome =
  | { result: 'linearizable'; order: number[]; configurations: number }
  | { result: 'violation'; best: BestPath; configurations: number }
  | { result: 'unknown'; reason: 'time' | 'memory'; configurations: number };

const NIL = -1;

export function searchLinearization(model: AnyModel, ops: readonly SearchOp[], limits: SearchLimits): SearchOutcome {
  // Ids: determinate operations in invocation order (bitset locality), then those of unknown
  // outcome from a word boundary on (see op-set.ts).
  const byCallOrder = (a: number, b: number): number => {
    const x = ops[a] as SearchOp;
    const y = ops[b] as SearchOp;
    return x.call - y.call || x.index - y.index;
  };
  const positions = ops.map((_, i) => i);
  const determinate = positions.filter((i) => (ops[i] as SearchOp).ret !== Infinity).sort(byCallOrder);
  const optional = positions.filter((i) => (ops[i] as SearchOp).ret === Infinity).sort(byCallOrder);
  const linearized = new OpSet(determinate.length, optional.length);
  const idCount = linearized.optionalBase + optional.length;
  const posOf = new Int32Array(idCount).fill(-1);
  determinate.forEach((pos, id) => (posOf[id] = pos));
  optional.forEach((pos, k) => (posOf[linearized.optionalId(k)] = pos));
  const input: unknown[] = new Array(idCount);
  const output: unknown[] = new Array(idCount);
  const infinite = new Uint8Array(idCount);
  const ids: number[] = [];
  for (let id = 0; id < idCount; id++) {
    const pos = posOf[id] as number;
    if (pos < 0) continue;
    const op = ops[pos] as SearchOp;
    invariant(op.ret >= op.call, () => `operation ${op.index} returns before it is invoked`);
    input[id] = op.input;
    output[id] = op.output;
    infinite[id] = op.ret === Infinity ? 1 : 0;
    ids.push(id);
  }

  // Entries: 2*id is the call of op id, 2*id+1 its return. Sorted by time; at equal times calls
  // come first (the two operations are then concurrent: the lenient, safe reading of a tie).
  const entryTime = (e: number): number => {
    const op = ops[posOf[e >> 1] as number] as SearchOp;
    return (e & 1) === 0 ? op.call : op.ret;
  };
  const order = ids.flatMap((id) => [2 * id, 2 * id + 1]).sort((a, b) => {
    const ta = entryTime(a);
    const tb = entryTime(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    if ((a & 1) !== (b & 1)) return (a & 1) - (b & 1);
    const ia = (ops[posOf[a >> 1] as number] as SearchOp).index;
    const ib = (ops[posOf[b >> 1] as number] as SearchOp).index;
    return ia - ib;
  });
  const m = 2 * idCount;
  const HEAD = m;
  const next = new Int32Array(m + 1);
  const prev = new Int32Array(m + 1);
  let last = HEAD;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = NIL;

  const lift = (call: number): void => {
    const ret = call + 1;
    next[prev[call] as number] = next[call] as number;
    if (next[call] !== NIL) prev[next[call] as number] = prev[call] as number;
    next[prev[ret] as number] = next[ret] as number;
    if (next[ret] !== NIL) prev[next[ret] as number] = prev[ret] as number;
  };
  // Exact inverse of lift, valid because lifts are undone in LIFO order (dancing links).
  const unlift = (call: number): void => {
    const ret = call + 1;
    if (next[ret] !== NIL) prev[next[ret] as number] = ret;
    next[prev[ret] as number] = ret;
    if (next[call] !== NIL) prev[next[call] as number] = call;
    next[prev[call] as number] = call;
  };

  const stateIds = new Map<string | number, number>();
  const intern = (s: unknown): number => {
    const k = model.stateKey(s);
    let id = stateIds.get(k);
    if (id === undefined) {
      id = stateIds.size;
      stateIds.set(k, id);
    }
    return id;
  };

  const memo = new ConfigurationMemo();
  const stackOp = new Int32Array(ops.length);
  const stackState: unknown[] = new Array(ops.length);
  let depth = 0;
  let state: unknown = model.init();
  let best: BestPath | undefined;
  let bestKey = { time: -Infinity, depth: -1 };
  let iterations = 0;

  const toPositions = (stack: ArrayLike<number>, count: number): number[] => {
    const out: number[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = posOf[stack[i] as number] as number;
    return out;
  };

  let entry = next[HEAD] as number;
  while (next[HEAD] !== NIL) {
    if ((++iterations & 255) === 0 && limits.now() > limits.deadline) {
      return { result: 'unknown', reason: 'time', configurations: memo.size };
    }
    invariant(entry !== NIL, 'linearization search walked off the end of the entry list');
    const id = entry >> 1;
    if ((entry & 1) === 0) {
      const after = model.step(state, input[id], output[id]);
      if (after !== undefined) {
        linearized.add(id);
        if (memo.add(linearized, intern(after))) {
          if (memo.size > limits.maxConfigurations) return { result: 'unknown', reason: 'memory', configurations: memo.size };
          stackOp[depth] = id;
          stackState[depth] = state;
          depth++;
          state = after;
          lift(entry);
          entry = next[HEAD] as number;
          continue;
        }
        linearized.delete(id);
      }
      entry = next[entry] as number;
      continue;
    }
    // The return of an operation not linearized yet.
    if (infinite[id] === 1) {
      return { result: 'linearizable', order: toPositions(stackOp, depth), configurations: memo.size };
    }
    const t = entryTime(entry);
    if (t > bestKey.time || (t === bestKey.time && depth > bestKey.depth)) {
      bestKey = { time: t, depth };
      const pending: number[] = [];
      for (let e = next[HEAD] as number; e !== entry && e !== NIL; e = next[e] as number) {
        if ((e & 1) === 0) pending.push(posOf[e >> 1] as number);
      }
      const statesAfter: unknown[] = new Array(depth);
      for (let k = 0; k < depth; k++) statesAfter[k] = k + 1 < depth ? stackState[k + 1] : state;
      best = { order: toPositions(stackOp, depth), statesAfter, blocked: posOf[id] as number, stateAtBlock: state, pending };
    }
    if (depth === 0) {
      invariant(best !== undefined, 'a failed search records where it failed');
      return { result: 'violation', best, configurations: memo.size };
    }
    depth--;
    const undo = stackOp[depth] as number;
    state = stackState[depth];
    stackState[depth] = undefined;
    linearized.delete(undo);
    unlift(2 * undo);
    entry = next[2 * undo] as number;
  }
  return { result: 'linearizable', order: toPositions(stackOp, depth), configurations: memo.size };
}
