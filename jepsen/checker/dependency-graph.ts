// A transaction dependency graph (Adya's DSG, as Elle builds it): nodes are transactions, edges
// are labelled ww (write-write: next version), wr (write-read: read what it wrote), rw
// (anti-dependency: read a version before the other's) and rt (real time: completed before the
// other was invoked). Cycles are found per strongly connected component (Tarjan) and then, for
// each anomaly class, the shortest cycle of exactly that class by a BFS over (node, which edge
// kinds used so far) — the way Elle looks for the "weakest" explanation first.

import { invariant } from '../../common/assert.js';

export type EdgeType = 'ww' | 'wr' | 'rw' | 'rt';
const BIT: Record<EdgeType, number> = { ww: 1, wr: 2, rw: 4, rt: 8 };
const TYPES: readonly EdgeType[] = ['ww', 'wr', 'rw', 'rt'];

export interface Edge<D> {
  from: number;
  to: number;
  type: EdgeType;
  /** Why the edge exists (the first reason recorded for this from/to/type). */
  detail: D;
}

/** An anomaly class as a constraint on the edges of a cycle. */
export interface CycleClass {
  name: string;
  allowed: readonly EdgeType[];
  /** Exact number of rw edges, or a minimum when `rwAtLeast`. */
  rw: number;
  rwAtLeast: boolean;
  needWr: boolean;
  needRt: boolean;
}

/** The classes Elle reports for strict serializability, weakest first. */
export const CYCLE_CLASSES: readonly CycleClass[] = [
  { name: 'G0', allowed: ['ww'], rw: 0, rwAtLeast: false, needWr: false, needRt: false },
  { name: 'G1c', allowed: ['ww', 'wr'], rw: 0, rwAtLeast: false, needWr: true, needRt: false },
  { name: 'G-single', allowed: ['ww', 'wr', 'rw'], rw: 1, rwAtLeast: false, needWr: false, needRt: false },
  { name: 'G2', allowed: ['ww', 'wr', 'rw'], rw: 2, rwAtLeast: true, needWr: false, needRt: false },
  { name: 'G0-realtime', allowed: ['ww', 'rt'], rw: 0, rwAtLeast: false, needWr: false, needRt: true },
  { name: 'G1c-realtime', allowed: ['ww', 'wr', 'rt'], rw: 0, rwAtLeast: false, needWr: true, needRt: true },
  { name: 'G-single-realtime', allowed: ['ww', 'wr', 'rw', 'rt'], rw: 1, rwAtLeast: false, needWr: false, needRt: true },
  { name: 'G2-realtime', allowed: ['ww', 'wr', 'rw', 'rt'], rw: 2, rwAtLeast: true, needWr: false, needRt: true },
];

export class DependencyGraph<D> {
  /** out[u]: target → bitmask of edge types. */
  private readonly out: Array<Map<number, number>>;
  private readonly details = new Map<string, D>();
  edgeCount = 0;

  constructor(readonly size: number) {
    this.out = Array.from({ length: size }, () => new Map<number, number>());
  }

  addEdge(from: number, to: number, type: EdgeType, detail: D): void {
    invariant(from >= 0 && from < this.size && to >= 0 && to < this.size, 'DependencyGraph: node out of range');
    if (from === to) return; // a transaction depending on itself is not a cycle between transactions
    const m = this.out[from] as Map<number, number>;
    const cur = m.get(to) ?? 0;
    if ((cur & BIT[type]) !== 0) return;
    m.set(to, cur | BIT[type]);
    this.details.set(`${from},${to},${type}`, detail);
    this.edgeCount++;
  }

  edge(from: number, to: number, type: EdgeType): Edge<D> | undefined {
    const d = this.details.get(`${from},${to},${type}`);
    return d === undefined ? undefined : { from, to, type, detail: d };
  }

  /** Strongly connected components with more than one node (iterative Tarjan). */
  cyclicComponents(): number[][] {
    const n = this.size;
    const index = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const stack: number[] = [];
    const out: number[][] = [];
    let counter = 0;
    const succ = this.out.map((m) => [...m.keys()]);
    const frames: Array<{ v: number; i: number }> = [];
    for (let root = 0; root < n; root++) {
      if (index[root] !== -1) continue;
      frames.push({ v: root, i: 0 });
      index[root] = low[root] = counter++;
      stack.push(root);
      onStack[root] = 1;
      while (frames.length > 0) {
        const f = frames[frames.length - 1] as { v: number; i: number };
        const next = succ[f.v] as number[];
        if (f.i < next.length) {
          const w = next[f.i++] as number;
          if (index[w] === -1) {
            index[w] = low[w] = counter++;
            stack.push(w);
            onStack[w] = 1;
            frames.push({ v: w, i: 0 });
          } else if (onStack[w] === 1) {
            low[f.v] = Math.min(low[f.v] as number, index[w] as number);
          }
          continue;
        }
        frames.pop();
        if (frames.length > 0) {
          const parent = (frames[frames.length - 1] as { v: number }).v;
          low[parent] = Math.min(low[parent] as number, low[f.v] as number);
        }
        if (low[f.v] === index[f.v]) {
          const comp: number[] = [];
          for (;;) {
            const w = stack.pop() as number;
            onStack[w] = 0;
            comp.push(w);
            if (w === f.v) break;
          }
          if (comp.length > 1) out.push(comp.sort((a, b) => a - b));
        }
      }
    }
    return out;
  }

