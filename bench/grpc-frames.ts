// gRPC's message framing over HTTP/2 DATA: each message is a 1-byte compressed flag, a 4-byte
// big-endian length, then the protobuf bytes. Messages may be split across, or packed into,
// DATA chunks in any way, so the reader reassembles them.

import { invariant } from '../common/assert.js';

const HEADER_BYTES = 5;
/** Bound on one incoming message (etcd sends at most its 2 MiB limit plus headers). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export function frameMessage(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the next message (or its header) is complete: chunks are only joined then. */
  private need = HEADER_BYTES;

  /** Feeds one DATA chunk; returns the messages it completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.need) return [];
    const buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.need = HEADER_BYTES;
    const out: Buffer[] = [];
    let pos = 0;
    while (buf.length - pos >= HEADER_BYTES) {
      if (buf[pos] !== 0) throw new Error('grpc: compressed messages are not supported (none were asked for)');
      const len = buf.readUInt32BE(pos + 1);
      invariant(len <= MAX_MESSAGE_BYTES, () => `grpc: message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      if (buf.length - pos - HEADER_BYTES < len) {
        this.need = HEADER_BYTES + len;
        break;
      }
      out.push(buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len));
      pos += HEADER_BYTES + len;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
    return out;
  }

  /** Bytes of an incomplete message still waiting for the rest. */
  get buffered(): number {
    return this.pendingBytes;
  }
}
