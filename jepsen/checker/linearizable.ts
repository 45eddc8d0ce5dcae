// The linearizability checker: partitions the history by key (P-compositionality: a history of
// independent objects is linearizable iff each object's sub-history is), searches each key with
// the Wing–Gong/Lowe search under one shared time budget, and explains each violation.
//
// Semantics of outcomes: 'ok' happened (with its result); 'fail' definitely did not happen and is
// dropped; 'info' may or may not have happened, at any time after its invocation.
//
// Explaining a violation (as Knossos and Porcupine do, plus a shrink):
//  - the longest linearizable path the search found, and where it got stuck: the state, the
//    operation whose completion it could not get past, and the operations it tried there;
//  - the failing operation: the one whose completion ends the earliest non-linearizable prefix
//    of the history (prefixes by completion time; operations still running count as unknown);
//  - a small set of operations that cannot be linearized together, shrunk from that prefix by
//    delta debugging (galloping removal of blocks, from the latest operation backwards). So that
//    the set reads as an explanation, an operation is only dropped if (when these held for the
//    whole prefix) the rest without the failing operation stays linearizable, and stays so with
//    the failing operation moved to some other moment — a stale read keeps both writes it sits
//    between, not just "a read of a value nobody wrote". When the failing operation is
//    impossible in any state the earlier operations can produce, it alone is the set.
//    The shrink has its own budget; the set is marked minimal only if it finished.

import { invariant } from '../../common/assert.js';
import type { Operation, ProcessId } from '../history.js';
import type { AnyModel } from './model.js';
import { searchLinearization, type BestPath, type SearchOp, type SearchOutcome } from './linearization-search.js';

export interface LinearizabilityOptions {
  /** Time budget for the search over all keys; past it the result is 'unknown'. Default 10 s. */
  budgetMs?: number;
  /** Extra time to explain each violation (shrinking). Default 2 s. */
  explainBudgetMs?: number;
  /** Memory bound: configurations memoised per key before giving up ('unknown'). Default 2e6. */
  maxConfigurations?: number;
  /** Clock for the budgets (ms). Default performance.now. */
  now?: () => number;
}

export interface DescribedOp {
  index: number;
  process: ProcessId;
  f: string;
  type: Operation['type'];
  /** The model's description, e.g. "read → 3", "cas 1 → 2". */
  description: string;
  call: number;
  /** Completion time (for 'info': when the client gave up). */
  end: number;
}

export interface KeyCheck {
  key: string;
  /** Operations the model constrains on this key ('fail' ones excluded). */
  ops: number;
  valid: boolean | 'unknown';
  /** Why the key is 'unknown': the time budget ran out, the memory bound was hit, or the budget was gone before its turn. */
  reason?: 'time' | 'memory' | 'not-checked';
  configurations: number;
}

export interface LinearizabilityViolation {
  key: string;
  /** The operation that cannot be placed: its completion ends the earliest non-linearizable prefix. */
  failedOp: DescribedOp;
  /** Operations that cannot be linearized together (history indexes, ascending), incl. failedOp. */
  ops: number[];
  opDetails: DescribedOp[];
  /** True when `ops` is 1-minimal: dropping any one of them makes the rest linearizable. */
  minimal: boolean;
  /** The longest linearizable path found: its length, and its last steps with the state after each. */
  prefixLength: number;
  prefixTail: Array<DescribedOp & { stateAfter: string }>;
  /** Where that path got stuck: the state, the op whose completion it could not get past, the ops it tried. */
  stuckAt: { state: string; op: DescribedOp; candidates: DescribedOp[] };
  message: string;
}

export interface LinearizabilityResult {
  checker: 'linearizable';
  model: string;
  valid: boolean | 'unknown';
  opsChecked: number;
  keys: KeyCheck[];
  violations: LinearizabilityViolation[];
  elapsedMs: number;
}

const PREFIX_TAIL = 32;

interface KeyOp {
  op: Operation;
  input: unknown;
  output: unknown;
}

/**
 * Splits the operations the model constrains by key (ops without a key share the key ""), minus
 * those the model says cannot matter (Model.removable).
 */
export function partitionByKey(model: AnyModel, ops: readonly Operation[]): Map<string, KeyOp[]> {
  const byKey = new Map<string, KeyOp[]>();
  for (const op of ops) {
    if (op.type === 'fail') continue;
    const d = model.decode(op);
    if (d === null) continue;
    const key = op.key ?? '';
    let list = byKey.get(key);
    if (list === undefined) byKey.set(key, (list = []));
    list.push({ op, input: d.input, output: d.output });
  }
  if (model.removable !== undefined) {
    for (const [key, list] of byKey) {
      const drop = model.removable(list);
      if (drop.size === 0) continue;
      for (const i of drop) invariant((list[i] as KeyOp).output === undefined, `model ${model.name} prunes an operation of known outcome`);
      byKey.set(key, list.filter((_, i) => !drop.has(i)));
    }
  }
  return byKey;
}

