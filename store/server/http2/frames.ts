// HTTP/2 frames (RFC 9113 §4, §6): the constants, and writers for the frames a server sends.
// Every frame is a 9-byte header (24-bit length, type, flags, 31-bit stream id) and a payload.

export const FRAME_HEADER = 9;
export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The largest frame payload a peer may send before it has seen our settings. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const DEFAULT_WINDOW = 65535;
export const MAX_WINDOW = 2 ** 31 - 1;

export const enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

export const enum Flag {
  END_STREAM = 0x1,
  ACK = 0x1,
  END_HEADERS = 0x4,
  PADDED = 0x8,
  PRIORITY = 0x20,
}

export const enum Setting {
  HEADER_TABLE_SIZE = 0x1,
  ENABLE_PUSH = 0x2,
  MAX_CONCURRENT_STREAMS = 0x3,
  INITIAL_WINDOW_SIZE = 0x4,
  MAX_FRAME_SIZE = 0x5,
  MAX_HEADER_LIST_SIZE = 0x6,
}

/** RFC 9113 §7. */
export const enum H2Error {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  INTERNAL_ERROR = 0x2,
  FLOW_CONTROL_ERROR = 0x3,
  SETTINGS_TIMEOUT = 0x4,
  STREAM_CLOSED = 0x5,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
  CONNECT_ERROR = 0xa,
  ENHANCE_YOUR_CALM = 0xb,
  INADEQUATE_SECURITY = 0xc,
  HTTP_1_1_REQUIRED = 0xd,
}

/** An error of the whole connection: answered with GOAWAY and the connection closed. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
  constructor(
    readonly code: H2Error,
    message: string,
  ) {
    super(message);
  }
}

/** The payload length in the frame header at `at` (its first 24 bits). */
export function frameLength(buf: Uint8Array, at: number): number {
  return ((buf[at] as number) << 16) | ((buf[at + 1] as number) << 8) | (buf[at + 2] as number);
}

/** Writes a frame header at `at` of `buf`. */
export function writeFrameHeader(buf: Buffer, at: number, length: number, type: FrameType, flags: number, stream: number): void {
  buf[at] = (length >>> 16) & 0xff;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf.writeUInt32BE(stream & 0x7fffffff, at + 5);
}

/** A frame with `payload` (copied). */
export function frame(type: FrameType, flags: number, stream: number, payload?: Uint8Array): Buffer {
  const len = payload?.length ?? 0;
  const buf = Buffer.allocUnsafe(FRAME_HEADER + len);
  writeFrameHeader(buf, 0, len, type, flags, stream);
  if (payload) buf.set(payload, FRAME_HEADER);
  return buf;
}

export function settingsFrame(settings: readonly (readonly [Setting, number])[]): Buffer {
  const p = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, v], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(v, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

/** A frame whose payload is one 32-bit number. */
function u32Frame(type: FrameType, stream: number, v: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(buf, 0, 4, type, 0, stream);
  buf.writeUInt32BE(v, FRAME_HEADER);
  return buf;
}

export const windowUpdateFrame = (stream: number, increment: number): Buffer => u32Frame(FrameType.WINDOW_UPDATE, stream, increment);

export const rstStreamFrame = (stream: number, code: H2Error): Buffer => u32Frame(FrameType.RST_STREAM, stream, code);

export function goawayFrame(lastStream: number, code: H2Error, debug = ''): Buffer {
  const d = Buffer.from(debug.slice(0, 256), 'utf8');
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 8 + d.length);
  writeFrameHeader(buf, 0, 8 + d.length, FrameType.GOAWAY, 0, 0);
  buf.writeUInt32BE(lastStream & 0x7fffffff, FRAME_HEADER);
  buf.writeUInt32BE(code, FRAME_HEADER + 4);
  d.copy(buf, FRAME_HEADER + 8);
  return buf;
}
