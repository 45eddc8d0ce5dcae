// gRPC's length-prefixed messages inside an HTTP/2 stream's DATA: a 1-byte compressed flag, a
// 4-byte big-endian length, then the protobuf bytes. Messages may be split across, or packed
// into, DATA chunks in any way, so the reader reassembles them. A message longer than the
// server's limit is refused from its header, before its bytes are buffered (etcd's limit is
// --max-request-bytes plus 512 KiB).

const HEADER_BYTES = 5;
const EMPTY = Buffer.alloc(0);

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
  /** The prefix of a message split across chunks, while fewer than 5 of its bytes have come. */
  private readonly head = Buffer.alloc(HEADER_BYTES);
  private headLen = 0;
  /** Where the split message's bytes are joined, and how many have come. */
  private body: Buffer = EMPTY;
  private bodyLen = 0;
  private msgLen = 0;
  /** The buffer joined messages reuse (transient messages only), grown to the largest so far. */
  private scratch: Buffer = EMPTY;

  /**
   * @param chunksStay true when a chunk's memory stays as it is after push() returns: messages
   *   are then views of the chunks (or, split across chunks, a buffer of their own) that the
   *   caller may keep. false when the caller reuses chunk memory (a reused read buffer): every
   *   message is then valid only during its onMessage call, and a split one is joined in one
   *   buffer that the reader reuses, so reading allocates nothing per message.
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly chunksStay = true,
  ) {}

  /**
   * Feeds one DATA chunk; calls `onMessage` for each message it completes, in order. Throws a
   * FrameError for a message over the limit or a compressed one (none is ever negotiated).
   */
  push(chunk: Buffer, onMessage: (msg: Buffer) => void): void {
    let pos = this.headLen > 0 ? this.join(chunk, 0, onMessage) : 0;
    if (this.headLen > 0) return; // all of the chunk went to the split message
    while (chunk.length - pos >= HEADER_BYTES) {
      const len = this.length(chunk, pos);
      if (chunk.length - pos - HEADER_BYTES < len) break;
      onMessage(chunk.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len));
      pos += HEADER_BYTES + len;
    }
    if (pos < chunk.length) this.join(chunk, pos, onMessage);
  }

  /** Bytes of an incomplete message still waiting for the rest. */
  get buffered(): number {
    return this.headLen + this.bodyLen;
  }

  /** The length from a message prefix at `at`, checked. */
  private length(buf: Buffer, at: number): number {
    if (buf[at] !== 0) throw new FrameError('compressed', 'grpc: compressed messages are not supported');
    const len = buf.readUInt32BE(at + 1);
    if (len > this.maxMessageBytes) {
      throw new FrameError('too-large', `grpc: received message larger than max (${len} vs. ${this.maxMessageBytes})`);
    }
    return len;
  }

  /** Copies what the split message still needs from chunk[pos..]; delivers it once whole. Returns the new position. */
  private join(chunk: Buffer, pos: number, onMessage: (msg: Buffer) => void): number {
    if (this.headLen < HEADER_BYTES) {
      const n = Math.min(HEADER_BYTES - this.headLen, chunk.length - pos);
      chunk.copy(this.head, this.headLen, pos, pos + n);
      this.headLen += n;
      pos += n;
      if (this.headLen < HEADER_BYTES) return pos;
      this.msgLen = this.length(this.head, 0);
      this.bodyLen = 0;
      this.body = this.chunksStay ? EMPTY : this.scratch;
    }
    const n = Math.min(this.msgLen - this.bodyLen, chunk.length - pos);
    if (this.body.length < this.bodyLen + n) this.grow(this.bodyLen + n);
    chunk.copy(this.body, this.bodyLen, pos, pos + n);
    this.bodyLen += n;
    pos += n;
    if (this.bodyLen === this.msgLen) {
      const msg = this.body.subarray(0, this.msgLen);
      this.headLen = 0;
      this.bodyLen = 0;
      this.body = EMPTY;
      onMessage(msg);
    }
    return pos;
  }

  /**
   * Room for `need` bytes of the split message, grown as they arrive rather than sized from its
   * prefix: a prefix that announces a big message costs nothing until the bytes come.
   */
  private grow(need: number): void {
    const bigger = Buffer.allocUnsafe(Math.min(this.msgLen, Math.max(need, 2 * this.body.length, 4096)));
    this.body.copy(bigger, 0, 0, this.bodyLen);
    this.body = bigger;
    if (!this.chunksStay) this.scratch = bigger;
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
