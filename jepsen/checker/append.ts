// The list-append checker (Elle's approach, for strict serializability). Transactions append
// unique values to lists and read whole lists:
//   invoke value  [["append", "x", 1], ["r", "y", null], ...]
//   ok value      the same micro-ops with each read's list filled in (null = empty / absent)
// Because every appended value is unique and lists only grow, a read reveals the order in which
// all the values it contains were appended: the version order of a key is its longest read, and
// every other read must be a prefix of it. From those orders follow the dependency edges (ww, wr,
// rw) between transactions, plus real-time edges (a completed before b was invoked); a cycle is
// an anomaly, classified as Adya/Elle do (G0, G1c, G-single, G2 and their -realtime variants).
// Non-cyclic anomalies are found directly: G1a (a failed transaction's append observed), G1b
// (an intermediate state observed), internal inconsistency, duplicates, garbage values.
// 'fail' transactions did not happen; 'info' ones may have: they are nodes of the graph, their
// appends count once someone observed them (and once one of its appends was observed, the
// transaction committed, so all its appends did), and they have no outgoing real-time edges.

import { HistoryError, type Operation } from '../history.js';
import { canonicalJson, type Json } from '../json.js';
import { CYCLE_CLASSES, DependencyGraph, type EdgeType } from './dependency-graph.js';

export type AppendAnomalyType =
  | 'G0'
  | 'G1a'
  | 'G1b'
  | 'G1c'
  | 'G-single'
  | 'G2'
  | 'G0-realtime'
  | 'G1c-realtime'
  | 'G-single-realtime'
  | 'G2-realtime'
  | 'internal'
  | 'incompatible-order'
  | 'duplicate-elements'
  | 'garbage-read'
  | 'duplicate-append';

export interface CycleStep {
  from: number;
  to: number;
  type: EdgeType;
  key?: string;
  description: string;
}

export interface AppendAnomaly {
  type: AppendAnomalyType;
  /** History indexes of the transactions involved. */
  txns: number[];
  key?: string;
  /** For cycle anomalies: the cycle, edge by edge, ending where it starts. */
  cycle?: CycleStep[];
  message: string;
}

export interface AppendOptions {
  /** The f of transaction operations. Default 'txn'. */
  f?: string;
  /** Add real-time edges (strict serializability). Default true. */
  realtime?: boolean;
  /** Bound on anomalies reported per type (the count is still exact). Default 8. */
  maxReportedPerType?: number;
}

export interface AppendResult {
  checker: 'append';
  valid: boolean;
  txns: { ok: number; fail: number; info: number };
  keys: number;
  /** How many anomalies of each type were found. */
  counts: Partial<Record<AppendAnomalyType, number>>;
  anomalies: AppendAnomaly[];
  graph: { nodes: number; edges: number; cyclicComponents: number };
}

type Mop = { kind: 'append'; key: string; value: string } | { kind: 'r'; key: string; list: string[] | null };

interface Txn {
  op: Operation;
  /** Graph node, or -1 for failed transactions. */
  node: number;
  mops: Mop[];
  /** Values appended per key, in order. */
  appends: Map<string, string[]>;
}

interface EdgeDetail {
  key?: string;
  /** Rendered only for the edges of reported cycles (reads can be long). */
  describe: () => string;
}

const name = (t: Txn): string => `T${t.op.index}`;
const show = (v: string): string => v;
/** A list as text, eliding the middle of long ones. */
const showList = (l: readonly string[]): string => (l.length <= 8 ? `[${l.join(' ')}]` : `[${l.slice(0, 2).join(' ')} … ${l.slice(-4).join(' ')}] (${l.length} values)`);
const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

function parseMops(op: Operation, v: Json, withReads: boolean): Mop[] {
  const bad = (why: string): never => {
    throw new HistoryError('schema', `append txn ${op.index}: ${why}`);
  };
  if (!Array.isArray(v)) return bad('value must be a list of micro-ops');
  return v.map((m) => {
    if (!Array.isArray(m) || m.length !== 3) return bad(`micro-op ${JSON.stringify(m)} is not [f, key, value]`);
    const [f, k, x] = m as [Json, Json, Json];
    if (typeof k !== 'string' && typeof k !== 'number') return bad(`micro-op key ${JSON.stringify(k)} must be a string or number`);
    const key = String(k);
    if (f === 'append') return { kind: 'append', key, value: canonicalJson(x) };
    if (f === 'r') {
      if (!withReads) return { kind: 'r', key, list: null };
      if (x !== null && !Array.isArray(x)) return bad(`read of ${key} returned ${JSON.stringify(x)}, not a list`);
      return { kind: 'r', key, list: (x ?? []).map(canonicalJson) };
    }
    return bad(`unknown micro-op ${JSON.stringify(f)}`);
  });
}

