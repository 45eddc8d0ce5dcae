// HPACK (RFC 7541): the decoder of the header blocks clients send, with its dynamic table, and
// an encoder of the few header blocks this server sends. The encoder never indexes and never
// Huffman-codes (both are optional for an encoder): a gRPC server's headers are a handful of
// short fields, so its blocks are built once and reused, and the peer's table is never touched.

import { HuffmanError, huffmanDecode } from './hpack-huffman.js';

/** RFC 7541 Appendix A: index 1..61 (0 is unused). */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length - 1;

/** An error that breaks the connection's HPACK state (HTTP/2 COMPRESSION_ERROR). */
export class HpackError extends Error {
  override name = 'HpackError';
}

/**
 * Decoded header fields, names lower-case as on the wire; repeated names joined with ", ".
 * Read-only: decodeShared() hands the same object out again.
 */
export type HeaderFields = Readonly<Record<string, string>>;

/** Blocks up to this size are remembered by decodeShared(), up to MAX_SHARED_BLOCKS of them. */
const MAX_SHARED_BLOCK = 256;
const MAX_SHARED_BLOCKS = 64;

/** The decoding context of one connection (header blocks must be decoded in order, all of them). */
export class HpackDecoder {
  private names: string[] = [];
  private values: string[] = [];
  private size = 0;
  private maxSize: number;
  private changes = 0;
  /** decodeShared()'s blocks, valid while `changes` is `sharedVersion`. */
  private readonly shared = new Map<string, HeaderFields>();
  private sharedVersion = -1;

  /**
   * @param protocolMaxSize the SETTINGS_HEADER_TABLE_SIZE this side announced (the bound of any
   *   size update the encoder may send)
   * @param maxListBytes bound on the decoded list (RFC 7541 size: name + value + 32 per field)
   */
  constructor(
    private readonly protocolMaxSize = 4096,
    private readonly maxListBytes = 64 * 1024,
  ) {
    this.maxSize = protocolMaxSize;
  }

