// A link: one listen address, one upstream, its live connections and its fault state (tx, rx, accept,
// link). Fault modules (faults/registry.ts) install into that state; connections consult it per chunk,
// so a change applies at once to open and new connections. Any fault may carry a duration after which
// it removes itself; expiry and the fault stamps follow the link's clock (injectable in tests).
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../metrics.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { Conflict } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { splitHostPort } from '../util/net.js';
import { Rng, randomSeed } from '../util/rng.js';
import { AcceptQueue } from './accept.js';
import { Connection, resetSocket, type ConnectionHost } from './connection.js';
import { AcceptFaults, DirectionFaults, type LiveFaults } from './faults/live.js';
import { faultHandler, faultScope, faultTypes } from './faults/registry.js';
import type { PipeContext, PipeMetrics } from './pipe.js';
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
  /** time for fault expiry, fault stamps and the dial-failure log throttle (default: the system's) */
  clock?: Clock;
}

interface ActiveFault {
  info: FaultInfo;
  uninstall: () => void;
  timer: TimerHandle | undefined;
}

type RemoveReason = 'removed' | 'expired' | 'cleared' | 'replaced';

const emptyStats = (): DirectionStats => ({ read: 0, forwarded: 0, dropped: 0, corrupted: 0, blackholed: 0 });

/** Emits 'fault-added'(FaultInfo), 'fault-removed'(FaultInfo, reason), 'fault-once'(FaultInfo) for a one-shot fault that acted. */
export class Link extends EventEmitter implements ConnectionHost {
  readonly name: string;
  readonly seed: number;
  readonly upstream: string;
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  readonly faults = { tx: new DirectionFaults(faultTypes), rx: new DirectionFaults(faultTypes) };
  private readonly accept = new AcceptFaults();
  /** what fault modules install into */
  private readonly live: LiveFaults;
  private readonly clock: Clock;
  private readonly rng: Rng;
  readonly logger: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly listenHost: string;
  private listenPort: number;
  private server: net.Server | undefined;
  private listening = false;
  private closing = false;
  private readonly conns = new Set<Connection>();
  private readonly admission: AcceptQueue<Connection>;
  private readonly active = new Map<string, ActiveFault>();
  private nextConnId = 0;
  private nextFaultId = 0;
  private connectionsTotal = 0;
  private dialFailures = 0;
  private lastDialLog = -Infinity;
  /** while true, failed upstream dials are counted but not logged (members still starting) */
  quiet = false;
  /**
   * While set (member-aware partitions), an accepted connection is admitted once this resolves true and
   * reset when it resolves false; unset, the accept path does nothing more.
   */
  classifier: ((conn: Connection) => Promise<boolean>) | undefined = undefined;
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
    this.clock = opts.clock ?? systemClock;
    this.admission = new AcceptQueue(this.accept, this.rng);
    this.live = {
      tx: this.faults.tx,
      rx: this.faults.rx,
      accept: this.accept,
      link: {
        name: this.name,
        logger: this.logger,
        resetConnections: () => this.resetConnections(),
        resetListener: () => this.resetListener(),
        setListening: (on) => this.setListening(on),
      },
    };
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
    const classify = this.classifier;
    if (classify === undefined) this.admission.admit(conn);
    else
      classify(conn).then(
        (admit) => (conn.isClosed ? undefined : admit ? this.admission.admit(conn) : conn.reset()),
        (err: unknown) => {
          this.logger.warn({ link: this.name, conn: conn.id, err }, 'connection not classified; reset');
          conn.reset();
        },
      );
  }

  /** The live connections. */
  connections(): Connection[] {
    return [...this.conns];
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
    const now = this.clock.now();
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
    this.admission.forget(conn);
  }

  // faults

  /**
   * Applies a fault validated by faultSpecSchema (parseFaultSpec); a fault of the same type on the same
   * scope is replaced. `id` (a fault spanning several links carries one id on each) is used verbatim;
   * by default `<link>-<n>`. A one-shot fault (reset, reset-listener) acts at once and stays in no list.
   */
  addFault(spec: FaultSpec, opts: { id?: string } = {}): FaultInfo {
    const handler = faultHandler(spec.type);
    const scope = faultScope(spec);
    const now = this.clock.wallNow();
    const old = handler.once ? undefined : this.findFault(spec.type, scope);
    const taken = opts.id === undefined ? undefined : this.active.get(opts.id);
    if (taken && taken.info !== old)
      throw new Conflict(`fault id ${JSON.stringify(opts.id)} is in use on link ${this.name}`);
    const info: FaultInfo = {
      id: opts.id ?? this.newFaultId(),
      type: spec.type,
      scope,
      spec,
      createdAt: new Date(now).toISOString(),
    };
    if (handler.once) {
      this.runOnce(spec);
      this.emit('fault-once', info);
      return info;
    }
    if (old) this.removeActive(old.id, 'replaced');
    let timer: TimerHandle | undefined;
    if (spec.duration !== undefined) {
      info.expiresAt = new Date(now + spec.duration).toISOString();
      timer = this.clock.setTimeout(() => this.removeActive(info.id, 'expired'), spec.duration, { unref: true });
    }
    this.active.set(info.id, { info, timer, uninstall: handler.install!(this.live, spec) });
    this.refresh();
    this.metrics?.faultActive.set({ link: this.name, direction: scope, type: spec.type }, 1);
    this.logger.info({ link: this.name, fault: info }, 'fault added');
    this.emit('fault-added', info);
    return info;
  }

  /** `<link>-<n>`, skipping any id given explicitly before */
  private newFaultId(): string {
    let id: string;
    do id = `${this.name}-${++this.nextFaultId}`;
    while (this.active.has(id));
    return id;
  }

  /** Runs a one-shot fault (reset, reset-listener) now; returns how many connections it acted on. */
  runOnce(spec: FaultSpec): number {
    const handler = faultHandler(spec.type);
    if (!handler.once) throw new Error(`fault ${spec.type} is not a one-shot fault`);
    return handler.once(this.live, spec);
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

  /**
   * A replaced fault is cleared without a refresh: the new one is installed right after, and
   * connections (queued chunks, waiting accepts) re-evaluate once, under it.
   */
  private removeActive(id: string, reason: RemoveReason): boolean {
    const a = this.active.get(id);
    if (!a) return false;
    this.active.delete(id);
    a.timer?.cancel();
    a.uninstall();
    if (reason !== 'replaced') this.refresh();
    this.metrics?.faultActive.set({ link: this.name, direction: a.info.scope, type: a.info.type }, 0);
    this.logger.info({ link: this.name, fault: a.info.id, type: a.info.type, reason }, 'fault removed');
    this.emit('fault-removed', a.info, reason);
    return true;
  }

  /** The fault state changed: waiting and held accepts and every connection re-evaluate. */
  private refresh(): void {
    this.admission.refresh();
    for (const c of this.conns) c.refresh();
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
    this.admission.close();
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
