// The fault table every fault proxy of a run consults: per directed link (from → to: two members,
// or "client" → a member), whether its bytes are cut, lost or delayed. Proxies look the policy up
// for every chunk they forward, so a change takes effect at once on open connections too.
//
// A TCP connection cannot lose bytes and carry on, so:
//  - cut: bytes are discarded while the connection stays open (a black hole, as etcd's robustness
//    tests do); a connection that lost bytes is closed when its link heals, never resumed with a
//    hole in its stream;
//  - drop p: each chunk is lost with probability p, and losing one closes its connection (what a
//    lossy path ends up doing to a TCP connection whose retransmissions time out);
//  - delay d ± jitter: each chunk is delivered d (+ up to jitter) ms later, order kept.

import { invariant } from '../../common/assert.js';
import type { Prng } from '../../common/prng.js';

export interface LinkPolicy {
  cut: boolean;
  /** Probability in [0, 1] that a chunk is lost (and its connection reset). */
  drop: number;
  delayMs: number;
  jitterMs: number;
}

export const HEALTHY: Readonly<LinkPolicy> = Object.freeze({ cut: false, drop: 0, delayMs: 0, jitterMs: 0 });

/** The source name of client connections (client proxies). */
export const CLIENT = 'client';
/** The name of an endpoint a proxy could not identify; its links are never faulted. */
export const UNKNOWN = '?';

/** Bound on delays (ms): a delayed chunk is held in memory that long. */
export const MAX_DELAY_MS = 60_000;

/** What LinkFaults needs from an open proxied connection. */
export interface FaultedConnection {
  /** True once the connection lost bytes to a cut (it must not carry on after the heal). */
  readonly lostBytes: boolean;
  /** Whether the connection carries bytes of this directed link. */
  carries(from: string, to: string): boolean;
  reset(reason: string): void;
}

const linkKey = (from: string, to: string): string => `${from}\u0000${to}`;

export class LinkFaults {
  private readonly policies = new Map<string, LinkPolicy & { from: string; to: string }>();
  private readonly connections = new Set<FaultedConnection>();

  /** `prng` draws chunk losses and jitter (a fault proxy never uses Math.random). */
  constructor(readonly prng: Prng) {}

  policy(from: string, to: string): Readonly<LinkPolicy> {
    if (from === UNKNOWN || to === UNKNOWN) return HEALTHY;
    return this.policies.get(linkKey(from, to)) ?? HEALTHY;
  }

  cut(from: string, to: string): void {
    this.update(from, to, { cut: true });
  }

  setDrop(from: string, to: string, p: number): void {
    invariant(p >= 0 && p <= 1, () => `LinkFaults: drop probability must be in [0, 1], got ${p}`);
    this.update(from, to, { drop: p });
  }

  setDelay(from: string, to: string, delayMs: number, jitterMs = 0): void {
    invariant(delayMs >= 0 && jitterMs >= 0 && delayMs + jitterMs <= MAX_DELAY_MS, () => `LinkFaults: delay ${delayMs}+${jitterMs} ms out of [0, ${MAX_DELAY_MS}]`);
    this.update(from, to, { delayMs, jitterMs });
  }

  /** Clears every fault of one link; its connections that lost bytes are reset. */
  healLink(from: string, to: string): void {
    if (!this.policies.delete(linkKey(from, to))) return;
    for (const c of [...this.connections]) if (c.lostBytes && c.carries(from, to)) c.reset(`link ${from}->${to} healed after losing bytes`);
  }

  /** Clears every fault; every connection that lost bytes is reset. */
  healAll(): void {
    this.policies.clear();
    for (const c of [...this.connections]) if (c.lostBytes) c.reset('network healed after losing bytes');
  }

  /** The faulted links, for reports ("n1->n2 cut", ...). */
  active(): Array<{ from: string; to: string } & LinkPolicy> {
    return [...this.policies.values()].map((p) => ({ ...p }));
  }

  /** Proxies register each open connection; the returned function unregisters it. */
  register(c: FaultedConnection): () => void {
    this.connections.add(c);
    return () => this.connections.delete(c);
  }

  get openConnections(): number {
    return this.connections.size;
  }

  private update(from: string, to: string, change: Partial<LinkPolicy>): void {
    invariant(from !== to, () => `LinkFaults: a link needs two ends, got ${from}->${to}`);
    const k = linkKey(from, to);
    const cur = this.policies.get(k) ?? { ...HEALTHY, from, to };
    this.policies.set(k, { ...cur, ...change });
  }
}
