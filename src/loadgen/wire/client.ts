// A lean etcd client for the load hot path: gRPC over Node's http2 (h2c), hand-written protobuf, no
// retries, no policies. One client = one HTTP/2 session; a broken session fails its calls and streams
// at once and the next call dials again.
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { installCheapAsyncBind } from '../../util/async-bind.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { DEFAULT_MAX_MESSAGE, Status, WireError, frame, grpcTimeout } from './grpc.js';
import { UnaryCall, copyReply, decodeRangeCopy, handshaken, startUnary } from './unary.js';
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
import { GrpcStream, cancelLater, readGrpc } from './stream.js';
import { decodeWatchResponse } from './watch-proto.js';

export { Status, WireError } from './grpc.js';
export { GrpcStream } from './stream.js';
export type { Kv, WatchEvent } from './proto.js';

export interface WireClientOptions {
  logger?: Logger;
  connectTimeoutMs?: number;
  /** largest gRPC message accepted; a larger length prefix is a protocol error (a garbled stream) */
  maxMessageBytes?: number;
}

const { HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_TE } = http2.constants;

export class EtcdWireClient {
  private session: http2.ClientHttp2Session | undefined;
  private readonly logger: Logger;
  private readonly connectTimeoutMs: number;
  private readonly maxMessage: number;
  private closed = false;

  constructor(
    readonly endpoint: string,
    opts: WireClientOptions = {},
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.maxMessage = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    // http2 binds a function per request: Node 20's bind made that a fifth of the CPU of a put
    installCheapAsyncBind();
  }

  get connected(): boolean {
    return !!this.session && !this.session.destroyed && !this.session.closed && !this.session.connecting;
  }

  /** The live session, dialling when there is none. */
  private getSession(): http2.ClientHttp2Session {
    if (this.closed) throw new WireError('CLOSED', 'client closed');
    const s = this.session;
    if (s && !s.destroyed && !s.closed) return s;
    const session = http2.connect(`http://${this.endpoint}`, {
      settings: { enablePush: false, initialWindowSize: 1 << 24 },
    });
    session.setMaxListeners(0);
    this.session = session;
    const timer = setTimeout(() => {
      if (session.connecting)
        session.destroy(new WireError(Status.UNAVAILABLE, `connect to ${this.endpoint} timed out`));
    }, this.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      handshaken.add(session);
      // a large connection window: watch fan-out sends many events. The session may already be gone
      // (destroyed between the handshake and this callback): that must not throw out of the handler.
      if (session.destroyed || session.closed) return;
      try {
        session.setLocalWindowSize(1 << 26);
      } catch (err) {
        this.logger.debug({ endpoint: this.endpoint, err: (err as Error).message }, 'could not widen the http2 window');
      }
    });
    session.on('error', (err) =>
      this.logger.debug({ endpoint: this.endpoint, err: err.message }, 'http2 session error'),
    );
    session.once('close', () => {
      clearTimeout(timer);
      if (this.session === session) this.session = undefined;
    });
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    return session;
  }

  /** request headers per path and deadline: http2 copies them, so one object serves every call */
  private readonly headers = new Map<string, Map<number | undefined, http2.OutgoingHttpHeaders>>();

  private open(path: string, timeoutMs?: number): http2.ClientHttp2Stream {
    let byTimeout = this.headers.get(path);
    if (!byTimeout) this.headers.set(path, (byTimeout = new Map()));
    let headers = byTimeout.get(timeoutMs);
    if (!headers) {
      headers = {
        [HTTP2_HEADER_METHOD]: 'POST',
        [HTTP2_HEADER_PATH]: path,
        [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [HTTP2_HEADER_TE]: 'trailers',
      };
      if (timeoutMs !== undefined) headers['grpc-timeout'] = grpcTimeout(timeoutMs);
      // a handful of paths and deadlines in practice; never an unbounded cache
      if (byTimeout.size < 16) byTimeout.set(timeoutMs, headers);
    }
    return this.getSession().request(headers);
  }

  /**
   * One unary call; rejects with WireError on status != 0, reset, session loss or timeout, and with the
   * decoder's error when the answer does not decode. An aborted `signal` cancels it (Status.CANCELLED).
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
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.open(path, timeoutMs);
      } catch (err) {
        reject(err instanceof WireError ? err : new WireError('UNAVAILABLE', (err as Error).message));
        return;
      }
      const call = new UnaryCall(path, this.maxMessage, decode, resolve, reject);
      startUnary(stream, call, timeoutMs);
      if (signal) {
        // an aborted call is cancelled at etcd too (RST_STREAM CANCEL ends the server's context); the reset
        // waits a turn: an abort can come from inside another stream's callback (see stream.ts cancelLater)
        const onAbort = () => {
          call.finish(new WireError(Status.CANCELLED, `${path} aborted`));
          cancelLater(stream);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        call.onDone = () => signal.removeEventListener('abort', onAbort);
      }
      stream.end(framed);
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
    return new WatchStream(() => this.open('/etcdserverpb.Watch/Watch'), this.maxMessage);
  }

  /**
   * One unary call of any etcd method with an encoded request (wire/kv.ts encodes Range, Txn and
   * DeleteRange with it); never retried. Rejects like put(): WireError, `sent === false` when it never left.
   * An aborted `signal` cancels the call's http2 stream and rejects with WireError(Status.CANCELLED).
   */
  call(path: string, body: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    return this.unary(path, frame(body), timeoutMs, copyReply, signal);
  }

  /**
   * Opens a gRPC stream (bidi or server-streaming) of any etcd method, no deadline. `onMessage` gets each
   * response message (a view into the received frame: copy what is kept past the callback's data);
   * `onEnd` is called once when the stream ends by itself: undefined on status OK, else the WireError
   * (reset, session loss, a garbled frame, a non-OK status). cancel() ends it without calling `onEnd`.
   * Throws WireError('CLOSED') when the client is closed.
   */
  stream(path: string, onMessage: (m: Buffer) => void, onEnd: (err: WireError | undefined) => void): GrpcStream {
    return new GrpcStream(this.open(path), path, this.maxMessage, onMessage, onEnd);
  }

  /** Drops the current connection (its calls and streams fail); the next call dials a fresh one. */
  resetSession(): void {
    const s = this.session;
    this.session = undefined;
    s?.destroy();
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }
}