  /**
   * Decodes a whole header block. Throws HpackError when the block is malformed; returns
   * `undefined` (with the table still updated) when the list is over maxListBytes.
   */
  decode(block: Uint8Array): HeaderFields | undefined {
    const out: Record<string, string> = {};
    let pos = 0;
    let listBytes = 0;
    const end = block.length;
    // The integer decoder's result and position, to avoid allocating per field.
    let n = 0;
    const int = (prefixBits: number): void => {
      const max = (1 << prefixBits) - 1;
      n = (block[pos++] as number) & max;
      if (n < max) return;
      let shift = 0;
      for (;;) {
        if (pos >= end) throw new HpackError('truncated integer');
        const b = block[pos++] as number;
        n += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
        shift += 7;
        if (shift > 28) throw new HpackError('integer too large');
      }
    };
    const str = (): string => {
      if (pos >= end) throw new HpackError('truncated string');
      const huffman = ((block[pos] as number) & 0x80) !== 0;
      int(7);
      const len = n;
      if (pos + len > end) throw new HpackError('string runs past the end of the block');
      const s = huffman ? huff(block, pos, pos + len) : latin1(block, pos, pos + len);
      pos += len;
      return s;
    };
    const add = (name: string, value: string): void => {
      listBytes += name.length + value.length + 32;
      if (listBytes > this.maxListBytes) return;
      const prev = out[name];
      out[name] = prev === undefined ? value : `${prev}, ${value}`;
    };
    let sizeUpdateAllowed = true;
    while (pos < end) {
      const b = block[pos] as number;
      if (b & 0x80) {
        int(7);
        const [name, value] = this.entry(n);
        add(name, value);
      } else if (b & 0x40) {
        int(6);
        const name = n === 0 ? str() : this.entry(n)[0];
        const value = str();
        this.insert(name, value);
        add(name, value);
      } else if (b & 0x20) {
        if (!sizeUpdateAllowed) throw new HpackError('dynamic table size update after the first field');
        int(5);
        if (n > this.protocolMaxSize) throw new HpackError(`dynamic table size ${n} over the announced ${this.protocolMaxSize}`);
        this.maxSize = n;
        this.changes++;
        this.evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): both 4-bit name index.
        int(4);
        const name = n === 0 ? str() : this.entry(n)[0];
        add(name, str());
      }
      sizeUpdateAllowed = false;
    }
    if (listBytes > this.maxListBytes) return undefined;
    return out;
  }

  /**
   * decode(), except that a block decoded before is not decoded again when that would give the
   * same fields and leave the table as it is: its frozen fields are returned again. A client
   * sends the same few blocks over and over (every unary call of one method); grpc-go indexes
   * them, other clients send them as literals, whose strings are then decoded on every call.
   */
  decodeShared(block: Uint8Array): HeaderFields | undefined {
    const key = block.length <= MAX_SHARED_BLOCK ? latin1(block, 0, block.length) : undefined;
    if (key !== undefined && this.sharedVersion === this.changes) {
      const hit = this.shared.get(key);
      if (hit !== undefined) return hit;
    }
    const before = this.changes;
    const fields = this.decode(block);
    if (this.changes !== this.sharedVersion) {
      this.shared.clear();
      this.sharedVersion = this.changes;
    }
    if (key !== undefined && fields !== undefined && this.changes === before && this.shared.size < MAX_SHARED_BLOCKS) this.shared.set(key, Object.freeze(fields));
    return fields;
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_COUNT) return STATIC_TABLE[index] as readonly [string, string];
    const d = index - STATIC_COUNT;
    if (d > this.names.length) throw new HpackError(`index ${index} is not in the table`);
    const i = this.names.length - d;
    return [this.names[i] as string, this.values[i] as string];
  }

  private insert(name: string, value: string): void {
    this.changes++;
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size > this.maxSize) return; // too big: the table is now empty (RFC 7541 §4.4)
    this.names.push(name);
    this.values.push(value);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    let drop = 0;
    while (this.size + room > this.maxSize && drop < this.names.length) {
      this.size -= (this.names[drop] as string).length + (this.values[drop] as string).length + 32;
      drop++;
    }
    if (drop > 0) {
      this.names.splice(0, drop);
      this.values.splice(0, drop);
    }
  }
}

function latin1(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
}

function huff(b: Uint8Array, start: number, end: number): string {
  try {
    return huffmanDecode(b, start, end);
  } catch (e) {
    if (e instanceof HuffmanError) throw new HpackError(e.message);
    throw e;
  }
}

// ------------------------------------------------------------------ encoding

const STATIC_NAME = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) STATIC_NAME.set((STATIC_TABLE[i] as readonly [string, string])[0], i);

function intBytes(prefix: number, prefixBits: number, v: number, out: number[]): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    out.push(prefix | v);
    return;
  }
  out.push(prefix | max);
  v -= max;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/**
 * A header block of `fields` (names lower-case): a static-table entry when it matches exactly,
 * otherwise a literal without indexing (with the static table's name when it has one).
 */
export function encodeHeaderBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    let exact = 0;
    for (let i = 1; i <= STATIC_COUNT; i++) {
      const e = STATIC_TABLE[i] as readonly [string, string];
      if (e[0] === name && e[1] === value && value !== '') exact = i;
    }
    if (exact) {
      intBytes(0x80, 7, exact, out);
      continue;
    }
    const ni = STATIC_NAME.get(name) ?? 0;
    intBytes(0x00, 4, ni, out);
    if (ni === 0) {
      const nb = Buffer.from(name, 'latin1');
      intBytes(0x00, 7, nb.length, out);
      for (const c of nb) out.push(c);
    }
    const vb = Buffer.from(value, 'latin1');
    intBytes(0x00, 7, vb.length, out);
    for (const c of vb) out.push(c);
  }
  return Buffer.from(out);
}
