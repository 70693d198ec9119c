// One registered service, as a real client runs it: grant a lease, keep it alive every TTL/3 on its
// connection's keepalive stream, put its key bound to the lease. A keepalive unanswered for TTL/3 moves
// the service to a connection on another member (a frozen or cut-off member alone does not kill it).
// Every incarnation (one lease) is told to the checker: its grant, each acknowledged renewal with the
// time its keepalive was sent, its stop and its end.
import type { Clock, TimerHandle } from '../../../util/clock.js';
import type { EtcdWireClient } from '../../wire/client.js';
import type { WireError } from '../../wire/grpc.js';
import { kvPut } from '../../wire/kv.js';
import { leaseGrant, leaseKeepAlive, leaseRevoke, type LeaseKeepAliveStream } from '../../wire/lease.js';
import type { ClientPool } from '../../pool.js';
import type { WorkloadBook } from '../book.js';
import type { RegistryChecker } from './checker.js';

/** pause before a failed grant or put is tried again, on the next member */
const RETRY_MS = 250;

export interface ServiceEnv {
  readonly pool: ClientPool;
  readonly clock: Clock;
  readonly checker: RegistryChecker;
  readonly book: WorkloadBook;
  readonly hub: KeepAliveHub;
  readonly ttlMs: number;
  readonly timeoutMs: number;
  /** false once the run halts: no new registration */
  registering(): boolean;
  /** a grant or put in flight (+1) or answered (−1) */
  busy(delta: number): void;
  error(message: string): void;
}

type State = 'idle' | 'registering' | 'live' | 'stopped' | 'closed';

const resultOf = (err: WireError) => (err.sent === false ? 'failed' : 'indeterminate');

