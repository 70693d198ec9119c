// The egress: one forward-proxy listener per member, for member-aware partitions. Each member is
// launched with HTTPS_PROXY/HTTP_PROXY pointing at its own listener and peers advertised under a host
// Go does not bypass the proxy for (`localhost.`), so every peer dial a member makes arrives here with
// both ends known: `CONNECT host:port` (TLS peers; a tunnel, see Connection) or an absolute-form request
// (plain peers; see egress-http.ts). Bytes from A to B, whoever dialled, pass through pair (A, B)'s
// faults (egress-pairs.ts): a cut there stops them at once on every open tunnel and refuses A's new
// dials to B. Targets the resolver does not know are forwarded as-is and counted under to="?".
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import type { Metrics } from '../metrics.js';
import { Conflict } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { splitHostPort } from '../util/net.js';
import { Rng, randomSeed } from '../util/rng.js';
import { Connection, type ConnectionHost } from './connection.js';
import { forwardRequest, type Carrier, type EgressDial, type ExchangeHost } from './egress-http.js';
import { PeerPair, UNKNOWN_MEMBER, type PairEffect, type PairStats } from './egress-pairs.js';

export { UNKNOWN_MEMBER, type PairEffect, type PairStats } from './egress-pairs.js';
export type { EgressDial } from './egress-http.js';

export interface EgressOptions {
  /** the member a peer URL's host:port belongs to; undefined: not a member (forwarded, counted as "?") */
  resolveTarget(host: string, port: number): string | undefined;
  metrics?: Metrics;
  logger?: Logger;
  /** seed of the drop and jitter draws; random when absent */
  seed?: number;
}

// A refused CONNECT gets a non-200 status: Go's transport fails the dial at once ("proxyconnect"),
// without a TLS handshake or a timeout, and retries on its own schedule.
const REFUSED = 'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n';

