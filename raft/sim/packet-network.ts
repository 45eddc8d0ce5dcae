// The simulated network (after TigerBeetle's packet simulator): every packet gets a delivery
// time, so reordering comes from random delays; packets can be lost or duplicated; links can be
// cut one way or both ways to form partitions of several shapes. All randomness comes from the
// PRNG it is given.

import type { Prng } from '../../common/prng.js';
import type { Message, NodeId } from '../core/types.js';

export interface NetworkFaults {
  /** Probability that a packet is lost. */
  dropRate: number;
  /** Probability that a packet is delivered twice. */
  dupRate: number;
  /** Delivery delay range, in simulated time units. */
  minDelay: number;
  maxDelay: number;
  /** Probability that a packet gets an extra long delay (up to 10x maxDelay). */
  slowRate: number;
}

export const CALM: NetworkFaults = { dropRate: 0, dupRate: 0, minDelay: 1, maxDelay: 4, slowRate: 0 };

export interface Packet {
  /** The node that physically sent it (m.from can differ for forwarded messages). */
  sender: NodeId;
  to: NodeId;
  msg: Message;
  deliverAt: number;
  seq: number;
}

export type PartitionKind = 'symmetric' | 'asymmetric' | 'isolate-leader' | 'bridge';

/** A min-heap of packets by (deliverAt, seq). */
class PacketQueue {
  private heap: Packet[] = [];
  get size(): number {
    return this.heap.length;
  }
  push(p: Packet): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (before(h[parent] as Packet, p)) break;
      h[i] = h[parent] as Packet;
      i = parent;
    }
    h[i] = p;
  }
  peek(): Packet | undefined {
    return this.heap[0];
  }
  pop(): Packet | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mp = last;
        if (l < h.length && before(h[l] as Packet, mp)) {
          m = l;
          mp = h[l] as Packet;
        }
        if (r < h.length && before(h[r] as Packet, mp)) {
          m = r;
          mp = h[r] as Packet;
        }
        if (m === i) break;
        h[i] = mp;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
  clear(): void {
    this.heap = [];
  }
}

function before(a: Packet, b: Packet): boolean {
  return a.deliverAt < b.deliverAt || (a.deliverAt === b.deliverAt && a.seq < b.seq);
}

export class PacketNetwork {
  faults: NetworkFaults;
  private readonly queue = new PacketQueue();
  private seq = 0;
  /** Links that are down, as "from>to". */
  private readonly cut = new Set<string>();
  /** Bound on packets in flight; beyond it new packets are dropped (a full socket buffer). */
  readonly capacity: number;

  constructor(
    private readonly prng: Prng,
    faults: NetworkFaults,
    capacity = 100_000,
  ) {
    this.faults = faults;
    this.capacity = capacity;
  }

  get inFlight(): number {
    return this.queue.size;
  }

  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  /** Queues a packet; returns false if it was lost on the way (cut link, loss, full). */
  send(sender: NodeId, msg: Message, now: number): boolean {
    const to = msg.to;
    if (!this.linkUp(sender, to)) return false;
    if (this.queue.size >= this.capacity) return false;
    if (this.prng.chance(this.faults.dropRate)) return false;
    const copies = this.prng.chance(this.faults.dupRate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let delay = this.prng.range(this.faults.minDelay, this.faults.maxDelay);
      if (this.prng.chance(this.faults.slowRate)) delay += this.prng.range(this.faults.maxDelay, 10 * this.faults.maxDelay);
      this.queue.push({ sender, to, msg, deliverAt: now + delay, seq: this.seq++ });
    }
    return true;
  }

  /**
   * Packets due at `now`. A packet whose link was cut while it was in flight is lost (returned
   * in `lost` so the sender's transport can report it).
   */
  due(now: number): { delivered: Packet[]; lost: Packet[] } {
    const delivered: Packet[] = [];
    const lost: Packet[] = [];
    for (;;) {
      const p = this.queue.peek();
      if (!p || p.deliverAt > now) break;
      this.queue.pop();
      if (this.linkUp(p.sender, p.to)) delivered.push(p);
      else lost.push(p);
    }
    return { delivered, lost };
  }

  heal(): void {
    this.cut.clear();
  }

  /** Cuts both directions between every node of a and every node of b. */
  private separate(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a)
      for (const y of b) {
        this.cut.add(`${x}>${y}`);
        this.cut.add(`${y}>${x}`);
      }
  }

  /**
   * Replaces the current partition with a new one of the given kind over `nodes`. Returns a
   * short description for traces.
   */
  partition(kind: PartitionKind, nodes: readonly NodeId[], leader: NodeId | undefined): string {
    this.heal();
    const ns = this.prng.shuffle([...nodes]);
    if (ns.length < 2) return 'none';
    switch (kind) {
      case 'symmetric': {
        const k = this.prng.range(1, ns.length - 1);
        const a = ns.slice(0, k);
        const b = ns.slice(k);
        this.separate(a, b);
        return `symmetric ${fmt(a)} | ${fmt(b)}`;
      }
      case 'asymmetric': {
        // Messages from a to b are lost; b to a still arrive.
        const k = this.prng.range(1, ns.length - 1);
        const a = ns.slice(0, k);
        const b = ns.slice(k);
        for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
        return `asymmetric ${fmt(a)} -/-> ${fmt(b)}`;
      }
      case 'isolate-leader': {
        const l = leader !== undefined && ns.includes(leader) ? leader : (ns[0] as NodeId);
        const rest = ns.filter((x) => x !== l);
        this.separate([l], rest);
        return `isolate ${l}`;
      }
      case 'bridge': {
        // Two halves that see each other only through one bridge node.
        if (ns.length < 3) return this.partition('symmetric', nodes, leader);
        const bridge = ns[0] as NodeId;
        const rest = ns.slice(1);
        const k = Math.max(1, Math.floor(rest.length / 2));
        const a = rest.slice(0, k);
        const b = rest.slice(k);
        this.separate(a, b);
        return `bridge ${fmt(a)} <${bridge}> ${fmt(b)}`;
      }
    }
  }

  /** Cuts every link to and from a node (used when it is added after a partition was formed). */
  isolateFrom(id: NodeId, others: readonly NodeId[]): void {
    this.separate([id], others);
  }

  clear(): void {
    this.queue.clear();
  }
}

function fmt(ids: readonly NodeId[]): string {
  return `{${[...ids].sort((x, y) => x - y).join(',')}}`;
}