export class Service {
  state: State = 'idle';
  /** incarnations granted so far; the current one's number */
  incarnation = 0;
  lease: bigint | undefined;
  /** the put of the current incarnation was acknowledged */
  registered = false;
  private pending: { conn: number; sentAt: number }[] = [];
  /** send time of the oldest keepalive not answered */
  private waitingSince: number | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    readonly name: string,
    readonly key: string,
    /** the connection (index in the pool) its calls and keepalives go to */
    public conn: number,
    private readonly env: ServiceEnv,
  ) {}

  /** Starts a new incarnation: grant, keepalives, put (retried on the next member until it holds). */
  register(): void {
    if (this.state === 'registering' || this.state === 'closed' || !this.env.registering()) return;
    this.state = 'registering';
    void this.registerLoop();
  }

  private async registerLoop(): Promise<void> {
    const { env } = this;
    while (this.lease === undefined) {
      if (this.state !== 'registering' || !env.registering()) return void this.idle();
      const sentAt = env.clock.now();
      env.busy(1);
      try {
        const g = await leaseGrant(this.client(), env.ttlMs / 1000, { timeoutMs: env.timeoutMs });
        env.book.op('grant', 'ok', env.clock.now() - sentAt);
        if (this.state !== 'registering') {
          // closed meanwhile: this lease is nobody's, let it go
          void leaseRevoke(this.client(), g.id, { timeoutMs: env.timeoutMs }).catch(() => undefined);
          return;
        }
        this.lease = g.id;
        this.incarnation++;
        this.registered = false;
        env.hub.bind(g.id, this);
        env.checker.granted(this.key, this.incarnation, sentAt, g.ttl * 1000);
        this.keepaliveTick();
      } catch (err) {
        env.book.op('grant', resultOf(err as WireError), env.clock.now() - sentAt);
        this.retryElsewhere(`grant: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      } finally {
        env.busy(-1);
      }
    }
    const value = JSON.stringify({ name: this.name, lease: this.lease.toString(), incarnation: this.incarnation });
    const lease = this.lease;
    while (this.state === 'registering' && this.lease === lease && env.registering()) {
      const sentAt = env.clock.now();
      env.busy(1);
      try {
        const r = await kvPut(this.client(), this.key, value, { timeoutMs: env.timeoutMs, lease });
        env.book.op('put', 'ok', env.clock.now() - sentAt);
        if (this.lease !== lease) return;
        env.checker.put(this.key, this.incarnation, r.revision);
        this.registered = true;
        env.book.count('registered');
        if (this.state === 'registering') this.state = 'live';
        return;
      } catch (err) {
        const e = err as WireError;
        env.book.op('put', resultOf(e), env.clock.now() - sentAt);
        // the lease is gone before the key was written: a new incarnation
        if (/lease not found/.test(e.message)) return this.gone(this.incarnation, env.clock.now(), 0, 'lease');
        this.retryElsewhere(`put: ${e.message}`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      } finally {
        env.busy(-1);
      }
    }
  }

  private idle(): void {
    if (this.state === 'registering') this.state = 'idle';
  }

  private client(): EtcdWireClient {
    return this.env.pool.connections[this.conn].client;
  }

  private keepaliveTick(): void {
    this.timer?.cancel();
    if (this.lease === undefined || (this.state !== 'registering' && this.state !== 'live')) return;
    const { env } = this;
    const now = env.clock.now();
    if (this.waitingSince !== undefined && now - this.waitingSince >= env.ttlMs / 3) {
      this.retryElsewhere('keepalive unanswered for TTL/3');
      this.waitingSince = undefined;
    }
    // sent first: a stalled stream replaced by this send forgets what waited on it, not this one
    env.hub.send(this.conn, this.lease);
    this.pending.push({ conn: this.conn, sentAt: now });
    this.waitingSince ??= now;
    this.timer = env.clock.setTimeout(() => this.keepaliveTick(), env.ttlMs / 3);
  }

  /** A keepalive answer on `conn`'s stream: it answers the oldest keepalive sent there. */
  onResponse(conn: number, ttl: number, revision: number, term: number): void {
    const { env } = this;
    const i = this.pending.findIndex((p) => p.conn === conn);
    if (i < 0 || this.lease === undefined) return;
    const sentAt = this.pending[i].sentAt;
    // answered or superseded: every keepalive sent up to this one
    this.pending = this.pending.filter((p) => p.sentAt > sentAt);
    this.waitingSince = this.pending[0]?.sentAt;
    const now = env.clock.now();
    if (ttl > 0) {
      env.book.op('keepalive', 'ok', now - sentAt);
      env.checker.acked(this.key, this.incarnation, sentAt, ttl * 1000, term);
      return;
    }
    // ttl 0: the lease is gone, and its key with it
    env.checker.observeTerm(term);
    this.gone(this.incarnation, now, revision, 'lease');
  }

  /** The stream of `conn` broke: what was sent there is never answered (the next keepalive reopens it). */
  streamBroken(conn: number): void {
    this.pending = this.pending.filter((p) => p.conn !== conn);
  }

  /** Stops its keepalives, as if killed: its key must vanish after about TTL. */
  stop(): boolean {
    if (this.state !== 'live') return false;
    this.state = 'stopped';
    this.timer?.cancel();
    this.env.checker.stopped(this.key, this.incarnation, this.env.clock.now());
    this.env.book.count('stopped');
    return true;
  }

  /**
   * This incarnation's key (or lease) was seen gone: the checker judges the end; the service registers
   * again (a new lease, incarnation + 1).
   */
  gone(incarnation: number, at: number, revision: number, via: 'watch' | 'range' | 'lease'): void {
    this.env.checker.vanished(this.key, incarnation, at, revision, via);
    if (incarnation !== this.incarnation || this.lease === undefined || this.state === 'closed') return;
    if (this.state === 'stopped') this.env.book.count('expired');
    this.restart();
  }

  private restart(): void {
    this.drop();
    this.state = 'idle';
    this.register();
  }

  /** forgets the current lease (keepalives stop) */
  private drop(): void {
    this.timer?.cancel();
    if (this.lease !== undefined) this.env.hub.unbind(this.lease);
    this.lease = undefined;
    this.registered = false;
    this.pending = [];
    this.waitingSince = undefined;
  }

  /** Moves to a connection on another member (as a client fails over). */
  private retryElsewhere(why: string): void {
    const conns = this.env.pool.connections;
    const here = conns[this.conn].endpoint;
    let to = (this.conn + 1) % conns.length;
    for (let k = 1; k < conns.length; k++) {
      const c = conns[(this.conn + k) % conns.length];
      if (c.endpoint !== here) {
        to = c.idx;
        break;
      }
    }
    this.env.error(`registry ${this.name} on ${here}: ${why}; moving to ${conns[to].endpoint}`);
    this.env.book.count('failovers');
    this.conn = to;
  }

  /** The run ends: the checker does not judge this incarnation's end; its lease is revoked (best effort). */
  async release(): Promise<void> {
    const lease = this.lease;
    const client = this.client();
    if (lease !== undefined) this.env.checker.release(this.key, this.incarnation);
    this.drop();
    this.state = 'closed';
    if (lease === undefined) return;
    const sentAt = this.env.clock.now();
    try {
      await leaseRevoke(client, lease, { timeoutMs: this.env.timeoutMs });
      this.env.book.op('revoke', 'ok', this.env.clock.now() - sentAt);
    } catch (err) {
      this.env.book.op('revoke', resultOf(err as WireError), this.env.clock.now() - sentAt);
    }
  }

  close(): void {
    this.drop();
    this.state = 'closed';
  }
}

/** one connection's keepalive stream; `waitingSince`: when the stream last made progress with sends outstanding */
interface HubStream {
  client: EtcdWireClient;
  stream: LeaseKeepAliveStream;
  outstanding: number;
  waitingSince: number | undefined;
}

/**
 * One keepalive stream per connection, shared by the services on it (as a client's lessor multiplexes
 * its leases), answers routed by lease id. A connection moved to another member gets a fresh stream, and
 * so does a stream that answered nothing for `stallMs` while keepalives waited: etcd serves a keepalive
 * stream one renewal at a time, and a follower forwards each to the leader, so one renewal stuck on a
 * frozen leader holds up every later one on that stream, also after a new leader is elected.
 */
export class KeepAliveHub {
  private readonly streams = new Map<number, HubStream>();
  private readonly byLease = new Map<bigint, Service>();

  constructor(
    private readonly pool: ClientPool,
    private readonly clock: Clock,
    private readonly stallMs: number,
    private readonly onError: (conn: number, message: string) => void,
    private readonly onReopen: () => void,
  ) {}

  bind(lease: bigint, s: Service): void {
    this.byLease.set(lease, s);
  }

  unbind(lease: bigint): void {
    this.byLease.delete(lease);
  }

  send(conn: number, lease: bigint): void {
    const client = this.pool.connections[conn].client;
    const now = this.clock.now();
    let s = this.streams.get(conn);
    const stalled = s?.waitingSince !== undefined && now - s.waitingSince >= this.stallMs;
    if (!s || s.client !== client || s.stream.closed || stalled) {
      if (s) {
        s.stream.close();
        // what waited there is never answered now
        for (const svc of this.byLease.values()) svc.streamBroken(conn);
        if (stalled) this.onReopen();
      }
      s = { client, stream: leaseKeepAlive(client), outstanding: 0, waitingSince: undefined };
      this.listen(conn, s);
      this.streams.set(conn, s);
    }
    s.outstanding++;
    s.waitingSince ??= now;
    s.stream.keepAlive(lease);
  }

  private listen(conn: number, s: HubStream): void {
    const { stream } = s;
    stream.on('response', (id: bigint, ttl: number, revision: number, term?: number) => {
      // a replaced stream's answer would be matched to a keepalive sent later on its successor
      if (this.streams.get(conn) !== s) return;
      s.outstanding = Math.max(0, s.outstanding - 1);
      s.waitingSince = s.outstanding ? this.clock.now() : undefined;
      this.byLease.get(id)?.onResponse(conn, ttl, revision, term ?? 0);
    });
    stream.on('error', (err: Error) => {
      if (this.streams.get(conn)?.stream !== stream) return;
      s.outstanding = 0;
      s.waitingSince = undefined;
      for (const svc of this.byLease.values()) svc.streamBroken(conn);
      this.onError(conn, err.message);
    });
  }

  close(): void {
    for (const s of this.streams.values()) s.stream.close();
    this.streams.clear();
    this.byLease.clear();
  }
}
