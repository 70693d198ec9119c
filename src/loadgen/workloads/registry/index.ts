// The registry workload: service registration and discovery as people build it on etcd. Services hold a
// lease each (keepalives every TTL/3 on a keepalive stream, failing over to another member when one is
// not answered) and a key `<prefix>/<runId>-registry/services/<name>` bound to it; discoverers keep a
// view of the services from their own watches; services churn (stop their keepalives as if killed and
// register again once their key is gone). The checker (checker.ts) judges false expiries, late expiries
// and each discoverer's view against a Range at the same revision.
import { OpenLoopSchedule } from '../../schedule.js';
import { kvRange } from '../../wire/kv.js';
import type { WireError } from '../../wire/grpc.js';
import { prefixEnd } from '../../wire/proto.js';
import { WorkloadBook } from '../book.js';
import type { WorkloadLine, WorkloadSection } from '../section.js';
import type { Workload, WorkloadContext } from '../types.js';
import { REGISTRY_ANOMALIES, REGISTRY_CHECKS, RegistryChecker, type RegistryFinding } from './checker.js';
import { Discoverer, incarnationOf } from './discoverer.js';
import { KeepAliveHub, Service, type ServiceEnv } from './service.js';

/** a key seen gone this much earlier than last acknowledged send + TTL is a false expiry */
const MARGIN_MS = 1000;
/** discoverers' views are compared with etcd's this often */
const VIEW_CHECK_MS = 2000;
/** an overdue stopped service's lease is asked about at most this often */
const PROBE_MS = 1000;
const CHURN_TICK_MS = 100;

const secs = (ms: number) => `${Math.round(ms / 100) / 10}s`;

export class RegistryWorkload implements Workload {
  readonly name = 'registry';
  readonly base: string;
  readonly prefix: string;
  readonly book: WorkloadBook;
  readonly checker: RegistryChecker;
  readonly services: Service[];
  readonly discoverers: Discoverer[];
  private readonly hub: KeepAliveHub;
  private busy = 0;
  private halted = false;
  private closed = false;
  /** services live when the run ended, before it revoked their leases (the last status line's count) */
  private liveAtEnd: number | undefined;
  private churn: OpenLoopSchedule | undefined;
  private churnTimer: NodeJS.Timeout | undefined;
  private lastViewCheck = 0;
  private checking: Promise<void> | undefined;
  private readonly probed = new Map<string, number>();
  private readonly byKey = new Map<string, Service>();

  constructor(private readonly ctx: WorkloadContext) {
    const p = ctx.profile;
    this.base = `${p.prefix.replace(/\/+$/, '')}/${ctx.runId}-registry/`;
    this.prefix = `${this.base}services/`;
    this.book = new WorkloadBook(ctx, 'registry', {
      checks: REGISTRY_CHECKS,
      anomalies: REGISTRY_ANOMALIES,
      counts: [
        'registered',
        'stopped',
        'expired',
        'failovers',
        'streamsReopened',
        'viewChecks',
        'resumes',
        'termChanges',
      ],
    });
    this.checker = new RegistryChecker(
      {
        finding: (f) => this.found(f),
        expiry: (key, ms, termChanges) => {
          this.book.figure('expiry', ms);
          if (termChanges) this.book.count('expiriesAcrossTermChange');
        },
      },
      { marginMs: MARGIN_MS, toleranceMs: p.expiryTolerance },
    );
    this.hub = new KeepAliveHub(
      ctx.pool,
      ctx.clock,
      p.registryTtl / 3,
      (conn, message) => ctx.error(`registry keepalive stream on ${ctx.pool.connections[conn]?.endpoint}: ${message}`),
      () => this.book.count('streamsReopened'),
    );
    const n = ctx.pool.connections.length;
    const env: ServiceEnv = {
      pool: ctx.pool,
      clock: ctx.clock,
      checker: this.checker,
      book: this.book,
      hub: this.hub,
      ttlMs: p.registryTtl,
      // a call to a frozen member must give up in time for the lease to live on elsewhere
      timeoutMs: Math.min(p.putTimeout, p.registryTtl),
      registering: () => !this.halted && !this.closed,
      busy: (d) => void (this.busy += d),
      error: (m) => ctx.error(m),
    };
    this.services = Array.from(
      { length: p.registryServices },
      (_, i) => new Service(`s${i}`, `${this.prefix}s${i}`, i % n, env),
    );
    // at least one watch: the checker needs the DELETEs even when no discoverer is asked for
    const watches = Math.max(1, p.registryDiscoverers);
    this.discoverers = Array.from(
      { length: watches },
      (_, i) =>
        new Discoverer(i, (i + 1) % n, {
          pool: ctx.pool,
          clock: ctx.clock,
          prefix: this.prefix,
          onDelete: (key, inc, rev, at) => this.byKey.get(key)?.gone(inc, at, rev, 'watch'),
          resuming: () => !this.closed,
          error: (m) => ctx.error(m),
        }),
    );
    this.book.note(
      'expiry: from the send of the last acknowledged keepalive to the first sighting of the DELETE (an upper bound of the lease outliving its TTL)',
    );
    if (!p.registryDiscoverers) this.book.note('no discoverers asked for: one watch still follows the deletes');
  }

