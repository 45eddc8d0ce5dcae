// An in-memory B+ tree from string keys to values, ordered by JS string comparison. Keys are
// Buffers decoded as 'latin1', which makes string order equal to byte order, so this is the
// ordered index of all keys: O(log n) lookups and seeks, and in-order scans along linked leaves
// for range queries [key, rangeEnd).

import { invariant } from '../../common/assert.js';

const MAX = 64; // entries per node; a node splits above this
const MIN = 16; // below this a node tries to merge with a neighbour

class Leaf<V> {
  next: Leaf<V> | null = null;
  prev: Leaf<V> | null = null;
  constructor(
    public keys: string[],
    public vals: V[],
  ) {}
}

class Inner<V> {
  // keys[i] is the smallest key under kids[i].
  constructor(
    public keys: string[],
    public kids: Node<V>[],
  ) {}
}

type Node<V> = Leaf<V> | Inner<V>;

function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the child whose subtree may hold k: the last i with keys[i] <= k, at least 0. */
function childIndex(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : lo - 1;
}

export class SortedStringMap<V> {
  private root: Node<V> = new Leaf<V>([], []);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(k: string): V | undefined {
    let n = this.root;
    while (n instanceof Inner) n = n.kids[childIndex(n.keys, k)] as Node<V>;
    const i = lowerBound(n.keys, k);
    return n.keys[i] === k ? n.vals[i] : undefined;
  }

  set(k: string, v: V): void {
    const split = this.insert(this.root, k, v);
    if (split !== undefined) {
      this.root = new Inner<V>([this.root.keys[0] as string, split.keys[0] as string], [this.root, split]);
    }
  }

  delete(k: string): boolean {
    const found = this.remove(this.root, k);
    if (!found) return false;
    while (this.root instanceof Inner && this.root.kids.length === 1) this.root = this.root.kids[0] as Node<V>;
    if (this.root instanceof Inner && this.root.kids.length === 0) this.root = new Leaf<V>([], []);
    return true;
  }

  /**
   * Calls fn(key, value) for keys in [lo, hi) in order (hi undefined: up to the last key) until
   * fn returns false. The map must not be modified during the scan.
   */
  forRange(lo: string, hi: string | undefined, fn: (k: string, v: V) => boolean | void): void {
    let n = this.root;
    while (n instanceof Inner) n = n.kids[childIndex(n.keys, lo)] as Node<V>;
    let leaf: Leaf<V> | null = n;
    let i = lowerBound(leaf.keys, lo);
    while (leaf !== null) {
      const keys = leaf.keys;
      const vals = leaf.vals;
      for (; i < keys.length; i++) {
        const k = keys[i] as string;
        if (hi !== undefined && k >= hi) return;
        if (fn(k, vals[i] as V) === false) return;
      }
      leaf = leaf.next;
      i = 0;
    }
  }

  /** All values in key order (forRange over everything). */
  forEach(fn: (k: string, v: V) => boolean | void): void {
    this.forRange('', undefined, fn);
  }

  private insert(n: Node<V>, k: string, v: V): Node<V> | undefined {
    if (n instanceof Leaf) {
      const i = lowerBound(n.keys, k);
      if (n.keys[i] === k) {
        n.vals[i] = v;
        return undefined;
      }
      n.keys.splice(i, 0, k);
      n.vals.splice(i, 0, v);
      this.count++;
      if (n.keys.length <= MAX) return undefined;
      const half = n.keys.length >>> 1;
      const right = new Leaf<V>(n.keys.splice(half), n.vals.splice(half));
      right.next = n.next;
      if (right.next !== null) right.next.prev = right;
      right.prev = n;
      n.next = right;
      return right;
    }
    const i = childIndex(n.keys, k);
    const kid = n.kids[i] as Node<V>;
    const split = this.insert(kid, k, v);
    n.keys[i] = kid.keys[0] as string;
    if (split === undefined) return undefined;
    n.kids.splice(i + 1, 0, split);
    n.keys.splice(i + 1, 0, split.keys[0] as string);
    if (n.kids.length <= MAX) return undefined;
    const half = n.kids.length >>> 1;
    return new Inner<V>(n.keys.splice(half), n.kids.splice(half));
  }

  private remove(n: Node<V>, k: string): boolean {
    if (n instanceof Leaf) {
      const i = lowerBound(n.keys, k);
      if (n.keys[i] !== k) return false;
      n.keys.splice(i, 1);
      n.vals.splice(i, 1);
      this.count--;
      return true;
    }
    const i = childIndex(n.keys, k);
    const kid = n.kids[i] as Node<V>;
    if (!this.remove(kid, k)) return false;
    if (kid.keys.length === 0) {
      this.dropChild(n, i);
      return true;
    }
    n.keys[i] = kid.keys[0] as string;
    if (kid.keys.length < MIN) {
      // Merge with the smaller neighbour when the two fit in one node.
      const left = i > 0 ? (n.kids[i - 1] as Node<V>) : undefined;
      const right = i + 1 < n.kids.length ? (n.kids[i + 1] as Node<V>) : undefined;
      if (left !== undefined && left.keys.length + kid.keys.length <= MAX) this.merge(n, i - 1);
      else if (right !== undefined && right.keys.length + kid.keys.length <= MAX) this.merge(n, i);
    }
    return true;
  }

  /** Moves kids[j+1]'s entries into kids[j] and removes kids[j+1]. */
  private merge(parent: Inner<V>, j: number): void {
    const a = parent.kids[j] as Node<V>;
    const b = parent.kids[j + 1] as Node<V>;
    if (a instanceof Leaf) {
      invariant(b instanceof Leaf, 'merging a leaf with an inner node');
      for (let x = 0; x < b.keys.length; x++) {
        a.keys.push(b.keys[x] as string);
        a.vals.push(b.vals[x] as V);
      }
    } else {
      invariant(b instanceof Inner, 'merging an inner node with a leaf');
      for (let x = 0; x < b.keys.length; x++) {
        a.keys.push(b.keys[x] as string);
        a.kids.push(b.kids[x] as Node<V>);
      }
    }
    this.dropChild(parent, j + 1);
  }

  private dropChild(parent: Inner<V>, i: number): void {
    const kid = parent.kids[i] as Node<V>;
    if (kid instanceof Leaf) {
      if (kid.prev !== null) kid.prev.next = kid.next;
      if (kid.next !== null) kid.next.prev = kid.prev;
    }
    parent.kids.splice(i, 1);
    parent.keys.splice(i, 1);
  }

  /** Checks the tree's structure; for tests. */
  checkInvariants(): void {
    let seen = 0;
    let prevKey: string | undefined;
    const walk = (n: Node<V>, depth: number, leafDepth: { d: number }): void => {
      if (n instanceof Leaf) {
        if (leafDepth.d === -1) leafDepth.d = depth;
        invariant(leafDepth.d === depth, 'leaves at different depths');
        invariant(n.keys.length === n.vals.length, 'leaf keys/vals mismatch');
        for (const k of n.keys) {
          invariant(prevKey === undefined || prevKey < k, 'keys out of order');
          prevKey = k;
          seen++;
        }
        return;
      }
      invariant(n.keys.length === n.kids.length && n.kids.length > 0, 'inner keys/kids mismatch');
      n.kids.forEach((kid, i) => {
        invariant(kid.keys.length > 0, 'empty child');
        invariant(n.keys[i] === kid.keys[0], 'separator is not the child minimum');
        walk(kid, depth + 1, leafDepth);
      });
    };
    walk(this.root, 0, { d: -1 });
    invariant(seen === this.count, `size ${this.count} but ${seen} keys`);
  }
}
