// The election workload: electionCandidates candidates campaign for one election
// `<prefix>/<runId>-election/e` through etcd's v3election service, each with its own session lease,
// spread over the connections; the elected one proclaims values for electionTerm, resigns and campaigns
// again. electionObservers observers follow with Observe streams on other connections (reopened after
// an error). etcd's record of the folder (a watch from the run's start) is the truth the checker judges
// the candidates' answers and the observers' sightings against (see checker.ts for the rules).
import { WorkloadBook } from '../book.js';
import type { WorkloadLine, WorkloadSection } from '../section.js';
import type { Workload, WorkloadContext } from '../types.js';
import type { Kv } from '../../wire/client.js';
import { observe, type ObserveStream } from '../../wire/concurrency.js';
import { Candidate, type CandidateHost } from './candidate.js';
import { ELECTION_ANOMALIES, ELECTION_CHECKS, ElectionChecker, type ElectionFinding } from './checker.js';
import { ElectionRecord } from './record.js';

/** pause before an observer whose stream broke opens a new one */
const REOPEN_MS = 250;
/** checks of a tainted record without an answer before it stays in doubt to the end */
const VERIFY_ATTEMPTS = 5;

interface Observer {
  idx: number;
  stream: ObserveStream | undefined;
  timer: NodeJS.Timeout | undefined;
  opens: number;
}

export class ElectionWorkload implements Workload, CandidateHost {
  readonly name = 'election';
  readonly book: WorkloadBook;
  readonly checker: ElectionChecker;
  /** the election's name; its candidates' keys are `<name>/<lease hex>` */
  readonly electionName: string;
  readonly base: string;
  readonly candidates: Candidate[];
  private readonly observers: Observer[];
  private readonly record: ElectionRecord;
  /** when the last leadership change began (a leader stepped down, or the run started), monotonic ms */
  private changeAt = 0;
  private terms = 0;
  private lastLeader = '';
  private halted = false;
  private closed = false;
  private finished = false;
  private replay: { complete: boolean; error?: string } | undefined;
  /** the tainted record was shown not to be etcd's (or could not be checked): in doubt to the end */
  private recordInDoubt = false;
  private verifying = false;
  private verifyAttempts = 0;

  constructor(readonly ctx: WorkloadContext) {
    const p = ctx.profile;
    this.base = `${p.prefix.replace(/\/+$/, '')}/${ctx.runId}-election/`;
    this.electionName = `${this.base}e`;
    this.book = new WorkloadBook(ctx, 'election', {
      checks: ELECTION_CHECKS,
      anomalies: ELECTION_ANOMALIES,
      counts: [
        'terms',
        'proclaims',
        'changes',
        'skips',
        'observerReopens',
        'termsLost',
        'leasesLost',
        'recordVerified',
      ],
    });
    this.checker = new ElectionChecker((f) => this.found(f));
    const conns = ctx.pool.connections;
    this.candidates = Array.from(
      { length: p.electionCandidates },
      (_, i) => new Candidate(`c${i}`, conns[i % conns.length], this),
    );
    this.observers = Array.from({ length: p.electionObservers }, (_, idx) => ({
      idx,
      stream: undefined,
      timer: undefined,
      opens: 0,
    }));
    const next = p.electionCandidates + p.electionObservers;
    this.record = new ElectionRecord(ctx.pool, this.base, `${this.electionName}/`, this.checker, ctx.logger, next, () =>
      ctx.transitSuspect(),
    );
  }

  // CandidateHost
  get running(): boolean {
    return !this.halted;
  }

  get inFlight(): number {
    return this.candidates.reduce((n, c) => n + c.inFlight, 0);
  }

  onElected(c: Candidate): void {
    this.terms++;
    this.lastLeader = c.id;
  }

  onSteppedDown(): void {
    this.changeAt = this.ctx.clock.now();
  }

  private found(f: ElectionFinding): void {
    // the observer is named in the detail: the run's `watcher` field numbers the watch fleet's watchers
    const at = { key: f.key, revision: f.revision, detail: f.detail };
    if (f.type === 'anomaly') this.book.anomaly(f.check, at);
    // judged on a record a drop/corrupt fault may have garbled: counted apart, not etcd's for sure
    else this.book.violation(f.check, at, this.record.tainted || this.recordInDoubt);
  }

  /**
   * A record tainted by a drop/corrupt fault is checked once the links are clean again: the live keys it
   * shows must be etcd's at its revision. Then its findings count again; if not, they stay unverified.
   */
  private async verifyRecord(): Promise<void> {
    if (!this.record.tainted || this.recordInDoubt || this.verifying || this.ctx.transitSuspect()) return;
    this.verifying = true;
    const rev = this.record.lastRev;
    const model = new Map(this.checker.aliveKeys);
    try {
      const r = await this.record.verify(model, rev, this.ctx.profile.putTimeout);
      if (r === 'same' && !this.ctx.transitSuspect()) {
        this.record.tainted = false;
        this.book.count('recordVerified');
      } else if (r === 'differs' || ++this.verifyAttempts >= VERIFY_ATTEMPTS) {
        this.recordInDoubt = true;
        this.book.note(
          `election record read through a drop/corrupt fault ${r === 'differs' ? `differs from etcd's live keys at revision ${rev}` : 'could not be checked against etcd'}: findings after it are counted unverified`,
        );
      }
    } finally {
      this.verifying = false;
    }
  }

