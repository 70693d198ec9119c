// A lean etcd client for the load hot path: gRPC over its own small HTTP/2 connection (h2c, h2/),
// hand-written protobuf, no retries, no policies. One client = one connection; a broken connection fails
// its calls and streams at once and the next call dials again.
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../../util/log.js';
import { DEFAULT_MAX_MESSAGE, Status, WireError, frame, grpcTimeout } from './grpc.js';
import { H2Connection, type H2Stream, type StreamHandler } from './h2/connection.js';
import { encodeRequestHeaders } from './h2/hpack.js';
import { UnaryCall, copyReply, decodeRangeCopy } from './unary.js';
import {
  decodeHashKVResponse,
  decodePutResponse,
  encodeHashKV,
  encodePutFramed,
  encodeRange,
  encodeTxnPuts,
  encodeWatchCancel,
  encodeWatchCreate,
  encodeWatchProgress,
  type Kv,
  type WatchCreate,
  type WatchEvent,
} from './proto.js';
import { GrpcReader, GrpcStream } from './stream.js';
import { decodeWatchResponse } from './watch-proto.js';

export { Status, WireError } from './grpc.js';
export { GrpcStream } from './stream.js';
export type { Kv, WatchEvent } from './proto.js';

export interface WireClientOptions {
  logger?: Logger;
  /** until the server's HTTP/2 SETTINGS arrive */
  connectTimeoutMs?: number;
  /** largest gRPC message accepted; a larger length prefix is a protocol error (a garbled stream) */
  maxMessageBytes?: number;
}

export class EtcdWireClient {
  private conn: H2Connection | undefined;
  private readonly logger: Logger;
  private readonly connectTimeoutMs: number;
  private readonly maxMessage: number;
  private readonly host: string;
  private readonly port: number;
  private closed = false;

  constructor(
    readonly endpoint: string,
    opts: WireClientOptions = {},
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.maxMessage = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    const i = endpoint.lastIndexOf(':');
    this.host = endpoint.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
    this.port = Number(endpoint.slice(i + 1));
  }

  get connected(): boolean {
    return !!this.conn && this.conn.handshaken && !this.conn.draining;
  }

  /** The live connection, dialling when there is none (or the current one takes no new streams). */
  private connection(): H2Connection {
    if (this.closed) throw new WireError('CLOSED', 'client closed');
    const c = this.conn;
    if (c && !c.draining) return c;
    const conn = new H2Connection({
      host: this.host,
      port: this.port,
      connectTimeoutMs: this.connectTimeoutMs,
      onError: (err) => this.logger.debug({ endpoint: this.endpoint, err: err.message }, 'http2 connection error'),
    });
    conn.onClose(() => {
      if (this.conn === conn) this.conn = undefined;
    });
    this.conn = conn;
    return conn;
  }

  /** request header blocks per path and deadline: encoded once, sent as they are */
  private readonly headers = new Map<string, Map<number | undefined, Buffer>>();

  private headerBlock(path: string, timeoutMs?: number): Buffer {
    let byTimeout = this.headers.get(path);
    if (!byTimeout) this.headers.set(path, (byTimeout = new Map()));
    let block = byTimeout.get(timeoutMs);
    if (!block) {
      const fields: [string, string][] = [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', path],
        [':authority', this.endpoint],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
      ];
      if (timeoutMs !== undefined) fields.push(['grpc-timeout', grpcTimeout(timeoutMs)]);
      block = encodeRequestHeaders(fields);
      // a handful of paths and deadlines in practice; never an unbounded cache
      if (byTimeout.size < 16) byTimeout.set(timeoutMs, block);
    }
    return block;
  }

  /** Opens an HTTP/2 stream for `handler` (throws WireError when the client is closed). */
  private open(path: string, handler: StreamHandler, last?: Buffer, timeoutMs?: number): H2Stream {
    return this.connection().request(this.headerBlock(path, timeoutMs), handler, last);
  }

