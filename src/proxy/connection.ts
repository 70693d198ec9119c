// One accepted client and its upstream: two pipes (tx, rx). Half-close is forwarded; an error on either
// side resets the other; a failed dial resets the client at once (never a silent open socket).
import net from 'node:net';
import { Pipe, type PipeContext } from './pipe.js';
import type { DirectionFaults } from './faults/live.js';

export interface ConnectionHost {
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  readonly faults: { tx: DirectionFaults; rx: DirectionFaults };
  pipeContext(direction: 'tx' | 'rx', conn: Connection): PipeContext;
  onDialFailure(conn: Connection, err: Error): void;
  /** the upstream answered, just before forwarding starts (the egress answers a CONNECT here) */
  onUpstreamConnected?(conn: Connection): void;
  onClosed(conn: Connection): void;
}

/** A connection's own faults and counters instead of its host's (member-aware partitions). */
export interface ConnectionOverride {
  faults: { tx: DirectionFaults; rx: DirectionFaults };
  /** `own`: the host's context for this direction (to count into both) */
  pipeContext(direction: 'tx' | 'rx', own: PipeContext): PipeContext;
}

export class Connection {
  private upstream: net.Socket | undefined;
  private override: ConnectionOverride | undefined;
  private tx: Pipe | undefined;
  private rx: Pipe | undefined;
  private closed = false;
  readonly remote: string;

  constructor(
    readonly id: number,
    readonly client: net.Socket,
    private readonly host: ConnectionHost,
  ) {
    this.remote = `${client.remoteAddress}:${client.remotePort}`;
    client.setNoDelay(true);
    client.on('error', () => this.abort(client));
    client.on('close', (hadError) => this.onSocketClose(client, hadError));
  }

  /** Dials the upstream and starts forwarding. */
  dial(): void {
    if (this.closed || this.client.destroyed) return this.finish();
    const up = net.connect({ host: this.host.upstreamHost, port: this.host.upstreamPort, allowHalfOpen: true });
    this.upstream = up;
    up.setNoDelay(true);
    let connected = false;
    up.once('connect', () => {
      connected = true;
      if (this.client.destroyed) return this.abort(this.client);
      this.host.onUpstreamConnected?.(this);
      this.tx = new Pipe(this.client, up, this.faultsOf('tx'), this.contextOf('tx'));
      this.rx = new Pipe(up, this.client, this.faultsOf('rx'), this.contextOf('rx'));
      this.tx.start();
      this.rx.start();
    });
    up.on('error', (err) => {
      if (!connected) {
        this.host.onDialFailure(this, err);
        resetSocket(this.client);
        this.finish();
      } else {
        this.abort(up);
      }
    });
    up.on('close', (hadError) => this.onSocketClose(up, hadError));
  }

  /** Gives the connection its own faults and counters (undefined: its host's again); applies at once. */
  setOverride(override: ConnectionOverride | undefined): void {
    this.override = override;
    this.tx?.retarget(this.faultsOf('tx'), this.contextOf('tx'));
    this.rx?.retarget(this.faultsOf('rx'), this.contextOf('rx'));
  }

  /** both sockets are gone */
  get isClosed(): boolean {
    return this.closed;
  }

  private faultsOf(d: 'tx' | 'rx'): DirectionFaults {
    return (this.override ?? this.host).faults[d];
  }

  private contextOf(d: 'tx' | 'rx'): PipeContext {
    const own = this.host.pipeContext(d, this);
    return this.override ? this.override.pipeContext(d, own) : own;
  }

  /** Faults changed: let both pipes re-evaluate (resume, re-arm timers). */
  refresh(): void {
    this.tx?.pump();
    this.rx?.pump();
  }

  /** RST both sides (the 'reset' fault). */
  reset(): void {
    resetSocket(this.client);
    if (this.upstream) resetSocket(this.upstream);
    this.finish();
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
    this.finish();
  }

  /** An error on one side: reset the other so the peer sees the failure, as a real network would. */
  private abort(from: net.Socket): void {
    const other = from === this.client ? this.upstream : this.client;
    from.destroy();
    if (other && !other.destroyed) resetSocket(other);
    this.finish();
  }

  private onSocketClose(sock: net.Socket, hadError: boolean): void {
    // a graceful close needs nothing: the other side finishes once its pipe has flushed and ended it
    if (hadError) this.abort(sock);
    else this.finish();
  }

  /** Accounts the connection as closed once both sockets are gone. */
  private finish(): void {
    if (this.closed) return;
    if (!this.client.destroyed || (this.upstream && !this.upstream.destroyed)) return;
    this.closed = true;
    this.tx?.dispose();
    this.rx?.dispose();
    this.host.onClosed(this);
  }
}

/**
 * RST a socket. After end() (a forwarded FIN) in the same tick, libuv refuses the reset while the
 * shutdown is pending, yet Node marks the handle closing: it never closes, leaks its fd, and the process
 * spins at exit waiting for it. Such a socket is destroyed instead (the peer already has our FIN).
 */
export function resetSocket(s: net.Socket): void {
  if (s.destroyed) return;
  if (s.writableEnded) {
    s.destroy();
    return;
  }
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}
