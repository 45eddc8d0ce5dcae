// gRPC's length-prefixed messages inside an HTTP/2 stream's DATA: a 1-byte compressed flag, a
// 4-byte big-endian length, then the protobuf bytes. Messages may be split across, or packed
// into, DATA chunks in any way, so the reader reassembles them. A message longer than the
// server's limit is refused from its header, before its bytes are buffered (etcd's limit is
// --max-request-bytes plus 512 KiB).

const HEADER_BYTES = 5;

/** Why a stream's bytes cannot be read as gRPC messages. */
export class FrameError extends Error {
  override name = 'FrameError';
  constructor(
    readonly kind: 'too-large' | 'compressed',
    message: string,
  ) {
    super(message);
  }
}

/** One message with its 5-byte prefix (never compressed). */
export function frameMessage(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, HEADER_BYTES);
  return out;
}

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the next message (or its header) is complete: chunks are only joined then. */
  private need = HEADER_BYTES;

  /**
   * @param chunksStay false when the caller reuses a chunk's memory once push() returns (a
   *   reused read buffer): what the reader keeps of it is then copied.
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly chunksStay = true,
  ) {}

  private keep(chunk: Buffer): Buffer {
    return this.chunksStay ? chunk : Buffer.from(chunk);
  }

  /**
   * Feeds one DATA chunk; calls `onMessage` for each message it completes, in order. Throws a
   * FrameError for a message over the limit or a compressed one (none is ever negotiated).
   */
  push(chunk: Buffer, onMessage: (msg: Buffer) => void): void {
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      if (chunk.length < HEADER_BYTES) {
        this.pending.push(this.keep(chunk));
        this.pendingBytes = chunk.length;
        return;
      }
      buf = chunk;
    } else {
      if (this.pendingBytes + chunk.length < this.need) {
        this.pending.push(this.keep(chunk));
        this.pendingBytes += chunk.length;
        return;
      }
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.need = HEADER_BYTES;
    let pos = 0;
    while (buf.length - pos >= HEADER_BYTES) {
      if (buf[pos] !== 0) throw new FrameError('compressed', 'grpc: compressed messages are not supported');
      const len = buf.readUInt32BE(pos + 1);
      if (len > this.maxMessageBytes) {
        throw new FrameError('too-large', `grpc: received message larger than max (${len} vs. ${this.maxMessageBytes})`);
      }
      if (buf.length - pos - HEADER_BYTES < len) {
        this.need = HEADER_BYTES + len;
        break;
      }
      onMessage(buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len));
      pos += HEADER_BYTES + len;
    }
    if (pos < buf.length) {
      const rest = buf === chunk ? this.keep(buf.subarray(pos)) : buf.subarray(pos);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }

  /** Bytes of an incomplete message still waiting for the rest. */
  get buffered(): number {
    return this.pendingBytes;
  }
}

/**
 * grpc-message is percent-encoded: every byte outside printable ASCII, and '%' itself, as %XX
 * of its UTF-8 bytes (the gRPC over HTTP/2 spec).
 */
export function percentEncode(message: string): string {
  // Fast path: most messages are plain ASCII.
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out += b < 0x20 || b > 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}
