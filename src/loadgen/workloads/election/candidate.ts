// One candidate of the election: a session lease of its own (TTL sessionTtl, renewed every third of it
// on a LeaseKeepAlive stream), a Campaign that blocks until it leads, then a term: it proclaims
// `<candidate>:<campaign#>:<seq>` every fifth of electionTerm, resigns and campaigns again. It believes
// it leads from the Campaign's answer until it resigns or learns its key or lease is gone (a refused
// Proclaim, a keepalive answered with TTL 0): the checker compares those beliefs (unsafeLeader).
import { Status, WireError } from '../../wire/client.js';
import { campaign, proclaim, resign, type LeaderKey } from '../../wire/concurrency.js';
import { leaseGrant, leaseKeepAlive, leaseRevoke, type LeaseKeepAliveStream } from '../../wire/lease.js';
import type { Connection } from '../../pool.js';
import type { OpResult } from '../section.js';
import type { WorkloadBook } from '../book.js';
import type { WorkloadContext } from '../types.js';
import type { ElectionChecker } from './checker.js';

/** what a candidate shares with the workload */
export interface CandidateHost {
  readonly ctx: WorkloadContext;
  readonly book: WorkloadBook;
  readonly checker: ElectionChecker;
  /** the election's name */
  readonly electionName: string;
  /** false once the workload halts */
  readonly running: boolean;
  /** a Campaign returned: the workload numbers the term */
  onElected(candidate: Candidate): void;
  /** a leader stopped leading (resigns, or learnt its key is gone): the change observers will see starts */
  onSteppedDown(): void;
}

/** pause after a failed step before the next */
const BACKOFF_MS = 250;

/** An error etcd answered (the operation was not applied), as opposed to one without an answer. */
export function resultOf(err: unknown): OpResult {
  if (!(err instanceof WireError) || !err.sent) return 'failed';
  const c = err.code;
  return typeof c === 'number' && c !== Status.UNAVAILABLE && c !== Status.DEADLINE_EXCEEDED && c !== Status.CANCELLED
    ? 'failed'
    : 'indeterminate';
}

const leaseGone = (err: unknown) => err instanceof Error && /lease not found/.test(err.message);
const notLeader = (err: unknown) => err instanceof Error && /not leader/.test(err.message);

export class Candidate {
  inFlight = 0;
  /** the leader key while it believes it leads */
  leading: LeaderKey | undefined;
  private lease: bigint | undefined;
  private keepalive: LeaseKeepAliveStream | undefined;
  private renew: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private campaigns = 0;
  private stopped = false;
  /** the loop's end (after its resign, when it led) */
  done: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly conn: Connection,
    private readonly host: CandidateHost,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  /** Halts: a waiting Campaign is aborted (etcd deletes its key); a leader resigns after its current step. */
  halt(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    const { ctx } = this.host;
    while (this.host.running && !this.stopped) {
      try {
        if (this.lease === undefined) await this.grant();
        await this.campaignOnce();
      } catch (err) {
        if (this.stopped) break;
        if (leaseGone(err)) this.forgetLease();
        ctx.error(`election ${this.id} on ${this.conn.endpoint}: ${(err as Error).message}`);
        await sleep(BACKOFF_MS);
      }
    }
  }

  private async op<T>(op: string, call: () => Promise<T>, inFlight = true): Promise<T> {
    const clock = this.host.ctx.clock;
    const t0 = clock.now();
    if (inFlight) this.inFlight++;
    try {
      const r = await call();
      this.host.book.op(op, 'ok', clock.now() - t0);
      return r;
    } catch (err) {
      if (!this.stopped || op !== 'campaign') this.host.book.op(op, resultOf(err), clock.now() - t0);
      throw err;
    } finally {
      if (inFlight) this.inFlight--;
    }
  }

  private async grant(): Promise<void> {
    const p = this.host.ctx.profile;
    const ttl = Math.round(p.sessionTtl / 1000);
    const g = await this.op('grant', () => leaseGrant(this.conn.client, ttl, { timeoutMs: p.putTimeout }));
    this.lease = g.id;
    clearInterval(this.renew);
    this.renew = setInterval(() => this.keepAlive(), Math.max(500, p.sessionTtl / 3));
  }

