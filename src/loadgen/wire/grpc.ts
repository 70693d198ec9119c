// gRPC's length-prefixed message framing and status codes, kept apart from sockets so they are
// unit-tested directly.

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export type WireCode = number | 'TIMEOUT' | 'UNAVAILABLE' | 'CLOSED';

export class WireError extends Error {
  override name = 'WireError';
  /** false when the request is known never to have left this process (no connection) */
  sent = true;
  constructor(
    readonly code: WireCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a message that would not decode ends its call or stream with: the deframer's own error, or INTERNAL. */
export function undecodable(err: unknown): WireError {
  return err instanceof WireError
    ? err
    : new WireError(Status.INTERNAL, `undecodable message: ${(err as Error).message}`);
}

/** 5-byte gRPC header (uncompressed) + message */
export function frame(msg: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + msg.length);
  b[0] = 0;
  b.writeUInt32BE(msg.length, 1);
  b.set(msg, 5);
  return b;
}

/**
 * Largest message the client accepts by default. etcd caps requests at 1.5 MiB and a watch response
 * batches at most ~1000 revisions; a larger length prefix means the stream is garbled (e.g. by an
 * injected corrupt fault), and waiting for that many bytes would stall the stream silently.
 */
export const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024;

/**
 * Cuts a byte stream into gRPC messages. Whole messages inside one chunk are handed out as views
 * (no copy); only a message split over chunks is assembled.
 */
export class Deframer {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** size (header included) of the message being assembled, 0 while its header is incomplete */
  private need = 0;

  constructor(
    private readonly onMessage: (msg: Uint8Array) => void,
    private readonly maxMessage = DEFAULT_MAX_MESSAGE,
  ) {}

  private lengthAt(b: Buffer, pos: number): number {
    if (b[pos] !== 0)
      throw new WireError(
        Status.INTERNAL,
        `gRPC protocol error: compression flag ${b[pos]} (garbled stream or compressed message)`,
      );
    const len = b.readUInt32BE(pos + 1);
    if (len > this.maxMessage)
      throw new WireError(
        Status.INTERNAL,
        `gRPC protocol error: message length ${len} above the maximum ${this.maxMessage} (garbled stream)`,
      );
    return len;
  }

  push(chunk: Buffer): void {
    if (this.pendingLen > 0) {
      this.pending.push(chunk);
      this.pendingLen += chunk.length;
      if (this.need === 0) {
        if (this.pendingLen < 5) return;
        const joined = Buffer.concat(this.pending, this.pendingLen);
        this.pending = [joined];
        this.need = 5 + this.lengthAt(joined, 0);
      }
      if (this.pendingLen < this.need) return;
      chunk = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
      this.need = 0;
    }
    let pos = 0;
    while (chunk.length - pos >= 5) {
      const len = this.lengthAt(chunk, pos);
      if (chunk.length - pos - 5 < len) break;
      // a plain view: cheaper than Buffer#subarray, once per watch event
      this.onMessage(new Uint8Array(chunk.buffer, chunk.byteOffset + pos + 5, len));
      pos += 5 + len;
    }
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos);
      this.pending = [rest];
      this.pendingLen = rest.length;
      this.need = rest.length >= 5 ? 5 + this.lengthAt(rest, 0) : 0;
    }
  }

  /** bytes of an incomplete message still held */
  get buffered(): number {
    return this.pendingLen;
  }
}

/** grpc-message is percent-encoded */
export function decodeGrpcMessage(m: string | string[] | undefined): string {
  if (m === undefined) return '';
  const s = Array.isArray(m) ? m[0] : m;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** grpc-timeout header value for a deadline in ms */
export function grpcTimeout(ms: number): string {
  return `${Math.max(1, Math.ceil(ms))}m`;
}
