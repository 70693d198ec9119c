// A contender's session, as clientv3/concurrency.Session: one lease of the profile's TTL, renewed every
// TTL/3 through the contender's own LeaseKeepAlive stream. `lost` aborts when etcd answers a renewal
// with TTL 0 (the lease expired or was revoked): a wait or a hold on it is over. A stream that broke is
// reopened by the next renewal; one on a connection that moved to another endpoint is replaced.
import type { Connection } from '../../pool.js';
import type { EtcdWireClient } from '../../wire/client.js';
import { leaseGrant, leaseKeepAlive, leaseRevoke, type LeaseKeepAliveStream } from '../../wire/lease.js';

export class Session {
  private readonly lostCtl = new AbortController();
  private stream: LeaseKeepAliveStream | undefined;
  private streamClient: EtcdWireClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  /** renewals answered (TTL > 0) */
  renewals = 0;

  private constructor(
    private readonly conn: Connection,
    readonly id: bigint,
    private readonly ttlSeconds: number,
    private readonly onError: (message: string) => void,
  ) {}

  /** Grants the lease and starts renewing it. */
  static async open(
    conn: Connection,
    ttlMs: number,
    opts: { timeoutMs: number; onError: (message: string) => void },
  ): Promise<Session> {
    const ttl = Math.round(ttlMs / 1000);
    const g = await leaseGrant(conn.client, ttl, { timeoutMs: opts.timeoutMs });
    const s = new Session(conn, g.id, ttl, opts.onError);
    s.schedule();
    return s;
  }

  /** aborted once etcd said the lease is gone */
  get lost(): AbortSignal {
    return this.lostCtl.signal;
  }

  /** the lease id as clientv3 writes it in a mutex key (`%x`) */
  get hex(): string {
    return this.id.toString(16);
  }

  private schedule(): void {
    if (this.ended) return;
    this.timer = setTimeout(() => this.renew(), (this.ttlSeconds * 1000) / 3);
  }

  private renew(): void {
    if (this.ended || this.lost.aborted) return;
    if (this.stream && this.streamClient !== this.conn.client) this.closeStream();
    if (!this.stream) {
      const s = leaseKeepAlive(this.conn.client);
      s.on('response', (id: bigint, ttl: number) => {
        if (id !== this.id) return;
        if (ttl > 0) this.renewals++;
        // told inside the stream's data callback: what the abort ends (an http2 call) ends a turn later
        else setImmediate(() => this.lostCtl.abort(new Error(`lease ${this.hex} is gone`)));
      });
      s.on('error', (err: Error) => this.onError(`keepalive of lease ${this.hex}: ${err.message}`));
      this.stream = s;
      this.streamClient = this.conn.client;
    }
    this.stream.keepAlive(this.id);
    this.schedule();
  }

  /** Stops renewing (the lease runs out by itself). */
  stop(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.closeStream();
  }

  /** Resets the keepalive stream a turn later: the caller may run inside another stream's http2 callback. */
  private closeStream(): void {
    const s = this.stream;
    this.stream = undefined;
    if (s) setImmediate(() => s.close());
  }

  /** Stops renewing and revokes the lease (its keys go with it); a failure leaves it to expire. */
  async end(timeoutMs: number): Promise<void> {
    this.stop();
    try {
      await leaseRevoke(this.conn.client, this.id, { timeoutMs });
    } catch {
      // expired already, or unreachable: the TTL ends it
    }
  }
}
