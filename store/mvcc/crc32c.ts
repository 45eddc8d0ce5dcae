// CRC-32C (Castagnoli), the checksum etcd's HashKV uses (hash/crc32 with crc32.Castagnoli), so
// keelson's HashKV of a history equals etcd's. Slicing-by-8 tables keep it fast on big stores.

const POLY = 0x82f63b78;
const T = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n] as number;
  for (let t = 1; t < 8; t++) {
    c = (T[c & 0xff] as number) ^ (c >>> 8);
    T[t * 256 + n] = c;
  }
}

/** Continues a CRC-32C over `buf` from a previous value (0 to start). */
export function crc32cUpdate(crc: number, buf: Uint8Array): number {
  let c = ~crc;
  let i = 0;
  const n = buf.length;
  for (; i + 8 <= n; i += 8) {
    c ^= (buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24);
    c =
      (T[7 * 256 + (c & 0xff)] as number) ^
      (T[6 * 256 + ((c >>> 8) & 0xff)] as number) ^
      (T[5 * 256 + ((c >>> 16) & 0xff)] as number) ^
      (T[4 * 256 + (c >>> 24)] as number) ^
      (T[3 * 256 + (buf[i + 4] as number)] as number) ^
      (T[2 * 256 + (buf[i + 5] as number)] as number) ^
      (T[256 + (buf[i + 6] as number)] as number) ^
      (T[buf[i + 7] as number] as number);
  }
  for (; i < n; i++) c = (T[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

export function crc32c(buf: Uint8Array): number {
  return crc32cUpdate(0, buf);
}
