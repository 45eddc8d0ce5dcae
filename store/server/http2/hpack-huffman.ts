// HPACK's static Huffman code (RFC 7541, Appendix B), decoding only: clients Huffman-encode
// header strings, this server never does (it sends raw strings, RFC 7541 §5.2).
//
// The code is canonical, so it is fully described by each symbol's code length: codes of one
// length are consecutive, in symbol order, and each length's first code follows from the
// shorter ones. Symbol 256 is EOS, which only ever appears as padding.

import { invariant } from '../../../common/assert.js';

/** Code length in bits of symbols 0..256 (RFC 7541, Appendix B). */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_LEN = 30;

export class HuffmanError extends Error {
  override name = 'HuffmanError';
}

// Canonical decoding tables: for each length, its first code, how many codes it has, and where
// its symbols start in SYMBOLS (symbols sorted by length, then value).
const FIRST = new Int32Array(MAX_LEN + 1);
const COUNT = new Int32Array(MAX_LEN + 1);
const OFFSET = new Int32Array(MAX_LEN + 1);
const SYMBOLS = new Uint16Array(257);
/** Codes by symbol, for tests and tools (right-aligned, with CODE_LENGTHS[sym] bits). */
export const CODES = new Uint32Array(257);

(() => {
  invariant(CODE_LENGTHS.length === 257, 'HPACK Huffman table: 257 code lengths');
  for (const l of CODE_LENGTHS) COUNT[l] = (COUNT[l] as number) + 1;
  let code = 0;
  let offset = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    FIRST[len] = code;
    OFFSET[len] = offset;
    offset += COUNT[len] as number;
    code = (code + (COUNT[len] as number)) << 1;
  }
  const next = Int32Array.from(FIRST);
  const fill = Int32Array.from(OFFSET);
  for (let sym = 0; sym <= EOS; sym++) {
    const len = CODE_LENGTHS[sym] as number;
    CODES[sym] = next[len] as number;
    next[len] = (next[len] as number) + 1;
    SYMBOLS[fill[len] as number] = sym;
    fill[len] = (fill[len] as number) + 1;
  }
})();

export function codeLength(sym: number): number {
  return CODE_LENGTHS[sym] as number;
}

/**
 * Decodes `src[start, end)` as a Huffman-encoded string into latin1 characters. Padding must be
 * fewer than 8 bits, all ones (a prefix of EOS); EOS itself is an error (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  let out = '';
  let code = 0;
  let len = 0;
  // Bits of the code in progress that are all ones (to judge the padding at the end).
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = src[i] as number;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      code = (code << 1) | bit;
      len++;
      if (bit === 0) ones = false;
      const k = code - (FIRST[len] as number);
      if (k >= 0 && k < (COUNT[len] as number)) {
        const sym = SYMBOLS[(OFFSET[len] as number) + k] as number;
        if (sym === EOS) throw new HuffmanError('EOS in a Huffman-encoded string');
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
        ones = true;
      } else if (len >= MAX_LEN) {
        throw new HuffmanError('invalid Huffman code');
      }
    }
  }
  if (len >= 8 || !ones) throw new HuffmanError('invalid Huffman padding');
  return out;
}

/** Encodes latin1 text with the Huffman code (for tests: this server sends raw strings). */
export function huffmanEncode(text: string): Buffer {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += CODE_LENGTHS[text.charCodeAt(i) & 0xff] as number;
  const out = Buffer.alloc(Math.ceil(bits / 8));
  let pos = 0;
  const put = (code: number, n: number): void => {
    for (let b = n - 1; b >= 0; b--) {
      if ((code >>> b) & 1) out[pos >> 3] = (out[pos >> 3] as number) | (0x80 >> (pos & 7));
      pos++;
    }
  };
  for (let i = 0; i < text.length; i++) {
    const sym = text.charCodeAt(i) & 0xff;
    put(CODES[sym] as number, CODE_LENGTHS[sym] as number);
  }
  // Pad with the most significant bits of EOS (all ones).
  while (pos & 7) put(1, 1);
  return out;
}
