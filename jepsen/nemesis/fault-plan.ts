// The nemesis schedule, drawn from the run's seed before the run starts: which fault, when, for
// how long, and a seed for the fault's own choices (partition shape, which member). Faults come
// one at a time with quiet gaps between them; with several nemeses (--nemesis partition,kill)
// each fault is drawn from the list. The same seed always gives the same plan; choices that
// depend on the live cluster (who leads) are made from the fault's seed when it starts.

import { invariant } from '../../common/assert.js';
import type { Prng } from '../../common/prng.js';

export const NEMESES = ['partition', 'kill', 'pause', 'member', 'transfer'] as const;
export type NemesisKind = (typeof NEMESES)[number];

export interface PlannedFault {
  id: string;
  kind: NemesisKind;
  /** When it starts, ms after the run started. */
  atMs: number;
  /** How long it lasts (0: an instantaneous fault, e.g. a leadership transfer). */
  durationMs: number;
  /** Seeds the fault's own choices. */
  seed: number;
}

const FIRST_GAP_MS: readonly [number, number] = [1000, 2000];
const GAP_MS: readonly [number, number] = [1000, 3000];
const DURATION_MS: Record<NemesisKind, readonly [number, number]> = {
  partition: [2000, 5000],
  kill: [1500, 4000],
  pause: [1500, 4000],
  member: [4000, 8000],
  transfer: [0, 0],
};
/** Faults end at least this long before the main phase does. */
const TAIL_MS = 500;

/** Parses --nemesis: a comma-separated list of NEMESES, or "none". */
export function parseNemeses(list: string): NemesisKind[] {
  const items = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 1 && items[0] === 'none') return [];
  if (items.length === 0) throw new RangeError('--nemesis needs at least one of partition, kill, pause, member, transfer (or none)');
  const out: NemesisKind[] = [];
  for (const s of items) {
    if (!(NEMESES as readonly string[]).includes(s)) throw new RangeError(`unknown nemesis "${s}" (known: ${NEMESES.join(', ')}, or none)`);
    if (!out.includes(s as NemesisKind)) out.push(s as NemesisKind);
  }
  return out;
}

export function planFaults(kinds: readonly NemesisKind[], runMs: number, prng: Prng): PlannedFault[] {
  invariant(runMs > 0, 'planFaults: the run needs a positive length');
  const plan: PlannedFault[] = [];
  if (kinds.length === 0) return plan;
  let at = prng.range(FIRST_GAP_MS[0], FIRST_GAP_MS[1]);
  for (let i = 0; ; i++) {
    const kind = prng.pick(kinds);
    const [lo, hi] = DURATION_MS[kind];
    const durationMs = prng.range(lo, hi);
    const seed = prng.u32();
    if (at + durationMs > runMs - TAIL_MS) break;
    plan.push({ id: `${kind}-${i + 1}`, kind, atMs: at, durationMs, seed });
    at += durationMs + prng.range(GAP_MS[0], GAP_MS[1]);
  }
  return plan;
}