  async prepare(startRev: number): Promise<void> {
    for (const s of this.services) this.byKey.set(s.key, s);
    // the prefix is new (the run id): empty before the run starts
    for (const d of this.discoverers) d.start(startRev);
  }

  run(): void {
    for (const s of this.services) s.register();
    const now = this.ctx.clock.now();
    this.lastViewCheck = now;
    this.churn = new OpenLoopSchedule(this.ctx.profile.registryChurn, now);
    this.churnTimer = setInterval(() => this.churnTick(), CHURN_TICK_MS);
  }

  /** Due stops: a random live service stops its keepalives. */
  private churnTick(): void {
    if (this.halted || !this.churn) return;
    this.churn.takeDue(this.ctx.clock.now(), () => {
      const live = this.services.filter((s) => s.state === 'live');
      if (live.length) live[Math.floor(Math.random() * live.length)].stop();
      else this.book.count('churnSkipped');
    });
  }

  watchdog(now: number): void {
    if (this.closed) return;
    if (this.probed.size > 1000) for (const [k, at] of this.probed) if (now - at > 10 * PROBE_MS) this.probed.delete(k);
    for (const o of this.checker.overdue(now)) {
      const k = `${o.key}#${o.incarnation}`;
      if (now - (this.probed.get(k) ?? -Infinity) < PROBE_MS) continue;
      this.probed.set(k, now);
      void this.probe(o.key, o.incarnation);
    }
    if (now - this.lastViewCheck >= VIEW_CHECK_MS && !this.checking) {
      this.lastViewCheck = now;
      this.checking = this.checkViews().finally(() => (this.checking = undefined));
    }
  }

  /**
   * A stopped service past TTL + tolerance whose key is not seen gone: a linearizable read of the key
   * (served after it was sent) proves it late when the key is still there, and gone when it is not.
   * (TimeToLive would not do: a lease past its expiry and not revoked yet answers TTL 0 or −1.)
   */
  private async probe(key: string, incarnation: number): Promise<void> {
    const s = this.byKey.get(key);
    if (!s || s.incarnation !== incarnation || !s.registered) return;
    const { clock } = this.ctx;
    const conn = this.ctx.pool.connections[(s.conn + 1) % this.ctx.pool.connections.length];
    const sentAt = clock.now();
    let r;
    try {
      r = await kvRange(conn.client, key, { timeoutMs: this.timeoutMs() });
      this.book.op('probe', 'ok', clock.now() - sentAt);
    } catch (err) {
      this.book.op('probe', (err as WireError).sent === false ? 'failed' : 'indeterminate', clock.now() - sentAt);
      return;
    }
    const kv = r.kvs[0];
    if (kv && incarnationOf(kv.value) === incarnation) this.checker.present(key, incarnation, sentAt, r.revision);
    else s.gone(incarnation, clock.now(), 0, 'range');
  }

