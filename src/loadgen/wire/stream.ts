// gRPC streams over an HTTP/2 stream: the response reader that streams share, and the raw stream (bidi
// or server-streaming) that the lease keepalive and election observe streams use.
import { Deframer, WireError, frame, undecodable } from './grpc.js';
import type { H2Stream } from './h2/connection.js';
import { endError, statusOf, type GrpcStatus } from './unary.js';

/**
 * Reads a gRPC stream's messages: the handler part every stream shares. `onMessage` gets views of the
 * read buffer; framing errors go to `onBad`; `onEnd` hears the end once (undefined on status OK).
 */
export class GrpcReader {
  status: GrpcStatus | undefined;
  private readonly deframer: Deframer;

  constructor(
    readonly path: string,
    maxMessage: number,
    onMessage: (m: Uint8Array) => void,
    private readonly onBad: (err: WireError) => void,
    private readonly onEnd: (err: WireError | undefined) => void,
  ) {
    this.deframer = new Deframer(onMessage, maxMessage);
  }

  onHeaders(fields: string[]): void {
    this.status = statusOf(fields) ?? this.status;
  }

  onData(chunk: Buffer): void {
    try {
      // a message split over frames keeps its first part: the read buffer's part must not be reused,
      // and Node's socket reads are fresh buffers, so the view stays valid
      this.deframer.push(chunk);
    } catch (err) {
      this.onBad(undecodable(err));
    }
  }

  onClose(code: number, err: Error | undefined, sent: boolean): void {
    const status = this.status;
    if (code === 0 && status && status.code === 0) {
      this.onEnd(undefined);
      return;
    }
    this.onEnd(endError(this.path, status, code, err, sent));
  }
}

/** A raw gRPC stream opened by EtcdWireClient.stream(). */
export class GrpcStream {
  private ended = false;
  private h2: H2Stream | undefined;
  readonly reader: GrpcReader;

  constructor(
    path: string,
    maxMessage: number,
    onMessage: (m: Buffer) => void,
    private readonly onEnd: (err: WireError | undefined) => void,
  ) {
    // a Buffer view of each message, no copy (the lease and election decoders take Buffers)
    const toBuffer = (m: Uint8Array) => onMessage(Buffer.from(m.buffer, m.byteOffset, m.byteLength));
    this.reader = new GrpcReader(
      path,
      maxMessage,
      toBuffer,
      (err) => {
        this.end(err);
        this.h2?.reset();
      },
      (err) => this.end(err),
    );
  }

  /** called by the client once its HTTP/2 stream exists */
  attach(h2: H2Stream): void {
    this.h2 = h2;
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
    if (!this.ended) this.h2?.write(frame(body));
  }

  /** Sends the last request message and half-closes (a server-streaming call's one request). */
  sendLast(body: Buffer): void {
    if (!this.ended) this.h2?.end(frame(body));
  }

  /** Cancels the stream at both ends; `onEnd` is not called. */
  cancel(): void {
    this.ended = true;
    this.h2?.reset();
  }
}
