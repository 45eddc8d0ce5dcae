// JSON values as they appear in history.jsonl. A history is written as JSON lines, so every value
// recorded in it must survive JSON.stringify/parse unchanged: bigints (lease ids, revisions from
// the wire) are stored as decimal strings, bytes as UTF-8 strings.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class JsonValueError extends Error {
  override name = 'JsonValueError';
  readonly kind = 'not-json' as const;
}

/**
 * Converts a value produced by client code into a JSON-safe value: bigint → decimal string,
 * Uint8Array → UTF-8 string, undefined object fields dropped. Anything else that JSON cannot
 * hold unchanged (functions, symbols, NaN, cycles) is refused rather than silently mangled.
 */
export function toJson(x: unknown, depth = 0): Json {
  if (depth > 64) throw new JsonValueError('value nested deeper than 64 levels');
  if (x === null) return null;
  switch (typeof x) {
    case 'boolean':
    case 'string':
      return x;
    case 'number':
      if (!Number.isFinite(x)) throw new JsonValueError(`non-finite number ${x}`);
      return x;
    case 'bigint':
      return x.toString();
    case 'object': {
      if (x instanceof Uint8Array) return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('utf8');
      if (Array.isArray(x)) return x.map((v) => toJson(v === undefined ? null : v, depth + 1));
      const out: { [key: string]: Json } = {};
      for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
        if (v !== undefined) out[k] = toJson(v, depth + 1);
      }
      return out;
    }
    default:
      throw new JsonValueError(`cannot store a ${typeof x} in a history`);
  }
}

/**
 * A canonical text for a JSON value (object keys sorted), so that two equal values always have
 * the same text: models compare and hash states by it.
 */
export function canonicalJson(v: Json): string {
  if (typeof v === 'number') return String(v); // same text as JSON.stringify for finite numbers
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] as Json)}`).join(',')}}`;
}

export function isJsonObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
