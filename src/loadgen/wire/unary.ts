// One unary gRPC call on an HTTP/2 stream: its state rides on the stream and the stream's listeners are
// shared functions, so a put opens its stream without a closure per listener.
import http2 from 'node:http2';
import { Deframer, Status, WireError, decodeGrpcMessage } from './grpc.js';
import { decodeRangeResponse } from './proto.js';

/** sessions whose HTTP/2 handshake completed: a call that failed on another one was never sent */
export const handshaken = new WeakSet<http2.Http2Session>();

export type GrpcStatus = { code: number; message: string };

/** Status from trailers (or trailers-only headers); undefined when absent. */
export function statusOf(h: http2.IncomingHttpHeaders): GrpcStatus | undefined {
  const s = h['grpc-status'];
  if (s === undefined) return undefined;
  return { code: Number(s), message: decodeGrpcMessage(h['grpc-message']) };
}

/** a reply the caller keeps: its own copy, not a view of the connection's read buffer */
export const copyReply = (m: Uint8Array): Buffer => Buffer.from(m);
export const decodeRangeCopy = (m: Uint8Array) => decodeRangeResponse(copyReply(m));

const kCall = Symbol('unary call');
type UnaryStream = http2.ClientHttp2Stream & { [kCall]: UnaryCall<unknown> };

/**
 * The state of one unary call, kept on its stream: the stream's listeners are shared functions (no
 * closures per call), as puts open a stream each at thousands per second.
 */
export class UnaryCall<T> {
  status: GrpcStatus | undefined;
  reply: Uint8Array | undefined;
  /** only for an answer split over chunks */
  deframer: Deframer | undefined;
  done = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  sentOn: http2.Http2Session | undefined;
  /** called once when the call ends (e.g. to drop an abort listener) */
  onDone: (() => void) | undefined;

  constructor(
    readonly path: string,
    readonly maxMessage: number,
    readonly decode: (reply: Uint8Array) => T,
    readonly resolve: (v: T) => void,
    readonly reject: (err: Error) => void,
  ) {}

  finish(err: WireError | undefined): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.onDone?.();
    if (err) {
      // no handshake on this connection: the request never left this process
      if (!this.sentOn || !handshaken.has(this.sentOn)) err.sent = false;
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

export function startUnary<T>(stream: http2.ClientHttp2Stream, call: UnaryCall<T>, timeoutMs: number): void {
  (stream as UnaryStream)[kCall] = call as unknown as UnaryCall<unknown>;
  call.sentOn = stream.session;
  call.timer = setTimeout(onUnaryTimeout, timeoutMs, stream as UnaryStream, timeoutMs);
  stream.on('response', onUnaryHeaders);
  stream.on('trailers', onUnaryHeaders);
  stream.on('data', onUnaryData);
  stream.on('error', onUnaryError);
  stream.on('close', onUnaryClose);
}

function onUnaryTimeout(stream: UnaryStream, timeoutMs: number): void {
  const call = stream[kCall];
  call.finish(new WireError('TIMEOUT', `${call.path} timed out after ${timeoutMs} ms`));
  stream.close(http2.constants.NGHTTP2_CANCEL);
}

function onUnaryHeaders(this: UnaryStream, h: http2.IncomingHttpHeaders): void {
  const call = this[kCall];
  call.status = statusOf(h) ?? call.status;
}

function onUnaryData(this: UnaryStream, chunk: Buffer): void {
  const call = this[kCall];
  // the usual answer: one whole message in one chunk
  if (
    !call.deframer &&
    chunk.length >= 5 &&
    chunk[0] === 0 &&
    chunk.readUInt32BE(1) === chunk.length - 5 &&
    chunk.length - 5 <= call.maxMessage
  ) {
    call.reply = chunk.subarray(5);
    return;
  }
  call.deframer ??= new Deframer((m) => (call.reply = m), call.maxMessage);
  try {
    call.deframer.push(chunk);
  } catch (err) {
    call.finish(
      err instanceof WireError ? err : new WireError(Status.INTERNAL, `undecodable message: ${(err as Error).message}`),
    );
    this.close(http2.constants.NGHTTP2_CANCEL);
  }
}

function onUnaryError(this: UnaryStream, err: Error): void {
  const call = this[kCall];
  call.finish(new WireError('UNAVAILABLE', `${call.path}: ${err.message}`));
}

function onUnaryClose(this: UnaryStream): void {
  const call = this[kCall];
  const { status, path } = call;
  if (status === undefined)
    call.finish(new WireError('UNAVAILABLE', `${path}: stream closed (rst code ${this.rstCode}) without a status`));
  else if (status.code !== 0) call.finish(new WireError(status.code, status.message || `grpc status ${status.code}`));
  else if (!call.reply) call.finish(new WireError(Status.INTERNAL, `${path}: no response message`));
  else call.finish(undefined);
}
