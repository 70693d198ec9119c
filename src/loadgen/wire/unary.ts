// One unary gRPC call on an HTTP/2 stream: the call object is the stream's handler, so a put costs one
// object and one promise, no listeners.
import { Deframer, Status, WireError, decodeGrpcMessage, undecodable } from './grpc.js';
import { CANCEL, type H2Stream, type StreamHandler } from './h2/connection.js';
import { fieldOf } from './h2/hpack.js';
import { decodeRangeResponse } from './proto.js';

export type GrpcStatus = { code: number; message: string };

/** Status from trailers (or trailers-only headers); undefined when absent. */
export function statusOf(fields: readonly string[]): GrpcStatus | undefined {
  const s = fieldOf(fields, 'grpc-status');
  if (s === undefined) return undefined;
  return { code: Number(s), message: decodeGrpcMessage(fieldOf(fields, 'grpc-message')) };
}

/**
 * The error for a stream that ended without a status, or with a non-OK one (a handler's onClose
 * arguments); `sent` false marks a request the server never saw.
 */
export function endError(
  path: string,
  status: GrpcStatus | undefined,
  code: number,
  err: Error | undefined,
  sent: boolean,
): WireError {
  const e =
    status && status.code !== 0
      ? new WireError(status.code, status.message || `grpc status ${status.code}`)
      : code === -1 && err
        ? new WireError('UNAVAILABLE', `${path}: ${err.message}`)
        : new WireError('UNAVAILABLE', `${path}: stream closed (rst code ${code}) without a status`);
  if (!sent) e.sent = false;
  return e;
}

/** a reply the caller keeps: its own copy, not a view of the connection's read buffer */
export const copyReply = (m: Uint8Array): Buffer => Buffer.from(m);
export const decodeRangeCopy = (m: Uint8Array) => decodeRangeResponse(copyReply(m));

/** The state of one unary call; it is its stream's handler. */
export class UnaryCall<T> implements StreamHandler {
  status: GrpcStatus | undefined;
  reply: Uint8Array | undefined;
  /** only for an answer split over frames */
  deframer: Deframer | undefined;
  done = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  stream: H2Stream | undefined;
  /** called once when the call ends (e.g. to drop an abort listener) */
  onDone: (() => void) | undefined;

  constructor(
    readonly path: string,
    readonly maxMessage: number,
    readonly decode: (reply: Uint8Array) => T,
    readonly resolve: (v: T) => void,
    readonly reject: (err: Error) => void,
  ) {}

  start(stream: H2Stream, timeoutMs: number): void {
    this.stream = stream;
    this.timer = setTimeout(onUnaryTimeout, timeoutMs, this as UnaryCall<unknown>, timeoutMs);
  }

  /** Ends the call with `err` and resets its stream (a timeout, an abort, a garbled answer). */
  cancel(err: WireError): void {
    this.finish(err);
    this.stream?.reset(CANCEL);
  }

  onHeaders(fields: string[]): void {
    this.status = statusOf(fields) ?? this.status;
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    // the usual answer: one whole message in one frame
    if (
      !this.deframer &&
      chunk.length >= 5 &&
      chunk[0] === 0 &&
      chunk.readUInt32BE(1) === chunk.length - 5 &&
      chunk.length - 5 <= this.maxMessage
    ) {
      // the frame is a view of the read buffer: the decoders copy what they keep
      this.reply = chunk.subarray(5);
      return;
    }
    // a message over several frames (socket reads are fresh buffers: the views stay valid)
    this.deframer ??= new Deframer((m) => (this.reply = m), this.maxMessage);
    try {
      this.deframer.push(chunk);
    } catch (err) {
      this.cancel(undecodable(err));
    }
  }

  onClose(code: number, err: Error | undefined, sent: boolean): void {
    if (this.done) return;
    const { status, path } = this;
    if (code !== 0 || (status && status.code !== 0) || !status) this.finish(endError(path, status, code, err, sent));
    else if (!this.reply) this.finish(new WireError(Status.INTERNAL, `${path}: no response message`));
    else this.finish(undefined);
  }

  finish(err: WireError | undefined): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.onDone?.();
    if (err) {
      this.reject(err);
      return;
    }
    let v: T;
    try {
      v = this.decode(this.reply!);
    } catch (e) {
      this.reject(e as Error);
      return;
    }
    this.resolve(v);
  }
}

function onUnaryTimeout(call: UnaryCall<unknown>, timeoutMs: number): void {
  const err = new WireError('TIMEOUT', `${call.path} timed out after ${timeoutMs} ms`);
  // still waiting for the handshake: the request never left
  if (call.stream && call.stream.id === 0) err.sent = false;
  call.cancel(err);
}