export function checkLinearizable(model: AnyModel, ops: readonly Operation[], o: LinearizabilityOptions = {}): LinearizabilityResult {
  const now = o.now ?? (() => performance.now());
  const started = now();
  const deadline = started + (o.budgetMs ?? 10_000);
  const maxConfigurations = o.maxConfigurations ?? 2_000_000;
  const byKey = partitionByKey(model, ops);
  // Small keys first, so one huge key cannot starve the others of the budget.
  const keys = [...byKey.keys()].sort((a, b) => (byKey.get(a) as KeyOp[]).length - (byKey.get(b) as KeyOp[]).length || (a < b ? -1 : a > b ? 1 : 0));
  const checks: KeyCheck[] = [];
  const violations: LinearizabilityViolation[] = [];
  let opsChecked = 0;
  for (const key of keys) {
    const kops = byKey.get(key) as KeyOp[];
    opsChecked += kops.length;
    if (now() > deadline) {
      checks.push({ key, ops: kops.length, valid: 'unknown', reason: 'not-checked', configurations: 0 });
      continue;
    }
    const out = searchLinearization(model, kops.map(toSearchOp), { now, deadline, maxConfigurations });
    if (out.result === 'linearizable') {
      checks.push({ key, ops: kops.length, valid: true, configurations: out.configurations });
    } else if (out.result === 'unknown') {
      checks.push({ key, ops: kops.length, valid: 'unknown', reason: out.reason, configurations: out.configurations });
    } else {
      checks.push({ key, ops: kops.length, valid: false, configurations: out.configurations });
      const explainDeadline = now() + (o.explainBudgetMs ?? 2_000);
      violations.push(explain(model, key, kops, out.best, { now, deadline: explainDeadline, maxConfigurations }));
    }
  }
  const valid = checks.some((c) => c.valid === false) ? false : checks.every((c) => c.valid === true) ? true : 'unknown';
  return { checker: 'linearizable', model: model.name, valid, opsChecked, keys: checks, violations, elapsedMs: now() - started };
}

function toSearchOp(k: KeyOp): SearchOp {
  return { call: k.op.call, ret: k.op.ret, index: k.op.index, input: k.input, output: k.output };
}

function describe(model: AnyModel, k: KeyOp): DescribedOp {
  return {
    index: k.op.index,
    process: k.op.process,
    f: k.op.f,
    type: k.op.type,
    description: model.describeOperation(k.input, k.output),
    call: k.op.call,
    end: k.op.end,
  };
}

interface Limits {
  now: () => number;
  deadline: number;
  maxConfigurations: number;
}

/** An element of a sub-history being shrunk: which key op, and how it takes part. */
interface Part {
  pos: number;
  s: SearchOp;
}

function explain(model: AnyModel, key: string, kops: KeyOp[], best: BestPath, limits: Limits): LinearizabilityViolation {
  const d = (pos: number): DescribedOp => describe(model, kops[pos] as KeyOp);
  const tailFrom = Math.max(0, best.order.length - PREFIX_TAIL);
  const prefixTail = best.order.slice(tailFrom).map((pos, i) => ({
    ...d(pos),
    stateAfter: model.describeState(best.statesAfter[tailFrom + i]),
  }));
  const stuckAt = {
    state: model.describeState(best.stateAtBlock),
    op: d(best.blocked),
    candidates: best.pending.map(d),
  };

  const shrunk = shrink(model, kops, best, limits);
  const failedOp = d(shrunk.failed);
  const set = [...shrunk.set].sort((a, b) => (kops[a] as KeyOp).op.index - (kops[b] as KeyOp).op.index);
  const opDetails = set.map(d);
  const message =
    `key ${JSON.stringify(key)}: ${failedOp.description} (op ${failedOp.index}, process ${failedOp.process}) cannot be linearized; ` +
    `${shrunk.minimal ? 'a minimal' : 'a'} non-linearizable set: ${opDetails.map((x) => `${x.index} ${x.description}`).join('; ')}`;
  return {
    key,
    failedOp,
    ops: opDetails.map((x) => x.index),
    opDetails,
    minimal: shrunk.minimal,
    prefixLength: best.order.length,
    prefixTail,
    stuckAt,
    message,
  };
}