  private keepAlive(): void {
    if (this.lease === undefined) return;
    if (!this.keepalive) {
      const ka = leaseKeepAlive(this.conn.client);
      ka.on('response', (id: bigint, ttl: number) => {
        if (id === this.lease && ttl <= 0) this.lostLease();
      });
      // the next renewal opens a fresh stream (on the connection's current client)
      ka.on('error', () => {
        if (this.keepalive === ka) this.keepalive = undefined;
        ka.close();
      });
      this.keepalive = ka;
    }
    this.keepalive.keepAlive(this.lease);
  }

  /** etcd says the lease is gone: its key went with it. */
  private lostLease(): void {
    this.host.book.count('leasesLost');
    if (this.leading) this.stepDown();
    this.forgetLease();
  }

  private forgetLease(): void {
    this.lease = undefined;
    clearInterval(this.renew);
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.host.checker.steppedDown(this.leading.rev);
    this.leading = undefined;
    this.host.onSteppedDown();
  }

  private async campaignOnce(): Promise<void> {
    const { ctx, book, checker } = this.host;
    const p = ctx.profile;
    const n = ++this.campaigns;
    // a candidate waits for the terms of those before it: its Campaign may take all of theirs
    const timeoutMs = Math.max(30_000, 2 * p.electionCandidates * (p.electionTerm + p.sessionTtl));
    const t0 = ctx.clock.now();
    const lease = this.lease!;
    const r = await this.op(
      'campaign',
      () =>
        campaign(this.conn.client, this.host.electionName, lease, `${this.id}:${n}:0`, {
          timeoutMs,
          signal: this.abort.signal,
        }),
      false,
    );
    const key = r.leader.key.toString('latin1');
    // the lease was lost while it waited: its key went with it, whatever the Campaign says
    if (this.lease !== lease) return checker.elected(this.id, key, r.leader.rev, ctx.clock.now(), false);
    book.figure('campaignWait', ctx.clock.now() - t0);
    this.leading = r.leader;
    checker.elected(this.id, key, r.leader.rev, ctx.clock.now());
    this.host.onElected(this);
    const end = ctx.clock.now() + p.electionTerm;
    const step = Math.max(10, p.electionTerm / 5);
    for (let seq = 1; this.leading && !this.stopped; seq++) {
      const left = end - ctx.clock.now();
      if (left <= 0) break;
      await sleep(Math.min(step, left));
      if (!this.leading || this.stopped) break;
      const leader = this.leading;
      const value = `${this.id}:${n}:${seq}`;
      try {
        const pr = await this.op('proclaim', () =>
          proclaim(this.conn.client, leader, value, { timeoutMs: p.putTimeout }),
        );
        checker.proclaimed(key, leader.rev, value, pr.revision);
      } catch (err) {
        if (notLeader(err)) {
          book.count('termsLost');
          this.stepDown();
        }
      }
    }
    await this.resignNow();
  }

  /** Stops believing first, then deletes the key: the next leader's Campaign answers after this. */
  private async resignNow(): Promise<void> {
    const leader = this.leading;
    if (!leader) return;
    this.stepDown();
    const p = this.host.ctx.profile;
    await this.op('resign', () => resign(this.conn.client, leader, { timeoutMs: p.putTimeout })).catch(() => undefined);
  }

  /** The end: the loop's last resign done, the lease revoked (a waiting key goes with it). */
  async finish(): Promise<void> {
    await this.done;
    const lease = this.lease;
    this.forgetLease();
    if (lease !== undefined)
      await this.op('revoke', () =>
        leaseRevoke(this.conn.client, lease, { timeoutMs: this.host.ctx.profile.putTimeout }),
      ).catch(() => undefined);
  }

  close(): void {
    this.halt();
    this.forgetLease();
    this.keepalive?.close();
    this.keepalive = undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