  /**
   * The shortest cycle within `component` whose edges satisfy `cls`, trying at most `maxStarts`
   * start nodes (nodes with an outgoing edge of the rarest required kind first). undefined when
   * none was found among those starts.
   */
  findCycle(component: readonly number[], cls: CycleClass, maxStarts = 64): Edge<D>[] | undefined {
    const inComp = new Set(component);
    const allowedMask = cls.allowed.reduce((m, t) => m | BIT[t], 0);
    const key = TYPES.find((t) => (t === 'rw' && cls.rw > 0) || (t === 'wr' && cls.needWr) || (t === 'rt' && cls.needRt)) ?? 'ww';
    const starts = component.filter((u) => [...(this.out[u] as Map<number, number>)].some(([v, m]) => inComp.has(v) && (m & BIT[key]) !== 0));
    // Product state: node × rw count (0, 1, 2 = "2 or more") × has wr × has rt.
    const S = 12;
    const enc = (rw: number, wr: number, rt: number): number => rw * 4 + wr * 2 + rt;
    const ok = (st: number): boolean => {
      const rw = st >> 2;
      const wr = (st >> 1) & 1;
      const rt = st & 1;
      if (cls.rwAtLeast ? rw < cls.rw : rw !== cls.rw) return false;
      if (cls.needWr && wr === 0) return false;
      if (cls.needRt && rt === 0) return false;
      return true;
    };
    let best: Edge<D>[] | undefined;
    for (const s of starts.slice(0, maxStarts)) {
      const prev = new Map<number, { node: number; st: number; type: EdgeType }>();
      const seen = new Set<number>([s * S]);
      let frontier: Array<[number, number]> = [[s, 0]];
      let found: { node: number; st: number } | undefined;
      while (frontier.length > 0 && found === undefined) {
        const next: Array<[number, number]> = [];
        for (const [u, st] of frontier) {
          for (const [v, mask] of this.out[u] as Map<number, number>) {
            if (!inComp.has(v)) continue;
            for (const t of TYPES) {
              if ((mask & BIT[t] & allowedMask) === 0) continue;
              let rw = st >> 2;
              let wr = (st >> 1) & 1;
              let rt = st & 1;
              if (t === 'rw') rw = Math.min(2, rw + 1);
              if (t === 'wr') wr = 1;
              if (t === 'rt') rt = 1;
              if (!cls.rwAtLeast && rw > cls.rw) continue;
              const nst = enc(rw, wr, rt);
              if (v === s) {
                if (ok(nst)) {
                  prev.set(-1, { node: u, st, type: t }); // closing edge
                  found = { node: u, st };
                  break;
                }
                continue;
              }
              const code = v * S + nst;
              if (seen.has(code)) continue;
              seen.add(code);
              prev.set(code, { node: u, st, type: t });
              next.push([v, nst]);
            }
            if (found) break;
          }
          if (found) break;
        }
        frontier = next;
      }
      if (found === undefined) continue;
      // Walk back from the closing edge to s.
      const close = prev.get(-1) as { node: number; st: number; type: EdgeType };
      const edges: Edge<D>[] = [this.edge(close.node, s, close.type) as Edge<D>];
      let cur = { node: close.node, st: close.st };
      while (!(cur.node === s && cur.st === 0)) {
        const p = prev.get(cur.node * S + cur.st) as { node: number; st: number; type: EdgeType };
        edges.push(this.edge(p.node, cur.node, p.type) as Edge<D>);
        cur = { node: p.node, st: p.st };
      }
      edges.reverse();
      // The BFS walks (node, state) pairs, so a walk may pass a node twice; only simple cycles
      // are classified (a closed walk can combine two cycles of a weaker class).
      if (new Set(edges.map((e) => e.from)).size !== edges.length) continue;
      if (best === undefined || edges.length < best.length) best = edges;
      if (best.length === 2) break; // nothing shorter exists
    }
    return best;
  }
}
