// A link: one listen address, one upstream, its live connections and its fault state (tx, rx, accept,
// link). Faults are small objects the connections consult per chunk, so a change applies at once to
// open and new connections. Any fault may carry a duration after which it removes itself.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../metrics.js';
import { silentLogger, type Logger } from '../util/log.js';
import { splitHostPort } from '../util/net.js';
import { Rng, randomSeed } from '../util/rng.js';
import { Connection, resetSocket, type ConnectionHost } from './connection.js';
import { AcceptFaults, BandwidthFault, CorruptFault, DelayFault, DirectionFaults, DropFault } from './faults/index.js';
import type { PipeContext, PipeMetrics } from './pipe.js';
import { LongTimer } from '../util/timer.js';
import type { DirectionStats, FaultInfo, FaultScope, FaultSpec, FaultType, LinkStats } from './types.js';

export interface LinkOptions {
  name: string;
  /** "host:port"; port 0 = ephemeral; an empty host (":2379") = every interface */
  listen: string;
  /** "host:port" */
  upstream: string;
  kind?: 'client' | 'peer' | 'custom';
  member?: string;
  /** seed of the link's random draws (jitter, drop, corrupt); random when absent, shown in stats */
  seed?: number;
  metrics?: Metrics;
  logger?: Logger;
}

interface ActiveFault {
  info: FaultInfo;
  timer: LongTimer | undefined;
}

const emptyStats = (): DirectionStats => ({ read: 0, forwarded: 0, dropped: 0, corrupted: 0, blackholed: 0 });

export function faultScope(spec: FaultSpec): FaultScope {
  if ('direction' in spec) return spec.direction;
  return spec.type === 'accept-delay' || spec.type === 'accept-pause' ? 'accept' : 'link';
}

export class Link extends EventEmitter implements ConnectionHost {
  readonly name: string;
  readonly seed: number;
  readonly upstream: string;
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  readonly faults = { tx: new DirectionFaults(), rx: new DirectionFaults() };
  private readonly accept = new AcceptFaults();
  private readonly rng: Rng;
  readonly logger: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly listenHost: string;
  private listenPort: number;
  private server: net.Server | undefined;
  private listening = false;
  private closing = false;
  private readonly conns = new Set<Connection>();
  private readonly held = new Set<Connection>(); // accepted while accept-pause is active
  /** connections waiting out an accept delay */
  private readonly acceptWaiting = new Map<Connection, { timer: LongTimer; acceptedAt: number }>();
  private readonly active = new Map<string, ActiveFault>();
  private nextConnId = 0;
  private nextFaultId = 0;
  private connectionsTotal = 0;
  private dialFailures = 0;
  private lastDialLog = 0;
  /** while true, failed upstream dials are counted but not logged (members still starting) */
  quiet = false;
  private readonly dirStats = { tx: emptyStats(), rx: emptyStats() };
  private readonly pipeMetrics: { tx: PipeMetrics | undefined; rx: PipeMetrics | undefined };

  constructor(readonly opts: LinkOptions) {
    super();
    this.name = opts.name;
    this.seed = opts.seed ?? randomSeed();
    this.rng = new Rng(this.seed);
    this.logger = opts.logger ?? silentLogger;
    this.metrics = opts.metrics;
    const l = splitHostPort(opts.listen);
    this.listenHost = l.host;
    this.listenPort = l.port;
    const u = splitHostPort(opts.upstream);
    this.upstream = opts.upstream;
    this.upstreamHost = u.host || '127.0.0.1';
    this.upstreamPort = u.port;
    this.pipeMetrics = { tx: this.childMetrics('tx'), rx: this.childMetrics('rx') };
  }

  private childMetrics(direction: 'tx' | 'rx'): PipeMetrics | undefined {
    const m = this.metrics;
    if (!m) return undefined;
    const bytes = (outcome: string): Counter.Internal => m.proxyBytes.labels({ link: this.name, direction, outcome });
    const delay: Histogram.Internal<string> = m.proxyDelay.labels({ link: this.name, direction });
    return {
      forwarded: bytes('forwarded'),
      dropped: bytes('dropped'),
      corrupted: bytes('corrupted'),
      blackholed: bytes('blackholed'),
      delay,
    };
  }

  /** Starts listening. Rejects with the listen error (err.code 'EADDRINUSE', 'EACCES', ...). */
  async start(): Promise<void> {
    await this.listen();
    this.logger.info(
      { link: this.name, listen: this.listenAddress(), upstream: this.upstream, seed: this.seed },
      'link listening',
    );
  }

