// gRPC streams over an http2 stream: the response reader every call and stream of client.ts shares, and
// the raw stream (bidi or server-streaming) that the lease keepalive and election observe streams use.
import http2 from 'node:http2';
import { Deframer, Status, WireError, frame } from './grpc.js';
import { statusOf, type GrpcStatus } from './unary.js';

/**
 * Resets a stream one turn of the event loop later. Resetting a stream from inside another stream's
 * callback (an await continuation run in the microtasks Node drains there) re-enters nghttp2's send from
 * its receive and spins forever on Node 20.20 (nodejs/node#64113); after this hop it cannot.
 */
export function cancelLater(h2: http2.ClientHttp2Stream): void {
  setImmediate(() => {
    if (!h2.closed && !h2.destroyed) h2.close(http2.constants.NGHTTP2_CANCEL);
  });
}

/** Feeds a gRPC stream's messages to `onMessage`, reports framing errors to `onBad`, tracks the status. */
export function readGrpc(
  stream: http2.ClientHttp2Stream,
  maxMessage: number,
  onMessage: (m: Uint8Array) => void,
  onBad: (err: WireError) => void,
): () => GrpcStatus | undefined {
  let status: GrpcStatus | undefined;
  const deframer = new Deframer(onMessage, maxMessage);
  stream.on('response', (h) => (status = statusOf(h) ?? status));
  stream.on('trailers', (h) => (status = statusOf(h) ?? status));
  stream.on('data', (chunk: Buffer) => {
    try {
      deframer.push(chunk);
    } catch (err) {
      onBad(
        err instanceof WireError
          ? err
          : new WireError(Status.INTERNAL, `undecodable message: ${(err as Error).message}`),
      );
    }
  });
  return () => status;
}

/** A raw gRPC stream opened by EtcdWireClient.stream(). */
export class GrpcStream {
  private ended = false;

  constructor(
    private readonly h2: http2.ClientHttp2Stream,
    path: string,
    maxMessage: number,
    onMessage: (m: Buffer) => void,
    private readonly onEnd: (err: WireError | undefined) => void,
  ) {
    // a Buffer view of each message, no copy (the lease and election decoders take Buffers)
    const toBuffer = (m: Uint8Array) => onMessage(Buffer.from(m.buffer, m.byteOffset, m.byteLength));
    const statusNow = readGrpc(h2, maxMessage, toBuffer, (err) => {
      this.end(err);
      cancelLater(h2);
    });
    h2.on('error', (err) => this.end(new WireError('UNAVAILABLE', `${path}: ${err.message}`)));
    h2.on('close', () => {
      const status = statusNow();
      if (status === undefined)
        this.end(new WireError('UNAVAILABLE', `${path}: stream closed (rst code ${h2.rstCode}) without a status`));
      else if (status.code !== 0) this.end(new WireError(status.code, status.message || `grpc status ${status.code}`));
      else this.end(undefined);
    });
  }

  private end(err: WireError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(err);
  }

  /** true once the stream ended or was cancelled */
  get closed(): boolean {
    return this.ended;
  }

  /** Sends one request message; ignored once the stream ended. */
  send(body: Buffer): void {
    if (!this.ended && this.h2.writable) this.h2.write(frame(body));
  }

  /** Sends the last request message and half-closes (a server-streaming call's one request). */
  sendLast(body: Buffer): void {
    if (!this.ended && this.h2.writable) this.h2.end(frame(body));
  }

  /** Cancels the stream at both ends; `onEnd` is not called. */
  cancel(): void {
    this.ended = true;
    cancelLater(this.h2);
  }
}