  async prepare(startRev: number): Promise<void> {
    this.record.start(startRev);
    for (const o of this.observers) this.openObserver(o);
  }

  run(): void {
    this.changeAt = this.ctx.clock.now();
    for (const c of this.candidates) c.start();
  }

  private openObserver(o: Observer): void {
    if (this.closed || this.finished) return;
    const conns = this.ctx.pool.connections;
    // observers start on the connections after the candidates', so they read through other members
    const conn = conns[(this.candidates.length + o.idx + o.opens) % conns.length];
    if (o.opens++ > 0) this.book.count('observerReopens');
    const stream = observe(conn.client, this.electionName);
    o.stream = stream;
    stream.on('leader', (kv: Kv, revision: number) => this.sighting(o.idx, kv, revision));
    stream.on('error', (err: Error) => {
      if (o.stream !== stream) return;
      o.stream = undefined;
      if (this.halted) return;
      this.ctx.error(`election observer ${o.idx} on ${conn.endpoint}: ${err.message}`);
      o.timer = setTimeout(() => this.openObserver(o), REOPEN_MS);
    });
  }

  private sighting(o: number, kv: Kv, revision: number): void {
    const createRev = kv.createRevision;
    const isNew = createRev > this.checker.following(o);
    this.checker.observed(o, {
      key: Buffer.from(kv.key).toString('latin1'),
      createRev,
      modRev: kv.modRevision,
      value: Buffer.from(kv.value).toString(),
      revision,
    });
    // observer lag: from the change's start (the predecessor's resign) to this observer seeing the new leader
    if (isNew && this.changeAt) this.book.figure('observerLag', this.ctx.clock.now() - this.changeAt);
    this.checker.judge();
  }

  watchdog(): void {
    void this.verifyRecord();
    this.checker.judge();
    // claims wait while the record reads nothing: its member may be cut off (a stream stalls silently)
    const quiet = performance.now() - this.record.lastEventAt;
    if (this.checker.waiting && quiet > this.ctx.profile.stallTimeout)
      this.record.reopen(`quiet for ${Math.round(quiet)} ms`);
  }

  halt(): void {
    this.halted = true;
    for (const c of this.candidates) c.halt();
  }

  /**
   * After the drain: leaders resign and every lease is revoked (so the record shows the last deletes),
   * the record is read up to a sentinel, the remaining claims are judged; then the observers close.
   */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.halt();
    await Promise.all(this.candidates.map((c) => c.finish()));
    const timeoutMs = Math.max(30_000, this.ctx.profile.settle * 4);
    this.replay = await this.record.catchUp(`${this.base}end`, timeoutMs);
    if (!this.replay.complete) this.book.note(`election record incomplete: ${this.replay.error}`);
    await this.verifyRecord();
    this.finished = true;
    this.closeObservers();
    this.checker.finish(this.replay.complete);
    const c = this.checker.counts;
    if (c.skips)
      this.book.note(
        `${c.skips} leader(s) skipped by observers as Observe allows: the whole tenure fell between two of its reads`,
      );
    if (c.unjudged) this.book.note(`${c.unjudged} claim(s) past the record's end were not judged`);
  }

  private closeObservers(): void {
    for (const o of this.observers) {
      clearTimeout(o.timer);
      const s = o.stream;
      o.stream = undefined;
      s?.close();
    }
  }

  /** observers following the leader etcd's record shows now (all of them while there is none) */
  private inStep(): number {
    const leader = this.checker.currentLeader?.createRev;
    if (leader === undefined) return this.observers.length;
    return this.observers.filter((o) => this.checker.following(o.idx) === leader).length;
  }

  featureLine(): WorkloadLine {
    const violations = this.book.violationTotal;
    const inStep = this.inStep();
    const n = this.observers.length;
    const leader = this.lastLeader ? `leader ${this.lastLeader} term ${this.terms}` : 'no leader yet';
    const observers =
      n === 0 ? 'no observers' : inStep === n ? 'observers in step' : `${inStep}/${n} observers in step`;
    return {
      text: `${leader}, ${observers}, ${violations} violation${violations === 1 ? '' : 's'}`,
      fields: {
        terms: this.terms,
        proclaims: this.checker.counts.proclaims,
        observers: n,
        inStep,
        changes: this.checker.counts.changes,
        violations,
      },
    };
  }

  section(): WorkloadSection {
    const c = this.checker.counts;
    Object.assign(this.book.counts, {
      terms: this.terms,
      proclaims: c.proclaims,
      changes: c.changes,
      skips: c.skips,
      ...(c.unjudged ? { unjudged: c.unjudged } : {}),
    });
    const p = this.ctx.profile;
    const setup: WorkloadSection['setup'] = {
      candidates: p.electionCandidates,
      observers: p.electionObservers,
      termMs: p.electionTerm,
      sessionTtlMs: p.sessionTtl,
    };
    if (this.replay) setup.recordComplete = this.replay.complete;
    return this.book.section(setup);
  }

  close(): void {
    this.closed = true;
    this.halt();
    this.record.stop();
    this.closeObservers();
    for (const c of this.candidates) c.close();
  }
}