/**
 * One bidi Watch stream. Watches use client-chosen ids (etcd >= 3.4), so creates are pipelined.
 * Events: 'events'(watchId, events, headerRevision), 'progress'(watchId, revision),
 * 'canceled'(watchId, reason, compactRevision), 'error'(WireError) when the stream breaks (every watch on
 * it is gone), 'close'.
 */
export class WatchStream extends EventEmitter {
  private stream: http2.ClientHttp2Stream | undefined;
  private readonly pendingCreates = new Map<number, { resolve: (id: number) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private broken = false;

  /** when the last message of any kind arrived (monotonic ms); 0 before the first */
  lastMessageAt = 0;
  /** when the chunk being read arrived */
  private chunkAt = 0;

  constructor(
    private readonly opener: () => http2.ClientHttp2Stream,
    private readonly maxMessage = DEFAULT_MAX_MESSAGE,
  ) {
    super();
  }

  private ensure(): http2.ClientHttp2Stream {
    if (this.broken) throw new WireError('CLOSED', 'watch stream is closed');
    if (this.stream) return this.stream;
    const stream = this.opener();
    this.stream = stream;
    // one clock read per chunk, not per message: a chunk carries many watchers' responses
    stream.on('data', () => (this.chunkAt = performance.now()));
    const statusNow = readGrpc(
      stream,
      this.maxMessage,
      (m) => this.onMessage(m),
      (err) => this.fail(err),
    );
    stream.on('error', (err) => this.fail(new WireError('UNAVAILABLE', `watch stream: ${err.message}`)));
    stream.on('close', () => {
      const status = statusNow();
      const why =
        status && status.code !== 0
          ? new WireError(status.code, status.message)
          : new WireError('UNAVAILABLE', `watch stream closed (rst code ${stream.rstCode})`);
      this.fail(why);
    });
    return stream;
  }

  private onMessage(m: Uint8Array): void {
    this.lastMessageAt = this.chunkAt;
    const r = decodeWatchResponse(m);
    if (r.created) {
      const p = this.pendingCreates.get(r.watchId);
      if (p) {
        this.pendingCreates.delete(r.watchId);
        if (r.canceled) p.reject(new WireError(Status.FAILED_PRECONDITION, r.cancelReason || 'watch create refused'));
        else p.resolve(r.watchId);
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
    this.stream?.close(http2.constants.NGHTTP2_CANCEL);
    // an 'error' nobody listens to would throw out of a socket callback and end the process
    if (this.listenerCount('error')) this.emit('error', err);
    this.emit('close');
  }

  /** Creates a watch; resolves with its id once etcd confirms it. */
  watch(req: Omit<WatchCreate, 'watchId'> & { watchId?: number }): Promise<number> {
    let stream: http2.ClientHttp2Stream;
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
    this.stream?.close(http2.constants.NGHTTP2_CANCEL);
    this.emit('close');
  }
}

export type { WatchCreate };
export type WatchEventsListener = (watchId: number, events: WatchEvent[], revision: number) => void;