function shrink(model: AnyModel, kops: KeyOp[], best: BestPath, limits: Limits): { failed: number; set: number[]; minimal: boolean } {
  const run = (parts: readonly Part[]): SearchOutcome['result'] => searchLinearization(model, parts.map((p) => p.s), limits).result;
  const outOfTime = (): boolean => limits.now() > limits.deadline;

  // 1. The earliest non-linearizable prefix. No prefix ending before the blocked op's completion
  //    fails: the search got past all of them on one path.
  const prefixAt = (t: number): Part[] => {
    const parts: Part[] = [];
    kops.forEach((k, pos) => {
      if (k.op.call > t) return;
      const done = k.op.ret <= t;
      parts.push({ pos, s: { call: k.op.call, ret: done ? k.op.ret : Infinity, index: k.op.index, input: k.input, output: done ? k.output : undefined } });
    });
    return parts.sort((a, b) => a.s.call - b.s.call || a.s.index - b.s.index);
  };
  // The failing operation freed from its real-time place (invoked at -∞, completing after all
  // the others): "it would have been fine at some other moment".
  const relaxed = (f: Part, rest: readonly Part[]): Part[] => [...rest, { pos: f.pos, s: { ...f.s, call: -Infinity, ret: Number.MAX_VALUE } }];

  // The operation the search could not place may be impossible in every state the operations
  // before it can produce (a read of a value nobody wrote): then it alone is the explanation,
  // found without searching prefixes.
  const blocked = kops[best.blocked] as KeyOp;
  if (run([{ pos: best.blocked, s: toSearchOp(blocked) }]) === 'violation') {
    const before = kops.filter((k, pos) => pos !== best.blocked && k.op.call <= blocked.op.ret);
    if (possibleInSomeState(model, blocked, before) === false) return { failed: best.blocked, set: [best.blocked], minimal: true };
  }
  const fallback = { failed: best.blocked, set: [...new Set([...best.order.slice(-PREFIX_TAIL), ...best.pending, best.blocked])], minimal: false };
  const tBlocked = blocked.op.ret;
  const times = [...new Set(kops.map((k) => k.op.ret).filter((t) => t !== Infinity && t >= tBlocked))].sort((a, b) => a - b);
  if (times.length === 0) return fallback;
  const fails = (i: number): boolean | undefined => {
    const r = run(prefixAt(times[i] as number));
    return r === 'unknown' ? undefined : r === 'violation';
  };
  // Exponential probe, then binary search between the last passing and first failing probe.
  let lo = -1; // largest index known to pass
  let hi = times.length - 1; // an index known to fail (the whole history fails)
  for (let step = 1, i = 0; i < times.length - 1; i = lo + step, step *= 2) {
    const f = fails(i);
    if (f === undefined) return fallback;
    if (f) {
      hi = i;
      break;
    }
    lo = i;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const f = fails(mid);
    if (f === undefined) return fallback;
    if (f) hi = mid;
    else lo = mid;
  }
  const tStar = times[hi] as number;
  const prefix = prefixAt(tStar);
  const failedPart = prefix.find((p) => p.s.ret === tStar) as Part;
  const others = prefix.filter((p) => p !== failedPart);

  // 2. Delta-debugging over the other operations, keeping the failing one.
  const restLinearizable = run(others) === 'linearizable';
  const failedPossible = run(relaxed(failedPart, others)) === 'linearizable';
  const accept = (rest: readonly Part[]): boolean => {
    if (run([...rest, failedPart]) !== 'violation') return false;
    if (restLinearizable && run(rest) !== 'linearizable') return false;
    if (failedPossible && run(relaxed(failedPart, rest)) !== 'linearizable') return false;
    return true;
  };
  // Galloping removal from the latest operation backwards: blocks that can go double in size,
  // blocks that cannot are halved down to the single operation that must stay. Going backwards,
  // the operations that observed a block are gone before the block is tried. Repeated until a
  // pass removes nothing, which makes the set 1-minimal.
  let items = others;
  let minimal = false;
  const stopped = (): { failed: number; set: number[]; minimal: boolean } => ({
    failed: failedPart.pos,
    set: [...items, failedPart].map((p) => p.pos),
    minimal: false,
  });
  for (;;) {
    let removed = false;
    let end = items.length;
    let size = 1;
    while (end > 0) {
      if (outOfTime()) return stopped();
      const start = Math.max(0, end - size);
      const cand = [...items.slice(0, start), ...items.slice(end)];
      if (accept(cand)) {
        items = cand;
        removed = true;
        end = start;
        size *= 2;
      } else if (size > 1) size >>= 1;
      else end--;
    }
    if (!removed) {
      minimal = true;
      break;
    }
  }
  return { failed: failedPart.pos, set: [...items, failedPart].map((p) => p.pos), minimal };
}

/**
 * Whether `op` can take effect in some state reachable by applying operations of `others` in
 * any order, each any number of times (an over-approximation of what any interleaving reaches).
 * undefined when that state space is too big to enumerate cheaply.
 */
function possibleInSomeState(model: AnyModel, op: KeyOp, others: readonly KeyOp[]): boolean | undefined {
  const maxSteps = 5_000_000;
  const seen = new Set<string | number>();
  const queue: unknown[] = [model.init()];
  seen.add(model.stateKey(queue[0]));
  let steps = 0;
  for (let i = 0; i < queue.length; i++) {
    const s = queue[i];
    if (model.step(s, op.input, op.output) !== undefined) return true;
    steps += others.length;
    if (steps > maxSteps) return undefined;
    for (const o of others) {
      const next = model.step(s, o.input, o.output);
      if (next === undefined) continue;
      const k = model.stateKey(next);
      if (seen.has(k)) continue;
      seen.add(k);
      queue.push(next);
    }
  }
  return false;
}
