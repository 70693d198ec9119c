// A small HTTP/2 client connection (h2c with prior knowledge, RFC 7540) for gRPC: frames, both
// directions' flow control, SETTINGS, PING, GOAWAY, RST_STREAM, and HPACK. Node's http2 costs more per
// call than a whole put's protobuf and bookkeeping (a Duplex, listeners and native hops per stream);
// here a stream is a plain object whose handler the frame reader calls directly.
// One file for one state machine (the frame reader, the windows and the streams share its state); the
// codecs (HPACK, Huffman) are apart.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { HpackDecoder, HpackError } from './hpack.js';

/** What a stream's owner hears; each method is called on the connection's read path. */
export interface StreamHandler {
  /** response headers, then trailers: flat [name, value, ...]; `end` when the server ended the stream */
  onHeaders(fields: string[], end: boolean): void;
  /** a DATA frame's payload (a view of the read buffer: copy what is kept); `end` likewise */
  onData(data: Buffer, end: boolean): void;
  /**
   * Once, when the stream is over: `code` 0 after the server ended it (with trailers), an RST_STREAM
   * code when reset (by either side), -1 when the connection went; `err` says why for the last two.
   * `sent` is false when the server is known not to have seen the request (no handshake, or past a GOAWAY).
   */
  onClose(code: number, err: Error | undefined, sent: boolean): void;
}

