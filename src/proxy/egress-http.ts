// Plain-HTTP peers through the egress: one absolute-form request (`POST http://localhost.:2380/raft`)
// forwarded to its target as one exchange. Requests to different targets may share one proxy
// connection, so the pair is decided per request. Node's HTTP parser keeps the framing (chunked stream
// GETs, pipelined POSTs, snapshots); the pair effects act on the body bytes through the same Pipe as a
// link: the request body through pair (from, to), the response body through pair (to, from). A new
// request in a cut direction is answered 502 without reaching the target (as a refused dial); a
// response whose direction is cut is held, unread, until the cut is removed (its target backs up through
// TCP, memory stays bounded), and the bytes of a body already flowing are discarded (blackhole).
import http from 'node:http';
import { resetSocket } from './connection.js';
import type { PeerPair } from './egress-pairs.js';
import { Pipe } from './pipe.js';
import type { Logger } from '../util/log.js';
import type { Rng } from '../util/rng.js';

/** What the egress can act on: a CONNECT tunnel or a plain exchange that `from` dialled to `to`. */
export interface Carrier {
  readonly from: string;
  readonly to: string;
  /** the pair effects changed: pipes re-evaluate, held responses go on when their cut is gone */
  refresh(): void;
  /** RST both sides (a cut in 'reset' mode) */
  reset(): void;
  destroy(): void;
}

/** One dial a member made through its egress listener. */
export interface EgressDial {
  /** the member whose listener it is (the dialler) */
  member: string;
  /** the member it reaches ("?" when no member is known there) */
  to: string;
  /** host:port as the member asked for it, e.g. "localhost.:23800" */
  target: string;
  /** a CONNECT tunnel (TLS peers) or one absolute-form request (plain peers) */
  kind: 'connect' | 'request';
}

export interface ExchangeHost {
  readonly rng: Rng;
  readonly logger: Logger;
  pair(from: string, to: string): PeerPair;
  resolve(host: string, port: number): string;
  agent(from: string, host: string, port: number): http.Agent;
  dialHost(host: string): string;
  opened(c: Carrier): void;
  closed(c: Carrier): void;
  refused(pair: PeerPair): void;
  /** a member asked for a target (announced before the pair's effect decides) */
  dialed(dial: EgressDial): void;
  problem(kind: string, member: string, detail: Record<string, unknown>): void;
}

// connection-level headers are the proxy's own business, not forwarded (RFC 9110 §7.6.1)
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** A short plain-text answer of the proxy itself. */
function answer(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${text}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Forwards one request received on member `from`'s egress listener. */
export function forwardRequest(
  host: ExchangeHost,
  from: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  let url: URL | undefined;
  if (req.url?.startsWith('http://')) {
    try {
      url = new URL(req.url);
    } catch {
      url = undefined;
    }
  }
  if (!url || url.hostname === '') {
    host.problem('not-a-proxy-request', from, { method: req.method, url: req.url?.slice(0, 200) });
    answer(res, 400, 'expected an absolute-form http:// request or CONNECT (this is a forward proxy)');
    return;
  }
  new PlainExchange(host, from, url, req, res).start();
}

class PlainExchange implements Carrier {
  readonly to: string;
  private readonly pair: PeerPair;
  private readonly back: PeerPair;
  private upReq: http.ClientRequest | undefined;
  private upRes: http.IncomingMessage | undefined;
  private tx: Pipe | undefined;
  private rx: Pipe | undefined;
  private held = false;
  private done = false;

  constructor(
    private readonly host: ExchangeHost,
    readonly from: string,
    private readonly url: URL,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    const port = url.port ? Number(url.port) : 80;
    this.to = host.resolve(url.hostname, port);
    host.dialed({ member: from, to: this.to, target: url.host, kind: 'request' });
    this.pair = host.pair(from, this.to);
    this.back = host.pair(this.to, from);
  }

  start(): void {
    const { host, url, req, res } = this;
    if (this.pair.cut) {
      host.refused(this.pair);
      answer(res, 502, `${this.from} cannot reach ${this.to}: partitioned`);
      return;
    }
    const port = url.port ? Number(url.port) : 80;
    let up: http.ClientRequest;
    try {
      up = http.request({
        agent: host.agent(this.from, url.hostname, port),
        host: host.dialHost(url.hostname),
        port,
        method: req.method,
        path: url.pathname + url.search,
        headers: endToEnd(req.headers), // Host stays the advertised one
        setHost: false,
      });
    } catch (err) {
      // Node's own parser let the request in, yet its client refuses it (a method or header it will not send)
      host.problem('unforwardable-request', this.from, { to: this.to, err: (err as Error).message });
      answer(res, 400, `cannot forward this request: ${(err as Error).message}`);
      return;
    }
    this.pair.tunnels++;
    host.opened(this);
    this.upReq = up;
    up.on('response', (upRes) => this.onResponse(upRes));
    up.on('error', (err) => {
      if (!res.headersSent) {
        host.problem('upstream-failed', this.from, { to: this.to, target: url.host, err: err.message });
        answer(res, 502, `${url.host}: ${err.message}`);
      } else {
        res.destroy();
      }
      this.finish();
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
      this.finish();
    });
    this.tx = new Pipe(req, up, this.pair.faults, this.pair.pipeContext(host.rng, host.logger));
    this.tx.start();
  }

  private onResponse(upRes: http.IncomingMessage): void {
    this.upRes = upRes;
    const broken = (): void => {
      if (!upRes.complete) this.res.destroy();
    };
    upRes.on('aborted', broken);
    upRes.on('error', broken);
    upRes.on('close', broken);
    // while the answer's direction is cut, its head waits too: the requester hears nothing
    if (this.back.cut) this.held = true;
    else this.deliver();
  }

  private deliver(): void {
    const upRes = this.upRes!;
    const res = this.res;
    this.held = false;
    if (this.done || res.destroyed) return;
    try {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEnd(upRes.headers));
    } catch (err) {
      this.host.problem('unforwardable-answer', this.from, { to: this.to, err: (err as Error).message });
      this.destroy();
      return;
    }
    res.flushHeaders(); // a stream GET's requester waits for the head before any body
    this.rx = new Pipe(upRes, res, this.back.faults, this.back.pipeContext(this.host.rng, this.host.logger));
    this.rx.start();
  }

  refresh(): void {
    this.tx?.pump();
    this.rx?.pump();
    if (this.held && !this.back.cut) this.deliver();
  }

  reset(): void {
    const upSock = this.upReq?.socket;
    const sock = this.res.socket;
    if (upSock) resetSocket(upSock);
    if (sock) resetSocket(sock);
    this.destroy();
  }

  destroy(): void {
    this.upReq?.destroy();
    this.res.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.pair.tunnels--;
    this.tx?.dispose();
    this.rx?.dispose();
    this.host.closed(this);
  }
}
