// Shapes of network faults, as sets of directed link faults (pure: members and leader in, links
// out). Peer shapes act on member→member links, in the forms Jepsen uses:
//  - halves: a minority and a majority that cannot talk (both ways);
//  - isolate-leader: the leader alone on one side;
//  - bridge: two groups that cannot talk, and one member that talks to both;
//  - one-way: a member's inbound or outbound links cut, the other direction intact;
//  - lossy: every peer link slow (delay + jitter) and lossy (chunks lost, connections reset).
// client-cut acts on client links: a member's clients cannot reach it, nor it them.

import { Prng } from '../../common/prng.js';
import { CLIENT } from '../net/link-faults.js';

export const PARTITION_SHAPES = ['halves', 'isolate-leader', 'bridge', 'one-way', 'lossy', 'client-cut'] as const;
export type PartitionShape = (typeof PARTITION_SHAPES)[number];

/** Shapes that leave a member cut off from the majority (its local state goes stale). */
export const ISOLATING_SHAPES: ReadonlySet<PartitionShape> = new Set(['halves', 'isolate-leader']);

export interface LinkFault {
  from: string;
  to: string;
  cut?: true;
  drop?: number;
  delayMs?: number;
  jitterMs?: number;
}

export interface PartitionPlan {
  shape: PartitionShape;
  /** The members the fault is about (the minority, the bridge, the isolated one, ...). */
  targets: string[];
  links: LinkFault[];
  /** "n2 | n1 n3", "n1 -> n2 n3 cut", ... */
  description: string;
}

/** The shape a partition with this seed takes (its first draw). */
export function partitionShapeFor(seed: number): PartitionShape {
  return new Prng(seed).pick(PARTITION_SHAPES);
}

function cutBetween(a: readonly string[], b: readonly string[]): LinkFault[] {
  const out: LinkFault[] = [];
  for (const x of a) {
    for (const y of b) {
      out.push({ from: x, to: y, cut: true }, { from: y, to: x, cut: true });
    }
  }
  return out;
}

/** The partition a fault with `seed` makes of `members`, the leader being `leader` (if known). */
export function planPartition(seed: number, members: readonly string[], leader: string | undefined): PartitionPlan {
  const prng = new Prng(seed);
  const shape = prng.pick(PARTITION_SHAPES); // same first draw as partitionShapeFor
  const shuffled = prng.shuffle([...members]);
  const someone = leader !== undefined && prng.chance(0.5) ? leader : (shuffled[0] as string);
  const others = (x: string): string[] => members.filter((m) => m !== x);
  switch (shape) {
    case 'halves': {
      const k = Math.max(1, Math.floor(members.length / 2));
      const minority = shuffled.slice(0, k);
      const majority = shuffled.slice(k);
      return { shape, targets: minority, links: cutBetween(minority, majority), description: `${minority.join(' ')} | ${majority.join(' ')}` };
    }
    case 'isolate-leader': {
      const x = leader ?? (shuffled[0] as string);
      return { shape, targets: [x], links: cutBetween([x], others(x)), description: `${x}${leader === undefined ? ' (no leader known)' : ' (leader)'} | ${others(x).join(' ')}` };
    }
    case 'bridge': {
      const bridge = shuffled[0] as string;
      const rest = shuffled.slice(1);
      const half = Math.ceil(rest.length / 2);
      const a = rest.slice(0, half);
      const b = rest.slice(half);
      return { shape, targets: [bridge], links: cutBetween(a, b), description: `${a.join(' ')} - ${bridge} - ${b.join(' ')} (${bridge} bridges)` };
    }
    case 'one-way': {
      const inbound = prng.chance(0.5);
      const links: LinkFault[] = others(someone).map((o) => (inbound ? { from: o, to: someone, cut: true } : { from: someone, to: o, cut: true }));
      return { shape, targets: [someone], links, description: inbound ? `${others(someone).join(' ')} -> ${someone} cut` : `${someone} -> ${others(someone).join(' ')} cut` };
    }
    case 'lossy': {
      const delayMs = prng.range(10, 60);
      const jitterMs = prng.range(0, 50);
      const drop = prng.range(1, 3) / 100;
      const links: LinkFault[] = [];
      for (const a of members) for (const b of others(a)) links.push({ from: a, to: b, delayMs, jitterMs, drop });
      return { shape, targets: [...members], links, description: `peer links delayed ${delayMs}+${jitterMs} ms, ${drop * 100}% of chunks lost` };
    }
    case 'client-cut':
      return {
        shape,
        targets: [someone],
        links: [
          { from: CLIENT, to: someone, cut: true },
          { from: someone, to: CLIENT, cut: true },
        ],
        description: `clients of ${someone} cut off`,
      };
  }
}
