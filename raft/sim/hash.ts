// 53-bit hashes for the simulator's checks: a hash of an entry's bytes, and a chain hash over a
// log prefix, so "these two logs agree up to index i" is one comparison.

function mix(h1: number, h2: number): number {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export function hashBytes(data: Uint8Array, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as number;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  return mix(h1, h2);
}

/** The prefix hash at index i from the one at i-1 and entry i's term and payload hash. */
export function chainHash(prev: number, term: number, dataHash: number): number {
  const lo = (prev >>> 0) ^ Math.imul(term, 0x9e3779b1);
  const hi = Math.floor(prev / 4294967296) ^ (dataHash >>> 0) ^ Math.imul(Math.floor(dataHash / 4294967296), 0x85ebca6b);
  return mix(lo | 0, hi | 0);
}