export function checkAppend(ops: readonly Operation[], o: AppendOptions = {}): AppendResult {
  const f = o.f ?? 'txn';
  const realtime = o.realtime ?? true;
  const maxPerType = o.maxReportedPerType ?? 8;
  const counts: Partial<Record<AppendAnomalyType, number>> = {};
  const anomalies: AppendAnomaly[] = [];
  const report = (a: AppendAnomaly): void => {
    counts[a.type] = (counts[a.type] ?? 0) + 1;
    if ((counts[a.type] as number) <= maxPerType) anomalies.push(a);
  };

  // ---- transactions ----
  const txns: Txn[] = [];
  let nodes = 0;
  const tally = { ok: 0, fail: 0, info: 0 };
  for (const op of ops) {
    if (op.f !== f) continue;
    tally[op.type]++;
    const mops = op.type === 'ok' && op.result !== null ? parseMops(op, op.result, true) : parseMops(op, op.value, false);
    const appends = new Map<string, string[]>();
    for (const m of mops) {
      if (m.kind !== 'append') continue;
      const list = appends.get(m.key);
      if (list === undefined) appends.set(m.key, [m.value]);
      else list.push(m.value);
    }
    txns.push({ op, node: op.type === 'fail' ? -1 : nodes++, mops, appends });
  }
  const byNode: Txn[] = txns.filter((t) => t.node >= 0);

  // Who appended each value: key → value → transaction.
  const writer = new Map<string, Map<string, Txn>>();
  for (const t of txns) {
    for (const [key, values] of t.appends) {
      let m = writer.get(key);
      if (m === undefined) writer.set(key, (m = new Map()));
      for (const v of values) {
        const prev = m.get(v);
        if (prev !== undefined) {
          report({
            type: 'duplicate-append',
            txns: [prev.op.index, t.op.index],
            key,
            message: `${show(v)} was appended to ${key} by both ${name(prev)} and ${name(t)}: appended values must be unique`,
          });
          continue;
        }
        m.set(v, t);
      }
    }
  }

  // ---- reads: per-read anomalies, internal consistency ----
  interface Read {
    txn: Txn;
    key: string;
    list: string[];
  }
  const readsByKey = new Map<string, Read[]>();
  for (const t of txns) {
    if (t.op.type !== 'ok') continue;
    const known = new Map<string, { list: string[] | null; since: string[] }>();
    t.mops.forEach((m, at) => {
      if (m.kind !== 'r' || m.list === null) return;
      // A read that already holds a value this transaction appends only later: a future read.
      const list = m.list;
      const later = t.mops.slice(at + 1).find((x) => x.kind === 'append' && x.key === m.key && list.includes(x.value));
      if (later !== undefined && later.kind === 'append') {
        report({
          type: 'internal',
          txns: [t.op.index],
          key: m.key,
          message: `${name(t)} read ${m.key} = ${showList(list)}, holding ${show(later.value)}, which it appends only afterwards`,
        });
      }
    });
    for (const m of t.mops) {
      const k = known.get(m.key) ?? { list: null, since: [] };
      known.set(m.key, k);
      if (m.kind === 'append') {
        k.since.push(m.value);
        continue;
      }
      if (m.list === null) continue;
      const list = m.list;
      // Internal consistency: what this transaction already knows about the key.
      const expected = k.list === null ? null : [...k.list, ...k.since];
      const tailOk = list.length >= k.since.length && k.since.every((v, i) => list[list.length - k.since.length + i] === v);
      if ((expected !== null && !sameList(expected, list)) || (expected === null && !tailOk)) {
        report({
          type: 'internal',
          txns: [t.op.index],
          key: m.key,
          message:
            expected !== null
              ? `${name(t)} read ${m.key} = ${showList(list)} but its own earlier reads and appends imply ${showList(expected)}`
              : `${name(t)} read ${m.key} = ${showList(list)}, which does not end with its own appends ${showList(k.since)}`,
        });
      }
      k.list = list;
      k.since = [];
      if (new Set(list).size !== list.length) {
        report({ type: 'duplicate-elements', txns: [t.op.index], key: m.key, message: `${name(t)} read ${m.key} = ${showList(list)}, which holds a value twice` });
      }
      const w = writer.get(m.key);
      for (const v of list) {
        const by = w?.get(v);
        if (by === undefined) {
          report({ type: 'garbage-read', txns: [t.op.index], key: m.key, message: `${name(t)} read ${show(v)} in ${m.key}, which no transaction appended` });
        } else if (by.op.type === 'fail') {
          report({
            type: 'G1a',
            txns: [t.op.index, by.op.index],
            key: m.key,
            message: `${name(t)} read ${show(v)} in ${m.key}, appended by ${name(by)}, which failed (aborted read)`,
          });
        }
      }
      const last = list[list.length - 1];
      const lastBy = last === undefined ? undefined : w?.get(last);
      if (last !== undefined && lastBy !== undefined && lastBy !== t) {
        const theirs = lastBy.appends.get(m.key) ?? [];
        if (theirs.indexOf(last) < theirs.length - 1) {
          report({
            type: 'G1b',
            txns: [t.op.index, lastBy.op.index],
            key: m.key,
            message: `${name(t)} read ${m.key} = ${showList(list)}, ending in ${show(last)}: an intermediate state of ${name(lastBy)}, which appended ${showList(theirs)} (intermediate read)`,
          });
        }
      }
      let rs = readsByKey.get(m.key);
      if (rs === undefined) readsByKey.set(m.key, (rs = []));
      rs.push({ txn: t, key: m.key, list });
    }
  }

  // ---- version orders ----
  // Transactions known to have committed: the ok ones, and indeterminate ones someone observed.
  const committed = new Set<Txn>(txns.filter((t) => t.op.type === 'ok'));
  for (const rs of readsByKey.values()) {
    for (const r of rs) {
      for (const v of r.list) {
        const by = writer.get(r.key)?.get(v);
        if (by !== undefined && by.op.type === 'info') committed.add(by);
      }
    }
  }
  const graph = new DependencyGraph<EdgeDetail>(nodes);
  const isNode = (t: Txn | undefined): t is Txn => t !== undefined && t.node >= 0;
  const keys = new Set<string>([...writer.keys(), ...readsByKey.keys()]);
  for (const key of keys) {
    const reads = readsByKey.get(key) ?? [];
    const w = writer.get(key) ?? new Map<string, Txn>();
    let longest: string[] = [];
    for (const r of reads) if (r.list.length > longest.length) longest = r.list;
    const compatible: Read[] = [];
    let incompatibleReported = false;
    for (const r of reads) {
      if (r.list.every((v, i) => longest[i] === v)) {
        compatible.push(r);
        continue;
      }
      if (incompatibleReported) continue;
      incompatibleReported = true;
      const other = reads.find((x) => x.list === longest) as Read;
      report({
        type: 'incompatible-order',
        txns: [r.txn.op.index, other.txn.op.index],
        key,
        message: `${name(r.txn)} read ${key} = ${showList(r.list)} and ${name(other.txn)} read ${showList(longest)}: neither is a prefix of the other, so the values were not appended in one order`,
      });
    }
    // One transaction's appends to a key must appear in the order it made them.
    const position = new Map(longest.map((v, i) => [v, i]));
    const disordered = new Set<Txn>();
    for (let i = 0; i < longest.length; i++) {
      const t = w.get(longest[i] as string);
      if (t === undefined || disordered.has(t)) continue;
      const own = (t.appends.get(key) ?? []).filter((v) => position.has(v));
      if (own.some((v, j) => j > 0 && (position.get(v) as number) < (position.get(own[j - 1] as string) as number))) {
        disordered.add(t);
        report({
          type: 'incompatible-order',
          txns: [t.op.index],
          key,
          message: `${name(t)} appended ${showList(own)} to ${key} in that order, but reads show ${showList(longest.filter((v) => own.includes(v)))}`,
        });
      }
    }
    // ww: consecutive versions.
    for (let i = 0; i + 1 < longest.length; i++) {
      const a = w.get(longest[i] as string);
      const b = w.get(longest[i + 1] as string);
      if (isNode(a) && isNode(b)) {
        graph.addEdge(a.node, b.node, 'ww', {
          key,
          describe: () => `${name(a)} appended ${show(longest[i] as string)} to ${key}, then ${name(b)} appended ${show(longest[i + 1] as string)}`,
        });
      }
    }
    // Committed appends nobody observed come after every observed one (reads see prefixes).
    const inOrder = new Set(longest);
    const unobserved = [...w].filter(([v, t]) => committed.has(t) && !inOrder.has(v));
    const lastWriter = longest.length > 0 ? w.get(longest[longest.length - 1] as string) : undefined;
    for (const [v, t] of unobserved) {
      if (isNode(lastWriter)) {
        graph.addEdge(lastWriter.node, t.node, 'ww', {
          key,
          describe: () => `${name(lastWriter)} appended ${show(longest[longest.length - 1] as string)} to ${key}; ${name(t)}'s ${show(v)} (never read) came later`,
        });
      }
    }
    for (const r of reads) {
      // wr: the last value read was the latest version the reader saw.
      const last = r.list[r.list.length - 1];
      const by = last === undefined ? undefined : w.get(last);
      if (isNode(by)) {
        graph.addEdge(by.node, r.txn.node, 'wr', { key, describe: () => `${name(r.txn)} read ${key} = ${showList(r.list)}, seeing ${name(by)}'s append of ${show(last as string)}` });
      }
    }
    for (const r of compatible) {
      // rw: the reader saw a version before the next append (and before every unobserved one).
      const next = longest[r.list.length];
      const nextBy = next === undefined ? undefined : w.get(next);
      if (isNode(nextBy)) {
        graph.addEdge(r.txn.node, nextBy.node, 'rw', {
          key,
          describe: () => `${name(r.txn)} read ${key} = ${showList(r.list)}, missing ${show(next as string)} appended next by ${name(nextBy)}`,
        });
      }
      for (const [v, t] of unobserved) {
        graph.addEdge(r.txn.node, t.node, 'rw', { key, describe: () => `${name(r.txn)} read ${key} = ${showList(r.list)}, missing ${show(v)} appended by ${name(t)}` });
      }
    }
  }

  // ---- real time: a → b when a completed before b was invoked (transitively reduced) ----
  if (realtime) {
    const events: Array<{ time: number; invoke: boolean; seq: number; t: Txn }> = [];
    for (const t of byNode) {
      events.push({ time: t.op.call, invoke: true, seq: t.op.index, t });
      if (t.op.type === 'ok') events.push({ time: t.op.end, invoke: false, seq: t.op.completionIndex ?? t.op.index, t });
    }
    // At equal times invocations go first: the two are then concurrent (no edge).
    events.sort((a, b) => a.time - b.time || Number(b.invoke) - Number(a.invoke) || a.seq - b.seq);
    let frontier = new Set<Txn>();
    const preds = new Map<Txn, Txn[]>();
    for (const e of events) {
      if (e.invoke) {
        const ps = [...frontier];
        preds.set(e.t, ps);
        for (const p of ps) {
          graph.addEdge(p.node, e.t.node, 'rt', {
            describe: () => `${name(p)} completed (t=${p.op.end}) before ${name(e.t)} was invoked (t=${e.t.op.call})`,
          });
        }
      } else {
        const covered = new Set(preds.get(e.t) ?? []);
        frontier = new Set([...frontier].filter((x) => !covered.has(x)));
        frontier.add(e.t);
      }
    }
  }

  // ---- cycles ----
  const components = graph.cyclicComponents();
  for (const comp of components) {
    for (const cls of CYCLE_CLASSES) {
      if (!realtime && cls.allowed.includes('rt')) continue;
      const edges = graph.findCycle(comp, cls);
      if (edges === undefined) continue;
      const txnOf = (n: number): Txn => byNode[n] as Txn;
      const cycle: CycleStep[] = edges.map((e) => {
        const step: CycleStep = { from: txnOf(e.from).op.index, to: txnOf(e.to).op.index, type: e.type, description: e.detail.describe() };
        if (e.detail.key !== undefined) step.key = e.detail.key;
        return step;
      });
      const path = cycle.map((s) => `T${s.from} -${s.type}${s.key !== undefined ? `(${s.key})` : ''}→ `).join('') + `T${cycle[0]?.from}`;
      report({
        type: cls.name as AppendAnomalyType,
        txns: cycle.map((s) => s.from),
        cycle,
        message: `${cls.name} cycle: ${path}. ${cycle.map((s) => s.description).join('; ')}`,
      });
    }
  }

  return {
    checker: 'append',
    valid: Object.keys(counts).length === 0,
    txns: tally,
    keys: keys.size,
    counts,
    anomalies,
    graph: { nodes, edges: graph.edgeCount, cyclicComponents: components.length },
  };
}