  private listen(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onAccept(s));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const onListening = () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ link: this.name, err }, 'listener error'));
        this.server = server;
        this.listening = true;
        this.listenPort = (server.address() as net.AddressInfo).port;
        resolve();
      };
      if (this.listenHost) server.listen(this.listenPort, this.listenHost, onListening);
      else server.listen(this.listenPort, onListening);
    });
  }

  /** Stops accepting. Does not wait for open connections (server.close's callback would). */
  private async unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.listening = false;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.once('close', () => resolve());
      server.close();
      // the listening handle is gone on the next turn even while connections stay open
      setImmediate(resolve);
    });
  }

  /** Address actually bound (valid after start). */
  address(): { host: string; port: number } {
    return { host: this.listenHost, port: this.listenPort };
  }

  listenAddress(): string {
    return `${this.listenHost.includes(':') ? `[${this.listenHost}]` : this.listenHost}:${this.listenPort}`;
  }

  private onAccept(sock: net.Socket): void {
    if (this.closing || this.accept.refuse) {
      resetSocket(sock);
      return;
    }
    const conn = new Connection(++this.nextConnId, sock, this);
    this.conns.add(conn);
    this.connectionsTotal++;
    this.metrics?.proxyConnectionsTotal.inc({ link: this.name });
    this.metrics?.proxyConnections.inc({ link: this.name });
    this.emit('connection', conn.id);
    if (this.logger.isLevelEnabled('debug'))
      this.logger.debug({ link: this.name, conn: conn.id, remote: conn.remote }, 'accepted');
    if (this.accept.pause) {
      this.held.add(conn);
    } else if (this.accept.delay) {
      const wait = this.accept.delay.deliverAt(this.rng, 0, 0);
      this.waitAccept(conn, performance.now(), wait);
    } else {
      conn.dial();
    }
  }

  // ConnectionHost
  pipeContext(direction: 'tx' | 'rx', conn: Connection): PipeContext {
    const client = conn.remote;
    return {
      rng: this.rng,
      stats: this.dirStats[direction],
      metrics: this.pipeMetrics[direction],
      logger: this.logger,
      verb: direction === 'tx' ? 'transmitted' : 'received',
      from: direction === 'tx' ? client : this.upstream,
      to: direction === 'tx' ? this.upstream : client,
    };
  }

  onDialFailure(conn: Connection, err: Error): void {
    this.dialFailures++;
    this.metrics?.proxyDialFailures.inc({ link: this.name });
    // at most one line per 5 s per link: a member that is down is dialled many times a second
    const now = Date.now();
    if (!this.quiet && now - this.lastDialLog >= 5000) {
      this.logger.warn(
        { link: this.name, upstream: this.upstream, conn: conn.id, err: err.message, dialFailures: this.dialFailures },
        'upstream dial failed; client closed',
      );
      this.lastDialLog = now;
    }
    this.emit('dial-failure', err);
  }

  onClosed(conn: Connection): void {
    if (this.conns.delete(conn)) this.metrics?.proxyConnections.dec({ link: this.name });
    this.held.delete(conn);
    this.acceptWaiting.get(conn)?.timer.cancel();
    this.acceptWaiting.delete(conn);
  }

  // faults

  /**
   * Applies a fault validated by faultSpecSchema (parseFaultSpec); a fault of the same type on the same
   * scope is replaced.
   */
  addFault(spec: FaultSpec): FaultInfo {
    const scope = faultScope(spec);
    const now = Date.now();
    const info: FaultInfo = {
      id: `${this.name}-${++this.nextFaultId}`,
      type: spec.type,
      scope,
      spec,
      createdAt: new Date(now).toISOString(),
    };
    if (spec.type === 'reset') {
      const n = this.resetConnections();
      this.logger.info({ link: this.name, connections: n }, 'reset all connections');
      return info;
    }
    if (spec.type === 'reset-listener') {
      void this.resetListener();
      return info;
    }
    const old = this.findFault(spec.type, scope);
    if (old) this.removeActive(old.id, 'replaced');
    let timer: LongTimer | undefined;
    if (spec.duration !== undefined) {
      info.expiresAt = new Date(now + spec.duration).toISOString();
      timer = new LongTimer(spec.duration, () => this.removeActive(info.id, 'expired'), { unref: true });
    }
    this.active.set(info.id, { info, timer });
    this.apply(spec, true);
    this.metrics?.faultActive.set({ link: this.name, direction: scope, type: spec.type }, 1);
    this.logger.info({ link: this.name, fault: info }, 'fault added');
    this.emit('fault-added', info);
    return info;
  }

  removeFault(id: string): boolean {
    return this.removeActive(id, 'removed');
  }

  findFault(type: FaultType, scope?: FaultScope): FaultInfo | undefined {
    for (const { info } of this.active.values())
      if (info.type === type && (!scope || info.scope === scope)) return info;
    return undefined;
  }

  listFaults(): FaultInfo[] {
    return [...this.active.values()].map((a) => a.info);
  }

  clearFaults(): void {
    for (const id of [...this.active.keys()]) this.removeActive(id, 'cleared');
  }

  private removeActive(id: string, reason: 'removed' | 'expired' | 'cleared' | 'replaced'): boolean {
    const a = this.active.get(id);
    if (!a) return false;
    this.active.delete(id);
    a.timer?.cancel();
    this.apply(a.info.spec, false, reason !== 'replaced');
    this.metrics?.faultActive.set({ link: this.name, direction: a.info.scope, type: a.info.type }, 0);
    this.logger.info({ link: this.name, fault: a.info.id, type: a.info.type, reason }, 'fault removed');
    this.emit('fault-removed', a.info, reason);
    return true;
  }

  /**
   * Sets or clears the live fault state for a spec, then lets every connection re-evaluate. A replaced
   * fault is cleared without `refresh`: the new one is applied right after, and connections (queued
   * chunks, waiting accepts) re-evaluate once, under it.
   */
  private apply(spec: FaultSpec, on: boolean, refresh = true): void {
    switch (spec.type) {
      case 'delay':
        this.faults[spec.direction].delay = on
          ? new DelayFault(spec.latency, spec.jitter, spec.distribution)
          : undefined;
        break;
      case 'pause':
        this.faults[spec.direction].pause = on;
        break;
      case 'blackhole':
        this.faults[spec.direction].blackhole = on;
        break;
      case 'drop':
        this.faults[spec.direction].drop = on ? new DropFault(spec.probability) : undefined;
        break;
      case 'corrupt':
        this.faults[spec.direction].corrupt = on ? new CorruptFault(spec.probability) : undefined;
        break;
      case 'bandwidth':
        this.faults[spec.direction].bandwidth = on ? new BandwidthFault(spec.rate) : undefined;
        break;
      case 'accept-delay':
        this.accept.delay = on ? new DelayFault(spec.latency, spec.jitter, 'uniform') : undefined;
        if (refresh) this.retimeAccepts();
        break;
      case 'accept-pause':
        this.accept.pause = on;
        if (!on) {
          const held = [...this.held];
          this.held.clear();
          for (const c of held) c.dial();
        }
        break;
      case 'refuse':
        this.accept.refuse = on ? spec.mode : undefined;
        if (spec.mode === 'close') void this.setListening(!on);
        break;
      case 'reset':
      case 'reset-listener':
        break;
    }
    if (refresh) for (const c of this.conns) c.refresh();
  }

  /** Holds an accepted connection until `delay` ms after `acceptedAt` (performance.now()), then dials. */
  private waitAccept(conn: Connection, acceptedAt: number, delay: number): void {
    const left = acceptedAt + delay - performance.now();
    if (left <= 0) {
      conn.dial();
      return;
    }
    const timer = new LongTimer(left, () => {
      this.acceptWaiting.delete(conn);
      conn.dial();
    });
    this.acceptWaiting.set(conn, { timer, acceptedAt });
  }

  /** The accept delay changed: connections waiting out the old one are re-timed (or dialled now). */
  private retimeAccepts(): void {
    const waiting = [...this.acceptWaiting];
    this.acceptWaiting.clear();
    for (const [conn, w] of waiting) {
      w.timer.cancel();
      const d = this.accept.delay;
      if (d) this.waitAccept(conn, w.acceptedAt, d.deliverAt(this.rng, 0, 0));
      else conn.dial();
    }
  }

  private async setListening(on: boolean): Promise<void> {
    try {
      if (on && !this.listening && !this.closing) {
        // the old handle may still be closing: retry briefly on EADDRINUSE
        for (let i = 0; ; i++) {
          try {
            await this.listen();
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i >= 20) throw err;
            await new Promise((r) => setTimeout(r, 10));
          }
        }
      } else if (!on && this.listening) await this.unlisten();
    } catch (err) {
      this.logger.error({ link: this.name, err }, 'could not re-open the listener');
      this.emit('error', err);
    }
  }

  /** Closes and re-opens the listener; open connections are untouched. */
  async resetListener(): Promise<void> {
    if (!this.listening) return;
    await this.unlisten();
    await this.setListening(true);
    this.logger.info({ link: this.name }, 'listener reset');
  }

  /** RST every live connection; returns how many. */
  resetConnections(): number {
    const all = [...this.conns];
    for (const c of all) c.reset();
    return all.length;
  }

  stats(): LinkStats {
    return {
      name: this.name,
      kind: this.opts.kind,
      member: this.opts.member,
      listen: this.listenAddress(),
      upstream: this.upstream,
      connections: this.conns.size,
      connectionsTotal: this.connectionsTotal,
      dialFailures: this.dialFailures,
      tx: { ...this.dirStats.tx },
      rx: { ...this.dirStats.rx },
      faults: this.listFaults(),
    };
  }

  /** Stops listening, destroys every connection and removes every fault. */
  async close(): Promise<void> {
    this.closing = true;
    for (const w of this.acceptWaiting.values()) w.timer.cancel();
    this.acceptWaiting.clear();
    for (const a of this.active.values()) {
      a.timer?.cancel();
      this.metrics?.faultActive.set({ link: this.name, direction: a.info.scope, type: a.info.type }, 0);
    }
    this.active.clear();
    const closing = this.unlisten();
    for (const c of [...this.conns]) c.destroy();
    await closing;
    this.emit('close');
  }
}