const enum T {
  DATA = 0,
  HEADERS = 1,
  RST_STREAM = 3,
  SETTINGS = 4,
  PUSH_PROMISE = 5,
  PING = 6,
  GOAWAY = 7,
  WINDOW_UPDATE = 8,
  CONTINUATION = 9,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

const NO_ERROR = 0;
const PROTOCOL_ERROR = 1;
export const CANCEL = 8;
const COMPRESSION_ERROR = 9;
const FRAME_SIZE_ERROR = 6;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** what this side announces: no push, a 16 MiB stream window; the connection window is raised apart */
const STREAM_WINDOW = 1 << 24;
const CONNECTION_WINDOW = 1 << 26;
const MAX_FRAME = 16384;
/** a header block larger than this is a broken peer (or a corrupted stream): bounded memory */
const MAX_HEADER_BLOCK = 256 * 1024;
const MAX_STREAM_ID = 0x7fffffff;
/** sends waiting on the connection's window this long with no WINDOW_UPDATE: a PING asks why (below) */
const BLOCKED_QUIET_MS = 2000;
const PING_TIMEOUT_MS = 3000;
/** after a PING's answer, how long a WINDOW_UPDATE sent before it may take to be read */
const PING_ANSWER_GRACE_MS = 1000;
/** etcd's server refuses pings more often than every 5 s (--grpc-keepalive-min-time) */
const PING_MIN_INTERVAL_MS = 5500;

function frameHeader(b: Buffer, at: number, len: number, type: number, flags: number, sid: number): void {
  b[at] = len >>> 16;
  b[at + 1] = (len >>> 8) & 0xff;
  b[at + 2] = len & 0xff;
  b[at + 3] = type;
  b[at + 4] = flags;
  b.writeUInt32BE(sid, at + 5);
}

export class H2Stream {
  id = 0;
  /** bytes this side may still send (the server's window for it) */
  sendWindow = 0;
  /** bytes received since the last WINDOW_UPDATE for it */
  unacked = 0;
  localEnded = false;
  remoteEnded = false;
  closed = false;
  /** DATA waiting for window (and the end flag after it) */
  queue: Buffer[] = [];
  queueEnd = false;

  constructor(
    readonly conn: H2Connection,
    readonly headerBlock: Buffer,
    readonly handler: StreamHandler,
  ) {}

  /** Sends data on the stream; `end` half-closes it. Ignored once closed or ended. */
  write(data: Buffer, end = false): void {
    if (this.closed || this.localEnded) return;
    if (end) this.localEnded = true;
    this.conn.sendData(this, data, end);
  }

  end(data?: Buffer): void {
    this.write(data ?? Buffer.alloc(0), true);
  }

  /** Resets it (RST_STREAM, CANCEL by default); the handler's onClose is called with the code. */
  reset(code = CANCEL): void {
    if (this.closed) return;
    this.conn.resetStream(this, code);
  }
}

export interface H2Options {
  host: string;
  port: number;
  /** until the server's SETTINGS: a link that accepts and says nothing fails the calls as never sent */
  connectTimeoutMs: number;
  onError?: (err: Error) => void;
}

export class H2Connection {
  private readonly socket: net.Socket;
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, H2Stream>();
  /** streams opened before the handshake or above the server's concurrency limit, in order */
  private readonly waiting: H2Stream[] = [];
  /** streams with DATA waiting for window */
  private readonly blocked = new Set<H2Stream>();
  private nextId = 1;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private rest: Buffer | undefined;
  /** a header block arriving in CONTINUATION frames */
  private partial: { sid: number; end: boolean; parts: Buffer[]; size: number } | undefined;

  private peerInitialWindow = 65535;
  private peerMaxFrame = MAX_FRAME;
  private peerMaxStreams = Infinity;
  private sendWindow = 65535;
  private unacked = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private blockedSince = 0;
  /** a liveness PING in flight (sent at), and when the last one went */
  private pingAt = 0;
  private pingAckAt = 0;
  private lastPingAt = -Infinity;
  /** when the server last widened the connection's window */
  private connUpdateAt = 0;

  /** the server's first SETTINGS arrived: requests are sent from then on */
  handshaken = false;
  /** no new streams: the server said GOAWAY, ids ran out, or the connection is gone */
  draining = false;
  destroyed = false;
  /** when the chunk being read arrived (monotonic ms): one clock read per socket read */
  readAt = 0;
  private closeListeners: (() => void)[] = [];

  constructor(private readonly opts: H2Options) {
    this.socket = net.connect({ host: opts.host, port: opts.port, noDelay: true });
    this.timer = setTimeout(
      () => this.destroy(new Error(`connect to ${opts.host}:${opts.port} timed out`)),
      opts.connectTimeoutMs,
    );
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    this.socket.on('error', (err) => this.destroy(err));
    this.socket.on('close', () => this.destroy(new Error('connection closed')));
  }

  get streamCount(): number {
    return this.streams.size + this.waiting.length;
  }

  onClose(fn: () => void): void {
    this.closeListeners.push(fn);
  }

  private onConnect(): void {
    // preface, SETTINGS (ENABLE_PUSH 0, INITIAL_WINDOW_SIZE), a wide connection window
    const s = Buffer.allocUnsafe(9 + 12);
    frameHeader(s, 0, 12, T.SETTINGS, 0, 0);
    s.writeUInt16BE(0x2, 9);
    s.writeUInt32BE(0, 11);
    s.writeUInt16BE(0x4, 15);
    s.writeUInt32BE(STREAM_WINDOW, 17);
    this.socket.write(Buffer.concat([PREFACE, s, this.windowUpdate(0, CONNECTION_WINDOW - 65535)]));
  }

  /**
   * Opens a stream with a ready header block; its HEADERS go out at the next flush. With `last`, that is
   * the stream's only DATA and it ends this side (a unary call: HEADERS and DATA leave in one buffer).
   */
  request(headerBlock: Buffer, handler: StreamHandler, last?: Buffer): H2Stream {
    if (this.destroyed || this.draining) throw new Error('connection is closing');
    const s = new H2Stream(this, headerBlock, handler);
    if (last) {
      s.queue.push(last);
      s.queueEnd = true;
      s.localEnded = true;
    }
    if (this.handshaken && this.streams.size < this.peerMaxStreams && this.waiting.length === 0) this.open(s);
    else this.waiting.push(s);
    return s;
  }

  private open(s: H2Stream): void {
    s.id = this.nextId;
    this.nextId += 2;
    // ids run out after 2^30 streams (15 hours at 20k puts/s): the client then dials a fresh connection
    if (this.nextId > MAX_STREAM_ID) this.draining = true;
    s.sendWindow = this.peerInitialWindow;
    this.streams.set(s.id, s);
    const hb = s.headerBlock;
    const q = s.queue;
    // the usual call: HEADERS and its one DATA frame with END_STREAM, in one buffer
    if (
      q.length === 1 &&
      s.queueEnd &&
      q[0].length <= this.sendWindow &&
      q[0].length <= s.sendWindow &&
      q[0].length <= this.peerMaxFrame
    ) {
      const d = q[0];
      const b = Buffer.allocUnsafe(18 + hb.length + d.length);
      frameHeader(b, 0, hb.length, T.HEADERS, END_HEADERS, s.id);
      hb.copy(b, 9);
      frameHeader(b, 9 + hb.length, d.length, T.DATA, END_STREAM, s.id);
      d.copy(b, 18 + hb.length);
      s.sendWindow -= d.length;
      this.sendWindow -= d.length;
      s.queue = [];
      s.queueEnd = false;
      this.push(b);
      return;
    }
    const b = Buffer.allocUnsafe(9 + hb.length);
    frameHeader(b, 0, hb.length, T.HEADERS, END_HEADERS, s.id);
    hb.copy(b, 9);
    this.push(b);
    this.pump(s);
  }

  /** called by H2Stream.write */
  sendData(s: H2Stream, data: Buffer, end: boolean): void {
    if (data.length || end) {
      s.queue.push(data);
      if (end) s.queueEnd = true;
    }
    if (s.id !== 0) this.pump(s);
  }

  /** Sends what the windows allow of a stream's queued DATA. */
  private pump(s: H2Stream): void {
    const q = s.queue;
    while (q.length) {
      const head = q[0];
      const last = q.length === 1 && s.queueEnd;
      const n = Math.min(head.length, s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0 && head.length > 0) {
        this.block(s);
        return;
      }
      const whole = n === head.length;
      const b = Buffer.allocUnsafe(9 + n);
      frameHeader(b, 0, n, T.DATA, whole && last ? END_STREAM : 0, s.id);
      head.copy(b, 9, 0, n);
      s.sendWindow -= n;
      this.sendWindow -= n;
      if (whole) q.shift();
      else q[0] = head.subarray(n);
      this.push(b);
    }
    s.queueEnd = false;
    this.blocked.delete(s);
  }

  private block(s: H2Stream): void {
    if (this.blocked.size === 0) this.blockedSince = performance.now();
    this.blocked.add(s);
    this.watchdog ??= setInterval(() => this.checkBlocked(), 1000).unref();
  }

  /**
   * Sends waiting on the connection's window with no WINDOW_UPDATE for a while: a PING asks. No answer:
   * the connection is dead. An answer means the server has read every byte sent before it, and a server
   * that got a whole window's worth gives window back; none after the answer means the bytes that used it
   * never arrived (a blackholed link drops them), and the window will never come back.
   */
  private checkBlocked(): void {
    const now = performance.now();
    if (this.pingAt) {
      if (this.pingAckAt >= this.pingAt) {
        if (now - this.pingAckAt < PING_ANSWER_GRACE_MS) return;
        if (this.sendWindow <= 0 && this.blocked.size && this.connUpdateAt < this.pingAt) {
          this.destroy(new Error('flow-control window lost: the server never got bytes sent on this connection'));
          return;
        }
        this.pingAt = 0;
      } else {
        if (now - this.pingAt >= PING_TIMEOUT_MS)
          this.destroy(new Error(`sends blocked by flow control and no answer to a PING in ${PING_TIMEOUT_MS} ms`));
        return;
      }
    }
    if (this.blocked.size === 0) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
      return;
    }
    if (this.sendWindow > 0) return;
    if (now - Math.max(this.blockedSince, this.connUpdateAt) < BLOCKED_QUIET_MS) return;
    if (now - this.lastPingAt < PING_MIN_INTERVAL_MS) return;
    const b = Buffer.alloc(17);
    frameHeader(b, 0, 8, T.PING, 0, 0);
    this.push(b);
    this.pingAt = this.lastPingAt = now;
  }

  resetStream(s: H2Stream, code: number): void {
    if (s.id !== 0 && !this.destroyed) this.push(this.fourByteFrame(T.RST_STREAM, s.id, code));
    const i = this.waiting.indexOf(s);
    if (i >= 0) this.waiting.splice(i, 1);
    this.finish(s, code, new Error(`stream reset (code ${code})`), s.id !== 0 && this.handshaken);
  }

  private finish(s: H2Stream, code: number, err: Error | undefined, sent: boolean): void {
    if (s.closed) return;
    s.closed = true;
    s.queue = [];
    this.blocked.delete(s);
    if (s.id) this.streams.delete(s.id);
    s.handler.onClose(code, err, sent);
    this.openWaiting();
    if (this.draining && this.streamCount === 0) this.destroy(undefined);
  }

  private openWaiting(): void {
    while (this.handshaken && !this.destroyed && this.waiting.length && this.streams.size < this.peerMaxStreams)
      this.open(this.waiting.shift()!);
  }

  private push(b: Buffer): void {
    this.out.push(b);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // after the current run and its microtasks: the calls a burst of answers starts go out together
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.destroyed || !this.out.length) return;
    const out = this.out;
    this.out = [];
    this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  private windowUpdate(sid: number, n: number): Buffer {
    return this.fourByteFrame(T.WINDOW_UPDATE, sid, n);
  }

  /** a frame whose payload is one 32-bit number: WINDOW_UPDATE's increment, RST_STREAM's code */
  private fourByteFrame(type: T, sid: number, n: number): Buffer {
    const b = Buffer.allocUnsafe(13);
    frameHeader(b, 0, 4, type, 0, sid);
    b.writeUInt32BE(n, 9);
    return b;
  }

  private onSocketData(chunk: Buffer): void {
    this.readAt = performance.now();
    try {
      let buf = chunk;
      if (this.rest) {
        // finish the frame split over reads, copying only its own bytes (not the whole read)
        const frame = this.completeFrame(chunk);
        if (!frame) return;
        this.onFrame(frame[3], frame[4], frame.readUInt32BE(5) & 0x7fffffff, frame, 9, frame.length);
        buf = chunk.subarray(frame.length - this.restTaken);
      }
      let i = 0;
      while (buf.length - i >= 9 && !this.destroyed) {
        const len = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2];
        if (len > MAX_FRAME) throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${len} bytes`);
        if (buf.length - i - 9 < len) break;
        const type = buf[i + 3];
        const flags = buf[i + 4];
        const sid = buf.readUInt32BE(i + 5) & 0x7fffffff;
        this.onFrame(type, flags, sid, buf, i + 9, i + 9 + len);
        i += 9 + len;
      }
      if (i < buf.length && !this.destroyed) this.rest = buf.subarray(i);
    } catch (err) {
      const e = err as Error;
      const code =
        err instanceof ConnectionError ? err.code : err instanceof HpackError ? COMPRESSION_ERROR : PROTOCOL_ERROR;
      this.goAway(code);
      this.destroy(new Error(`http2 protocol error: ${e.message}`));
      return;
    }
    this.maybeAckWindow();
  }

  /** bytes of the last read that completeFrame() took */
  private restTaken = 0;

  /** The frame begun in `rest`, completed from `chunk`; undefined (and `rest` grown) while still short. */
  private completeFrame(chunk: Buffer): Buffer | undefined {
    const rest = this.rest!;
    let head = rest;
    if (rest.length < 9) {
      head = Buffer.concat([rest, chunk.subarray(0, 9 - rest.length)]);
      if (head.length < 9) {
        this.rest = head;
        return undefined;
      }
    }
    const len = (head[0] << 16) | (head[1] << 8) | head[2];
    if (len > MAX_FRAME) throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${len} bytes`);
    const need = 9 + len - rest.length;
    if (chunk.length < need) {
      this.rest = Buffer.concat([rest, chunk]);
      return undefined;
    }
    this.rest = undefined;
    this.restTaken = rest.length;
    return Buffer.concat([rest, chunk.subarray(0, need)]);
  }

  private onFrame(type: number, flags: number, sid: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case T.DATA: {
        const len = end - start;
        this.unacked += len;
        const s = this.streams.get(sid);
        if (flags & PADDED) {
          const pad = buf[start];
          start += 1;
          end -= pad;
          if (end < start) throw new ConnectionError(PROTOCOL_ERROR, 'padding longer than the frame');
        }
        if (!s || s.remoteEnded) return;
        s.unacked += len;
        const endStream = (flags & END_STREAM) !== 0;
        if (endStream) s.remoteEnded = true;
        else if (s.unacked >= STREAM_WINDOW / 2) {
          this.push(this.windowUpdate(sid, s.unacked));
          s.unacked = 0;
        }
        s.handler.onData(buf.subarray(start, end), endStream);
        if (endStream) this.remoteEnd(s);
        return;
      }
      case T.HEADERS: {
        if (flags & PADDED) {
          const pad = buf[start];
          start += 1;
          end -= pad;
        }
        if (flags & PRIORITY) start += 5;
        if (end < start) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
        const block = buf.subarray(start, end);
        if (flags & END_HEADERS) this.onHeaderBlock(sid, block, (flags & END_STREAM) !== 0);
        else this.partial = { sid, end: (flags & END_STREAM) !== 0, parts: [Buffer.from(block)], size: block.length };
        return;
      }
      case T.CONTINUATION: {
        const p = this.partial;
        if (!p || p.sid !== sid) throw new ConnectionError(PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
        p.parts.push(Buffer.from(buf.subarray(start, end)));
        p.size += end - start;
        if (p.size > MAX_HEADER_BLOCK) throw new ConnectionError(PROTOCOL_ERROR, 'header block too large');
        if (flags & END_HEADERS) {
          this.partial = undefined;
          this.onHeaderBlock(sid, Buffer.concat(p.parts), p.end);
        }
        return;
      }
      case T.RST_STREAM: {
        const s = this.streams.get(sid);
        if (end - start !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'RST_STREAM not 4 bytes');
        const code = buf.readUInt32BE(start);
        if (s) this.finish(s, code, new Error(`stream reset by the server (code ${code})`), true);
        return;
      }
      case T.SETTINGS:
        if (sid !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
        if (flags & ACK) return;
        if ((end - start) % 6) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS not a multiple of 6 bytes');
        for (let p = start; p < end; p += 6) this.setting(buf.readUInt16BE(p), buf.readUInt32BE(p + 2));
        {
          const ack = Buffer.allocUnsafe(9);
          frameHeader(ack, 0, 0, T.SETTINGS, ACK, 0);
          this.push(ack);
        }
        if (!this.handshaken) {
          this.handshaken = true;
          clearTimeout(this.timer);
        }
        this.openWaiting();
        for (const s of [...this.blocked]) this.pump(s);
        return;
      case T.PING:
        if (flags & ACK) {
          this.pingAckAt = performance.now();
          return;
        }
        if (end - start !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, 'PING not 8 bytes');
        {
          const b = Buffer.allocUnsafe(17);
          frameHeader(b, 0, 8, T.PING, ACK, 0);
          buf.copy(b, 9, start, end);
          this.push(b);
        }
        return;
      case T.GOAWAY: {
        const last = buf.readUInt32BE(start) & 0x7fffffff;
        const code = buf.readUInt32BE(start + 4);
        const debug = buf.subarray(start + 8, end).toString('latin1');
        this.draining = true;
        const err = new Error(`server sent GOAWAY (code ${code}${debug ? `, ${debug}` : ''})`);
        // streams above `last` were never processed: they may be sent again elsewhere
        for (const s of [...this.streams.values()]) if (s.id > last) this.finish(s, -1, err, false);
        for (const s of this.waiting.splice(0)) this.finish(s, -1, err, false);
        if (this.streamCount === 0) this.destroy(undefined);
        return;
      }
      case T.WINDOW_UPDATE: {
        const n = buf.readUInt32BE(start) & 0x7fffffff;
        if (sid === 0) {
          this.sendWindow += n;
          this.connUpdateAt = performance.now();
          for (const s of [...this.blocked]) this.pump(s);
        } else {
          const s = this.streams.get(sid);
          if (s) {
            s.sendWindow += n;
            if (s.queue.length) this.pump(s);
          }
        }
        return;
      }
      case T.PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      default:
      // PRIORITY and unknown frame types are ignored
    }
  }

  private setting(id: number, value: number): void {
    switch (id) {
      case 0x3:
        this.peerMaxStreams = value;
        break;
      case 0x4: {
        if (value > MAX_STREAM_ID) throw new ConnectionError(3, 'INITIAL_WINDOW_SIZE too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
        break;
      }
      case 0x5:
        if (value < 16384 || value > 16777215) throw new ConnectionError(PROTOCOL_ERROR, `MAX_FRAME_SIZE ${value}`);
        this.peerMaxFrame = value;
        break;
      default:
      // HEADER_TABLE_SIZE: the encoder never indexes; others do not concern a client
    }
  }

  private onHeaderBlock(sid: number, block: Buffer, end: boolean): void {
    // every block is decoded, even a closed stream's: the table is shared by the connection
    const fields = this.decoder.decode(block);
    const s = this.streams.get(sid);
    if (!s || s.remoteEnded) return;
    if (end) s.remoteEnded = true;
    s.handler.onHeaders(fields, end);
    if (end) this.remoteEnd(s);
  }

  /** the server ended its side: the call is over; a stream still open on this side is reset */
  private remoteEnd(s: H2Stream): void {
    if (s.closed) return;
    if (!s.localEnded) this.push(this.fourByteFrame(T.RST_STREAM, s.id, NO_ERROR));
    this.finish(s, 0, undefined, true);
  }

  private maybeAckWindow(): void {
    if (this.unacked >= CONNECTION_WINDOW / 2 && !this.destroyed) {
      this.push(this.windowUpdate(0, this.unacked));
      this.unacked = 0;
    }
  }

  private goAway(code: number): void {
    if (this.destroyed) return;
    const b = Buffer.allocUnsafe(17);
    frameHeader(b, 0, 8, T.GOAWAY, 0, 0);
    // the last stream this side accepted: a client accepts none
    b.writeUInt32BE(0, 9);
    b.writeUInt32BE(code, 13);
    this.push(b);
    this.flush();
  }

  /** Closes the connection now: every open stream's handler hears `err` (or a plain close). */
  destroy(err: Error | undefined): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.draining = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (err) this.opts.onError?.(err);
    const why = err ?? new Error('connection closed');
    for (const s of [...this.streams.values()]) this.finish(s, -1, why, this.handshaken);
    for (const s of this.waiting.splice(0)) this.finish(s, -1, why, false);
    this.out = [];
    this.socket.destroy();
    for (const fn of this.closeListeners.splice(0)) fn();
  }
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