function rawAnswer(socket: net.Socket, head: string, text: string): void {
  if (socket.destroyed) return;
  const body = `${text}\n`;
  socket.end(`${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Emits 'dial'(EgressDial) for every CONNECT or plain request, 'refused', 'effect' and 'problem'; never 'error'. */
export class Egress extends EventEmitter {
  readonly seed: number;
  private readonly host: ExchangeHost;
  private readonly logger: Logger;
  private readonly pairs = new Map<string, PeerPair>();
  private readonly servers = new Map<string, http.Server>();
  private readonly sockets = new Set<net.Socket>();
  private readonly carriers = new Set<Carrier>();
  private readonly agents = new Map<string, http.Agent>();
  private readonly problemCounts = new Map<string, number>();
  private nextId = 0;

  constructor(private readonly opts: EgressOptions) {
    super();
    this.seed = opts.seed ?? randomSeed();
    this.logger = opts.logger ?? silentLogger;
    const rng = new Rng(this.seed);
    this.host = {
      rng,
      logger: this.logger,
      pair: (from, to) => this.pair(from, to),
      resolve: (h, p) => this.resolve(h, p),
      agent: (from, h, p) => this.agent(from, h, p),
      dialHost,
      opened: (c) => this.carriers.add(c),
      closed: (c) => this.carriers.delete(c),
      refused: (pair) => this.refused(pair),
      dialed: (d) => this.emit('dial', d),
      problem: (kind, member, detail) => this.problem(kind, member, detail),
    };
  }

  /** Opens member `member`'s egress listener ("host:port", default 127.0.0.1:0); resolves to its port. */
  async listen(member: string, listen = '127.0.0.1:0'): Promise<number> {
    if (this.servers.has(member)) throw new Conflict(`member ${member} already has an egress listener`);
    const { host, port } = splitHostPort(listen);
    const server = http.createServer();
    // peer streams live for hours and their connections idle between raft messages
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
      forwardRequest(this.host, member, req, res),
    );
    server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.onConnect(member, req, socket, head),
    );
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      this.problem('upgrade', member, { url: req.url?.slice(0, 200) });
      rawAnswer(socket, 'HTTP/1.1 501 Not Implemented\r\nConnection: close\r\n', 'upgrades are not proxied');
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) =>
      this.onClientError(member, err, socket),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host || undefined, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err, member }, 'egress listener error'));
    this.servers.set(member, server);
    const bound = (server.address() as net.AddressInfo).port;
    this.logger.debug({ member, port: bound }, 'egress listening');
    return bound;
  }

  /** The port of a member's egress listener, if it has one. */
  port(member: string): number | undefined {
    const a = this.servers.get(member)?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /**
   * Sets (or with undefined removes) what from's traffic to `to` suffers; applies at once to open
   * tunnels both ways round. A cut in 'reset' mode resets the tunnels carrying from→to bytes now.
   * Throws (and changes nothing) when the effect's values are invalid.
   */
  setEffect(from: string, to: string, effect: PairEffect | undefined): void {
    const pair = this.pair(from, to);
    pair.set(effect);
    const reset = effect?.kind === 'cut' && effect.established === 'reset';
    let affected = 0;
    for (const c of [...this.carriers]) {
      if (!((c.from === from && c.to === to) || (c.from === to && c.to === from))) continue;
      affected++;
      if (reset) c.reset();
      else c.refresh();
    }
    this.logger.info(
      { from, to, effect: effect ?? null, tunnels: affected },
      effect ? 'peer pair effect set' : 'peer pair effect removed',
    );
    this.emit('effect', { from, to, effect });
  }

  effects(): { from: string; to: string; effect: PairEffect }[] {
    return [...this.pairs.values()]
      .filter((p) => p.effect !== undefined)
      .map((p) => ({ from: p.from, to: p.to, effect: p.effect! }));
  }

  pairStats(): PairStats[] {
    return [...this.pairs.values()].map((p) => p.row(p.tunnels));
  }

  /** Bad input and failed targets seen so far, by kind. */
  problems(): Record<string, number> {
    return Object.fromEntries(this.problemCounts);
  }

  async close(): Promise<void> {
    const closing = [...this.servers.values()].map((s) => new Promise<void>((r) => s.close(() => r())));
    this.servers.clear();
    for (const c of [...this.carriers]) c.destroy();
    for (const s of this.sockets) s.destroy();
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
    await Promise.all(closing);
  }

  private pair(from: string, to: string): PeerPair {
    const key = `${from}\n${to}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = new PeerPair(from, to, this.opts.metrics?.peerBytes.labels({ from, to }), this.logger);
      this.pairs.set(key, p);
    }
    return p;
  }

  private resolve(host: string, port: number): string {
    return this.opts.resolveTarget(host, port) ?? UNKNOWN_MEMBER;
  }

  /** keep-alive connections per (source member, target): one member's requests never ride another's */
  private agent(from: string, host: string, port: number): http.Agent {
    const key = `${from}\n${host}:${port}`;
    let a = this.agents.get(key);
    if (!a) this.agents.set(key, (a = new http.Agent({ keepAlive: true })));
    return a;
  }

  private onConnect(from: string, req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', () => undefined); // the Connection takes over below; until then a reset is just a close
    let target: { host: string; port: number } | undefined;
    try {
      target = splitHostPort(req.url ?? '');
    } catch {
      target = undefined;
    }
    if (!target || target.host === '' || target.port === 0) {
      this.problem('bad-connect', from, { authority: req.url?.slice(0, 200) });
      rawAnswer(socket, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n', 'expected CONNECT host:port');
      return;
    }
    const to = this.resolve(target.host, target.port);
    this.emit('dial', { member: from, to, target: req.url!, kind: 'connect' } satisfies EgressDial);
    const pair = this.pair(from, to);
    if (pair.cut) {
      this.refused(pair);
      rawAnswer(socket, REFUSED, `${from} cannot reach ${to}: partitioned`);
      return;
    }
    const back = this.pair(to, from);
    socket.pause(); // nothing is read until the tunnel's pipes start
    if (head.length > 0) socket.unshift(head);
    const authority = req.url!;
    let conn: Connection | undefined = undefined;
    const carrier: Carrier = {
      from,
      to,
      refresh: () => conn?.refresh(),
      reset: () => conn?.reset(),
      destroy: () => conn?.destroy(),
    };
    const host: ConnectionHost = {
      upstreamHost: dialHost(target.host),
      upstreamPort: target.port,
      faults: { tx: pair.faults, rx: back.faults },
      pipeContext: (d) => (d === 'tx' ? pair : back).pipeContext(this.host.rng, this.logger),
      onUpstreamConnected: () => socket.write('HTTP/1.1 200 Connection established\r\n\r\n'),
      onDialFailure: (_c, err) => {
        this.problem('upstream-failed', from, { to, target: authority, err: err.message });
        rawAnswer(socket, 'HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n', `${authority}: ${err.message}`);
      },
      onClosed: () => {
        pair.tunnels--;
        this.carriers.delete(carrier);
      },
    };
    conn = new Connection(this.nextId++, socket, host);
    pair.tunnels++;
    this.carriers.add(carrier);
    conn.dial();
  }

  private onClientError(member: string, err: NodeJS.ErrnoException, socket: net.Socket): void {
    // a peer going away mid-request is no input error
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    this.problem(tooLarge ? 'header-too-large' : 'malformed-request', member, { code: err.code });
    rawAnswer(
      socket,
      tooLarge
        ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n'
        : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n',
      tooLarge ? 'request header too large' : 'malformed request',
    );
  }

  private refused(pair: PeerPair): void {
    pair.refused++;
    // a cut member redials ~20 times a second per pair: debug only
    this.logger.debug({ from: pair.from, to: pair.to, refused: pair.refused }, 'peer dial refused: partitioned');
    this.emit('refused', { from: pair.from, to: pair.to });
  }

  /** Counts bad input and failed targets; logs the first of each kind (later ones at debug). */
  private problem(kind: string, member: string, detail: Record<string, unknown>): void {
    const n = (this.problemCounts.get(kind) ?? 0) + 1;
    this.problemCounts.set(kind, n);
    const line = { member, kind, count: n, ...detail };
    if (n === 1) this.logger.warn(line, 'egress: request not forwarded (further ones of this kind at debug)');
    else this.logger.debug(line, 'egress: request not forwarded');
    this.emit('problem', line);
  }
}

/**
 * Where to dial a peer host: the advertised `localhost.` (its trailing dot keeps Go from bypassing the
 * proxy) is not resolved by Node's resolver, and members listen on IPv4 loopback.
 */
export function dialHost(host: string): string {
  const h = host.endsWith('.') ? host.slice(0, -1) : host;
  return h === 'localhost' ? '127.0.0.1' : h;
}
