// Frames of the peer protocol (peer-transport.ts) on a TCP connection: a 4-byte big-endian
// length, then a kind byte and the payload (the length counts both). The first frame a dialer
// sends is HELLO; everything after depends on the connection's purpose.

/** Bound on one frame (a Raft batch is cut well below it; snapshot chunks are 512 KiB). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024 + 1024;

export enum FrameKind {
  /** Dialer → listener, first frame: JSON {v, cluster, from, to, purpose}. */
  Hello = 1,
  /** Listener → dialer: a refusal (utf8 reason); the listener closes the connection after it. */
  Refused = 2,
  /** A Batch of Raft messages (raft-batch-codec.ts). */
  Batch = 3,
  Ping = 4,
  Pong = 5,
  /** [u32 id][u8 method][payload] */
  Request = 6,
  /** [u32 id][u8 ok][payload, or a utf8 error] */
  Response = 7,
  /** A SnapshotChunk (raft-codec.ts). */
  Chunk = 8,
  /** Listener → dialer at the end of a snapshot: [u8 ok][utf8 message]. */
  SnapshotDone = 9,
}

export enum Method {
  Propose = 1,
  ProposeBatch = 2,
  Forward = 3,
  Query = 4,
}

export class FrameError extends Error {
  override name = 'FrameError';
}

/** One frame: its 5-byte head and payload in one buffer. */
export function frame(kind: FrameKind, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out.writeUInt32BE(payload.length + 1, 0);
  out[4] = kind;
  out.set(payload, 5);
  return out;
}

/** A Request or Response frame: [id][flag byte] before the payload. */
export function callFrame(kind: FrameKind.Request | FrameKind.Response, id: number, flag: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(10 + payload.length);
  out.writeUInt32BE(payload.length + 6, 0);
  out[4] = kind;
  out.writeUInt32BE(id, 5);
  out[9] = flag;
  out.set(payload, 10);
  return out;
}

export function parseCall(payload: Buffer): { id: number; flag: number; body: Buffer } {
  if (payload.length < 5) throw new FrameError(`call frame of ${payload.length} bytes`);
  return { id: payload.readUInt32BE(0), flag: payload[4] as number, body: payload.subarray(5) };
}

/** Reassembles frames from a connection's chunks. */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private need = 4;

  /** Feeds one chunk; calls `onFrame` for each complete frame (payload shares the chunk's memory). */
  push(chunk: Buffer, onFrame: (kind: number, payload: Buffer) => void): void {
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.need = 4;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (len < 1 || len > MAX_FRAME_BYTES) throw new FrameError(`frame of ${len} bytes`);
      if (buf.length - pos - 4 < len) {
        this.need = 4 + len;
        break;
      }
      onFrame(buf[pos + 4] as number, buf.subarray(pos + 5, pos + 4 + len));
      pos += 4 + len;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }
}
