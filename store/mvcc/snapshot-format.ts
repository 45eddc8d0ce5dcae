// The store snapshot stream (what Raft sends to a lagging follower): every record of the level
// database, in chunks of about 1 MiB. It is a byte stream (it travels in pieces of any size and
// is stored in files), so each chunk is framed: a u32 big-endian length, then one type byte and
// a msgpackr body:
//   'H' { format, version, index, term }          first
//   'D' [key0, value0, key1, value1, ...]          any number
//   'E' { entries, crc }                           last: record count and CRC-32C of all bytes
// A stream that is cut short, reordered or altered fails to restore with a clear error instead
// of installing a partial state. Zero bytes after the end chunk are ignored (etcd's snapshot
// files are padded to 512-byte pages before their SHA-256 trailer; ours are shaped the same).

import { crc32cUpdate } from './crc32c.js';
import { newPackr } from './records.js';

const FORMAT = 'keelson-mvcc-snapshot';
const VERSION = 1;
const T_HEADER = 0x48; // 'H'
const T_DATA = 0x44; // 'D'
const T_END = 0x45; // 'E'
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;

const packr = newPackr();

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

/** Bound on one framed chunk, so a damaged length cannot make us buffer gigabytes. */
const MAX_FRAME = 64 * 1024 * 1024;

function chunk(type: number, body: unknown): Buffer {
  const b = packr.pack(body);
  const out = Buffer.allocUnsafe(5 + b.length);
  out.writeUInt32BE(1 + b.length, 0);
  out[4] = type;
  b.copy(out, 5);
  return out;
}

/** Splits a byte stream into frames (type byte + body), whatever the input pieces are. */
async function* frames(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer | { trailing: Buffer }> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const raw of input) {
    const piece = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    buf = buf.length === 0 ? piece : Buffer.concat([buf, piece]);
    for (;;) {
      if (buf.length < 4) break;
      const len = buf.readUInt32BE(0);
      if (len === 0 || len > MAX_FRAME) {
        // Not a frame: either trailing padding (checked by the caller) or damage.
        yield { trailing: buf };
        buf = Buffer.alloc(0);
        break;
      }
      if (buf.length < 4 + len) break;
      yield buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
    }
  }
  if (buf.length > 0) yield { trailing: buf };
}

export interface SnapshotHeader {
  index: number;
  term: number;
}

/** Turns (key, value) records into snapshot chunks. */
export async function* encodeSnapshot(
  head: SnapshotHeader,
  records: AsyncIterable<Array<[Buffer, Buffer]>>,
): AsyncGenerator<Buffer> {
  yield chunk(T_HEADER, { format: FORMAT, version: VERSION, index: head.index, term: head.term });
  let crc = 0;
  let entries = 0;
  let pending: Buffer[] = [];
  let bytes = 0;
  for await (const batch of records) {
    for (const [k, v] of batch) {
      pending.push(k, v);
      bytes += k.length + v.length + 8;
      crc = crc32cUpdate(crc32cUpdate(crc, k), v);
      entries++;
      if (bytes >= SNAPSHOT_CHUNK_BYTES) {
        yield chunk(T_DATA, pending);
        pending = [];
        bytes = 0;
      }
    }
  }
  if (pending.length > 0) yield chunk(T_DATA, pending);
  yield chunk(T_END, { entries, crc });
}

/** Reads snapshot chunks; `onRecords` receives the records of each data chunk in order. */
export async function decodeSnapshot(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onRecords: (records: Array<[Buffer, Buffer]>) => Promise<void>,
): Promise<SnapshotHeader> {
  let head: SnapshotHeader | undefined;
  let ended = false;
  let crc = 0;
  let entries = 0;
  let n = 0;
  for await (const fr of frames(chunks)) {
    if (!Buffer.isBuffer(fr)) {
      if (ended && fr.trailing.every((b) => b === 0)) continue;
      throw new SnapshotFormatError(ended ? 'data after the end chunk' : `chunk ${n + 1}: truncated or damaged frame`);
    }
    const c = fr;
    n++;
    if (c.length < 1) throw new SnapshotFormatError(`chunk ${n}: empty`);
    if (ended) throw new SnapshotFormatError(`chunk ${n}: data after the end chunk`);
    let body: unknown;
    try {
      body = packr.unpack(c.subarray(1));
    } catch (e) {
      throw new SnapshotFormatError(`chunk ${n}: undecodable (${(e as Error).message})`);
    }
    const type = c[0];
    if (head === undefined) {
      const h = body as Record<string, unknown>;
      if (type !== T_HEADER || typeof h !== 'object' || h === null || h['format'] !== FORMAT) {
        throw new SnapshotFormatError('not a keelson store snapshot (bad header chunk)');
      }
      if (h['version'] !== VERSION) throw new SnapshotFormatError(`unsupported snapshot version ${String(h['version'])}`);
      if (typeof h['index'] !== 'number' || typeof h['term'] !== 'number') throw new SnapshotFormatError('bad snapshot header');
      head = { index: h['index'], term: h['term'] };
      continue;
    }
    if (type === T_DATA) {
      if (!Array.isArray(body) || body.length % 2 !== 0) throw new SnapshotFormatError(`chunk ${n}: bad data chunk`);
      const recs: Array<[Buffer, Buffer]> = [];
      for (let i = 0; i < body.length; i += 2) {
        const k: unknown = body[i];
        const v: unknown = body[i + 1];
        if (!Buffer.isBuffer(k) || !Buffer.isBuffer(v)) throw new SnapshotFormatError(`chunk ${n}: record ${i / 2} is not bytes`);
        crc = crc32cUpdate(crc32cUpdate(crc, k), v);
        entries++;
        recs.push([k, v]);
      }
      await onRecords(recs);
      continue;
    }
    if (type === T_END) {
      const e = body as Record<string, unknown>;
      if (typeof e !== 'object' || e === null || e['entries'] !== entries || e['crc'] !== crc) {
        throw new SnapshotFormatError(`snapshot checksum mismatch (${entries} records received)`);
      }
      ended = true;
      continue;
    }
    throw new SnapshotFormatError(`chunk ${n}: unknown chunk type ${type}`);
  }
  if (head === undefined) throw new SnapshotFormatError('empty snapshot stream');
  if (!ended) throw new SnapshotFormatError('snapshot stream ended early (no end chunk)');
  return head;
}
