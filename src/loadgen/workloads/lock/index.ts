// The lock workload: `lockContenders` contenders for one mutex under `<prefix>/<runId>-lock/mutex`, each
// with its own session lease, half with etcd's client recipe (clientv3/concurrency.Mutex, with 3.5's
// re-check) and half with the server-side Lock RPC, alternately, spread over the run's connections. A
// holder makes a fenced write of `<prefix>/<runId>-lock/resource` guarded by its token, holds, releases.
// The checker (checker.ts) judges token order and fencing (etcd's promises) and counts overlapping
// holds and grants of a key already gone (etcd #11456) apart, as anomalies.
import { WorkloadBook } from '../book.js';
import type { WorkloadLine, WorkloadSection } from '../section.js';
import type { Workload, WorkloadContext } from '../types.js';
import { LOCK_ANOMALIES, LOCK_CHECKS, LockChecker, UNSAFE_GRANT_NOTE, type LockFinding } from './checker.js';
import { Contender, type LockEnv } from './contender.js';

export { LockChecker, type LockFinding, type LockGrant, type LockWrite } from './checker.js';

const COUNTS = ['grants', 'recipeGrants', 'rpcGrants', 'fencedOk', 'fencedRejected', 'waitsLost', 'sessionsLost'];

const UNSAFE_HOLD_NOTE =
  "unsafeHold: holds overlapping in wall-clock time — a holder's lease ended while it held (a pause or a partition kept its keepalives out) and the next contender was granted; etcd promises no more (the Jepsen finding), fencing tokens keep the old holder's writes out";

export class LockWorkload implements Workload {
  readonly name = 'lock';
  readonly base: string;
  readonly book: WorkloadBook;
  readonly checker: LockChecker;
  private readonly env: LockEnv;
  readonly contenders: Contender[];
  private readonly haltCtl = new AbortController();
  /** grants and their waits since the last status line */
  private lineWaits: number[] = [];
  private lineMark = 0;

  constructor(private readonly ctx: WorkloadContext) {
    const p = ctx.profile;
    this.base = `${p.prefix.replace(/\/+$/, '')}/${ctx.runId}-lock/`;
    this.book = new WorkloadBook(ctx, 'lock', { checks: LOCK_CHECKS, anomalies: LOCK_ANOMALIES, counts: COUNTS });
    this.checker = new LockChecker((f) => this.found(f));
    const lines = this.lineWaits;
    this.env = {
      ctx,
      book: this.book,
      checker: this.checker,
      mutex: `${this.base}mutex`,
      resource: `${this.base}resource`,
      halted: this.haltCtl.signal,
      // a full turn of every contender, many times over, and never less than a few sessions
      waitTimeoutMs: Math.max(30_000, 4 * p.sessionTtl, 10 * p.lockContenders * (p.lockHold + 100)),
      granted: (ms) => void lines.push(ms),
      inFlight: 0,
    };
    // a contender's keepalives go over the next connection: a fault on that link lets its lease expire
    // while its lock call (etcd #11456's waiter) or its hold goes on over its own link
    const conns = ctx.pool.connections;
    this.contenders = Array.from(
      { length: p.lockContenders },
      (_, i) =>
        new Contender(
          `c${i}`,
          i % 2 === 0 ? 'recipe' : 'rpc',
          conns[i % conns.length],
          conns[(i + 1) % conns.length],
          this.env,
        ),
    );
  }

  get inFlight(): number {
    return this.env.inFlight;
  }

  run(): void {
    for (const c of this.contenders) c.start();
  }

  /** Waits and holds end now (a waiter gives up its place), no new cycle starts. */
  halt(): void {
    this.haltCtl.abort();
  }

  /** Every contender's loop ended and its session revoked (bounded: each step has a timeout). */
  async finish(): Promise<void> {
    this.halt();
    await Promise.all(this.contenders.map((c) => c.done));
  }

  close(): void {
    this.halt();
  }

  private found(f: LockFinding): void {
    if (f.type === 'violation') this.book.violation(f.check, f);
    else {
      this.book.anomaly(f.check, f);
      this.book.note(f.check === 'unsafeGrant' ? UNSAFE_GRANT_NOTE : UNSAFE_HOLD_NOTE);
    }
  }

  featureLine(elapsed: number): WorkloadLine {
    const dt = elapsed - this.lineMark;
    this.lineMark = elapsed;
    const waits = this.lineWaits.splice(0).sort((a, b) => a - b);
    const rate = dt > 0 ? Math.round((waits.length / dt) * 10) / 10 : 0;
    const p99 = waits.length ? waits[Math.min(waits.length - 1, Math.ceil(waits.length * 0.99) - 1)] : 0;
    const violations = this.book.violationTotal;
    const unsafe = Object.values(this.book.anomalies).reduce((n, x) => n + x, 0);
    const waitText = p99 >= 1000 ? `${(p99 / 1000).toFixed(1)}s` : `${Math.round(p99)}ms`;
    return {
      text: `grants ${rate}/s, wait p99 ${waitText}, ${violations} violations, ${unsafe} unsafe`,
      fields: { grantRate: rate, waitP99: Math.round(p99 * 10) / 10, violations, unsafe },
    };
  }

  section(): WorkloadSection {
    const p = this.ctx.profile;
    return this.book.section({
      contenders: p.lockContenders,
      recipe: Math.ceil(p.lockContenders / 2),
      rpc: Math.floor(p.lockContenders / 2),
      holdMs: p.lockHold,
      sessionTtlMs: p.sessionTtl,
      mutex: this.env.mutex,
    });
  }
}