  /**
   * One unary call; rejects with WireError on status != 0, reset, connection loss or timeout, and with
   * the decoder's error when the answer does not decode. An aborted `signal` cancels it (Status.CANCELLED).
   */
  private unary<T>(
    path: string,
    framed: Buffer,
    timeoutMs: number,
    decode: (reply: Uint8Array) => T,
    signal?: AbortSignal,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        const err = new WireError(Status.CANCELLED, `${path} aborted before it was sent`);
        err.sent = false;
        reject(err);
        return;
      }
      const call = new UnaryCall(path, this.maxMessage, decode, resolve, reject);
      let stream: H2Stream;
      try {
        stream = this.open(path, call, framed, timeoutMs);
      } catch (err) {
        const e = err instanceof WireError ? err : new WireError('UNAVAILABLE', (err as Error).message);
        e.sent = false;
        reject(e);
        return;
      }
      call.start(stream, timeoutMs);
      if (signal) {
        // an aborted call is cancelled at etcd too (RST_STREAM CANCEL ends the server's context)
        const onAbort = () => call.cancel(new WireError(Status.CANCELLED, `${path} aborted`));
        signal.addEventListener('abort', onAbort, { once: true });
        call.onDone = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /** Put; never retried. */
  put(key: Uint8Array | string, value: Uint8Array, opts: { timeoutMs: number }): Promise<{ revision: number }> {
    return this.unary('/etcdserverpb.KV/Put', encodePutFramed(key, value), opts.timeoutMs, decodePutResponse);
  }

  /**
   * A Txn of plain puts (no compares): every key written at one revision. Never retried. The response
   * header's revision is the revision of the writes (a Txn with writes is one revision).
   */
  txnPuts(
    keys: readonly (Uint8Array | string)[],
    values: readonly Uint8Array[],
    opts: { timeoutMs: number },
  ): Promise<{ revision: number }> {
    const body = encodeTxnPuts(keys, values);
    // TxnResponse { header = 1 }: the same header decoder as a PutResponse
    return this.unary('/etcdserverpb.KV/Txn', frame(body), opts.timeoutMs, decodePutResponse);
  }

  /** The hash of the MVCC key space up to `revision` (0: the current one) on this member. */
  hashKV(
    revision: number,
    opts: { timeoutMs?: number } = {},
  ): Promise<{ revision: number; hash: number; compactRevision: number }> {
    const body = encodeHashKV(revision);
    return this.unary('/etcdserverpb.Maintenance/HashKV', frame(body), opts.timeoutMs ?? 10_000, decodeHashKVResponse);
  }

  range(
    key: Uint8Array | string,
    opts: { rangeEnd?: Uint8Array; timeoutMs?: number; revision?: number; limit?: number } = {},
  ): Promise<{ revision: number; kvs: Kv[]; count: number }> {
    const body = encodeRange(key, opts);
    return this.unary('/etcdserverpb.KV/Range', frame(body), opts.timeoutMs ?? 5000, decodeRangeCopy);
  }

  watchStream(): WatchStream {
    return new WatchStream((handler) => this.open('/etcdserverpb.Watch/Watch', handler), this.maxMessage);
  }

  /**
   * One unary call of any etcd method with an encoded request (wire/kv.ts encodes Range, Txn and
   * DeleteRange with it); never retried. Rejects like put(): WireError, `sent === false` when it never left.
   * An aborted `signal` cancels the call's HTTP/2 stream and rejects with WireError(Status.CANCELLED).
   */
  call(path: string, body: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    return this.unary(path, frame(body), timeoutMs, copyReply, signal);
  }

  /**
   * Opens a gRPC stream (bidi or server-streaming) of any etcd method, no deadline. `onMessage` gets each
   * response message (a view into the received frame: copy what is kept past the callback's data);
   * `onEnd` is called once when the stream ends by itself: undefined on status OK, else the WireError
   * (reset, connection loss, a garbled frame, a non-OK status). cancel() ends it without calling `onEnd`.
   * Throws WireError('CLOSED') when the client is closed.
   */
  stream(path: string, onMessage: (m: Buffer) => void, onEnd: (err: WireError | undefined) => void): GrpcStream {
    const s = new GrpcStream(path, this.maxMessage, onMessage, onEnd);
    s.attach(this.open(path, s.reader));
    return s;
  }

  /** Drops the current connection (its calls and streams fail); the next call dials a fresh one. */
  resetSession(): void {
    const c = this.conn;
    this.conn = undefined;
    c?.destroy(new Error('connection reset by the client'));
  }

  close(): void {
    this.closed = true;
    const c = this.conn;
    this.conn = undefined;
    c?.destroy(new Error('client closed'));
  }
}

/**
 * One bidi Watch stream. Watches use client-chosen ids (etcd >= 3.4), so creates are pipelined.
 * Events: 'created'(watchId, revision) as its response is read, before any later response is handled
 * (a catch-up batch often arrives in the same read, before the promise of watch() is seen to resolve),
 * 'events'(watchId, events, headerRevision), 'progress'(watchId, revision),
 * 'canceled'(watchId, reason, compactRevision), 'error'(WireError) when the stream breaks (every watch on
 * it is gone), 'close'.
 */
export class WatchStream extends EventEmitter {
  private stream: H2Stream | undefined;
  private readonly pendingCreates = new Map<number, { resolve: (id: number) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private broken = false;

  /** when the last message of any kind arrived (monotonic ms); 0 before the first */
  lastMessageAt = 0;

  constructor(
    private readonly opener: (handler: StreamHandler) => H2Stream,
    private readonly maxMessage = DEFAULT_MAX_MESSAGE,
  ) {
    super();
  }

  private ensure(): H2Stream {
    if (this.broken) throw new WireError('CLOSED', 'watch stream is closed');
    if (this.stream) return this.stream;
    const reader = new GrpcReader(
      '/etcdserverpb.Watch/Watch',
      this.maxMessage,
      (m) => this.onMessage(m),
      (err) => this.fail(err),
      (err) => this.fail(err ?? new WireError('UNAVAILABLE', 'watch stream ended by the server')),
    );
    const stream = this.opener(reader);
    this.stream = stream;
    return stream;
  }

  private onMessage(m: Uint8Array): void {
    // one clock read per socket read, not per message: a read carries many watchers' responses
    this.lastMessageAt = this.stream!.conn.readAt;
    const r = decodeWatchResponse(m);
    if (r.created) {
      const p = this.pendingCreates.get(r.watchId);
      if (p) {
        this.pendingCreates.delete(r.watchId);
        if (r.canceled) p.reject(new WireError(Status.FAILED_PRECONDITION, r.cancelReason || 'watch create refused'));
        else {
          this.emit('created', r.watchId, r.revision);
          p.resolve(r.watchId);
        }
      }
      if (r.events.length === 0) return;
    }
    if (r.canceled) {
      this.emit('canceled', r.watchId, r.cancelReason, r.compactRevision);
      return;
    }
    if (r.events.length) this.emit('events', r.watchId, r.events, r.revision);
    else this.emit('progress', r.watchId, r.revision);
  }

  private fail(err: WireError): void {
    if (this.broken) return;
    this.broken = true;
    for (const p of this.pendingCreates.values()) p.reject(err);
    this.pendingCreates.clear();
    this.stream?.reset();
    // an 'error' nobody listens to would throw out of a socket callback and end the process
    if (this.listenerCount('error')) this.emit('error', err);
    this.emit('close');
  }

  /** Creates a watch; resolves with its id once etcd confirms it. */
  watch(req: Omit<WatchCreate, 'watchId'> & { watchId?: number }): Promise<number> {
    let stream: H2Stream;
    try {
      stream = this.ensure();
    } catch (err) {
      return Promise.reject(err);
    }
    const watchId = req.watchId ?? this.nextId++;
    return new Promise((resolve, reject) => {
      this.pendingCreates.set(watchId, { resolve, reject });
      stream.write(frame(encodeWatchCreate({ ...req, watchId })));
    });
  }

  cancel(watchId: number): void {
    if (!this.broken && this.stream) this.stream.write(frame(encodeWatchCancel(watchId)));
  }

  requestProgress(): void {
    if (!this.broken && this.stream) this.stream.write(frame(encodeWatchProgress()));
  }

  get closed(): boolean {
    return this.broken;
  }

  close(): void {
    if (this.broken) return;
    this.broken = true;
    for (const p of this.pendingCreates.values()) p.reject(new WireError('CLOSED', 'watch stream closed'));
    this.pendingCreates.clear();
    this.stream?.reset();
    this.emit('close');
  }
}

export type { WatchCreate };
export type WatchEventsListener = (watchId: number, events: WatchEvent[], revision: number) => void;