  /** Each discoverer's view at its last revision R against a Range of the prefix at R. */
  private async checkViews(): Promise<void> {
    await Promise.all(this.discoverers.map((d) => this.checkView(d)));
  }

  private async checkView(d: Discoverer): Promise<void> {
    const rev = d.lastRev;
    if (rev === 0 || rev === d.checkedRev) return;
    const view = d.snapshot();
    const { clock, pool } = this.ctx;
    const conn = pool.connections[(d.conn + 1) % pool.connections.length];
    const sentAt = clock.now();
    let kvs;
    try {
      ({ kvs } = await kvRange(conn.client, this.prefix, {
        rangeEnd: prefixEnd(this.prefix),
        revision: rev,
        timeoutMs: this.timeoutMs(),
      }));
      this.book.op('range', 'ok', clock.now() - sentAt);
    } catch (err) {
      this.book.op('range', (err as WireError).sent === false ? 'failed' : 'indeterminate', clock.now() - sentAt);
      return;
    }
    const range = new Map(kvs.map((kv) => [Buffer.from(kv.key).toString('latin1'), kv.modRevision]));
    this.book.count('viewChecks');
    if (this.checker.compareView(d.idx, rev, view, range)) d.checkedRev = rev;
    const at = clock.now();
    for (const g of this.checker.rangeSeen(rev, new Set(range.keys()), at))
      this.byKey.get(g.key)?.gone(g.incarnation, at, 0, 'range');
  }

  private timeoutMs(): number {
    return Math.min(this.ctx.profile.putTimeout, this.ctx.profile.registryTtl);
  }

  private found(f: RegistryFinding): void {
    const at = { key: f.key, revision: f.revision, detail: f.detail };
    if (f.type === 'violation') this.book.violation(f.check, at);
    else this.book.anomaly(f.check, at);
    if (f.note) this.book.note(f.note);
  }

  halt(): void {
    this.halted = true;
    clearInterval(this.churnTimer);
  }

  get inFlight(): number {
    return this.busy;
  }

  /** The last view check, then the run's leases are revoked (their ends are not judged). */
  async finish(): Promise<void> {
    if (this.closed) return;
    this.halt();
    await this.checking;
    for (const d of this.discoverers) d.checkedRev = 0;
    await this.checkViews();
    this.liveAtEnd = this.live();
    await Promise.all(this.services.map((s) => s.release()));
  }

  private live(): number {
    if (this.liveAtEnd !== undefined) return this.liveAtEnd;
    return this.services.filter((s) => s.state === 'live').length;
  }

  /** counted where they happen: the discoverers' resumes, the elections the keepalive answers showed */
  private tally(): void {
    this.book.counts.resumes = this.discoverers.reduce((n, d) => n + d.resumes, 0);
    this.book.counts.termChanges = this.checker.electionsSeen;
  }

  featureLine(): WorkloadLine {
    this.tally();
    const expiry = this.book.section({}).latency.expiry;
    const v = this.book.violationTotal;
    const parts = [`live ${this.live()}/${this.services.length}`];
    if (expiry?.count) parts.push(`expiry p99 ${secs(expiry.p99)}`);
    parts.push(`${v} violation${v === 1 ? '' : 's'}`);
    return {
      text: parts.join(', '),
      fields: {
        live: this.live(),
        registered: this.book.counts.registered ?? 0,
        expired: this.book.counts.expired ?? 0,
        keepalives: this.book.ops.keepalive?.ok ?? 0,
        lost: this.book.anomalies.lost ?? 0,
        failovers: this.book.counts.failovers ?? 0,
        expiryP99: expiry?.count ? Math.round(expiry.p99) : 0,
        violations: v,
      },
    };
  }

  section(): WorkloadSection {
    const p = this.ctx.profile;
    this.tally();
    return this.book.section({
      services: p.registryServices,
      ttl: secs(p.registryTtl),
      discoverers: p.registryDiscoverers,
      churn: p.registryChurn,
      expiryTolerance: secs(p.expiryTolerance),
    });
  }

  close(): void {
    this.halt();
    this.closed = true;
    for (const s of this.services) s.close();
    for (const d of this.discoverers) d.close();
    this.hub.close();
  }
}
