// The registry workload's checker, pure: times (monotonic ms), revisions and terms in, findings out.
// It judges each incarnation of a service (one lease, one registration) once its key is gone, and each
// discoverer's view against a Range of the prefix at the same revision.
//
// Every judgement is conservative. A keepalive acknowledged renewed the lease no earlier than the
// keepalive was SENT, so the lease cannot end before send + TTL; a key seen gone (DELETE event, absent
// from a Range, a lease reported gone) was gone no later than it was SEEN. A key seen gone before the
// last acknowledged send + TTL − margin is a false expiry. A late expiry needs proof that the key was
// still there in a linearizable read sent after last send + TTL + tolerance: a DELETE seen late may
// only mean the watch was slow.

export type RegistryCheck = 'falseExpiry' | 'expiryLate' | 'viewDiverged';
/** a live service lost its key because its keepalives went unanswered (its members cut off): a fault's effect */
export type RegistryAnomaly = 'lost';

export const REGISTRY_CHECKS: readonly RegistryCheck[] = ['falseExpiry', 'expiryLate', 'viewDiverged'];
export const REGISTRY_ANOMALIES: readonly RegistryAnomaly[] = ['lost'];

export interface RegistryFinding {
  type: 'violation' | 'anomaly';
  check: RegistryCheck | RegistryAnomaly;
  key: string;
  revision: number;
  detail: string;
  /** a known etcd bug that could explain it */
  note?: string;
}

/** how a key was seen gone */
export type VanishedVia = 'watch' | 'range' | 'lease';

export interface RegistrySink {
  finding(f: RegistryFinding): void;
  /** a stopped service's key was seen gone: ms from its last acknowledged keepalive's send */
  expiry(key: string, ms: number, termChanges: number): void;
}

export const NOTE_15247 =
  "falseExpiry with a leader change in the lease's life: etcd #15247 (an old leader stuck (frozen) and back revokes the leases it believes expired; the fix, backport #17465, came after 3.4.23)";
export const NOTE_9395 =
  'expiryLate across a leader change: etcd #9395/#13294 (3.4 resets every lease TTL on each leader change, so a lease outlives its TTL)';

interface Incarnation {
  key: string;
  incarnation: number;
  ttl: number;
  /** send time of the latest acknowledged renewal (the grant counts as one) */
  lastAck: number;
  /** raft term of that acknowledgement (0: unknown) */
  ackTerm: number;
  /** raft term when it was granted (0: unknown; then its first acknowledgement's) */
  grantTerm: number;
  /** the revision of its acknowledged put (0: not known) */
  putRev: number;
  stoppedAt?: number;
  /** its end is not judged (the run revoked it) */
  released: boolean;
  lateReported: boolean;
}

const id = (key: string, incarnation: number) => `${key}#${incarnation}`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

export class RegistryChecker {
  private readonly open = new Map<string, Incarnation>();
  /** incarnations judged (gone), so a second sighting of the same end is not judged again */
  private readonly judged = new Set<string>();
  /** discoverers whose view differed at the last comparison (reported once until it agrees again) */
  private readonly diverged = new Set<number>();
  private maxTerm = 0;
  private firstTerm = 0;

  constructor(
    private readonly sink: RegistrySink,
    private readonly opts: { marginMs: number; toleranceMs: number },
  ) {}

  get term(): number {
    return this.maxTerm;
  }

  /** how far the raft term moved since the first answer that carried one (elections seen) */
  get electionsSeen(): number {
    return this.maxTerm - this.firstTerm;
  }

  /** the raft term a response header carried */
  observeTerm(term: number): void {
    if (term && !this.firstTerm) this.firstTerm = term;
    if (term > this.maxTerm) this.maxTerm = term;
  }

  /** A lease granted to a new incarnation: it lives at least until sentAt + ttl. */
  granted(key: string, incarnation: number, sentAt: number, ttlMs: number): void {
    this.open.set(id(key, incarnation), {
      key,
      incarnation,
      ttl: ttlMs,
      lastAck: sentAt,
      ackTerm: this.maxTerm,
      grantTerm: this.maxTerm,
      putRev: 0,
      released: false,
      lateReported: false,
    });
  }

  /** Its key was written (acknowledged) at revision. */
  put(key: string, incarnation: number, revision: number): void {
    const inc = this.open.get(id(key, incarnation));
    if (inc && revision > inc.putRev) inc.putRev = revision;
  }

  /** A keepalive sent at sentAt was answered with a renewal of ttlMs, in raft term `term`. */
  acked(key: string, incarnation: number, sentAt: number, ttlMs: number, term: number): void {
    this.observeTerm(term);
    const inc = this.open.get(id(key, incarnation));
    if (!inc || sentAt < inc.lastAck) return;
    inc.lastAck = sentAt;
    inc.ttl = ttlMs;
    if (term) inc.ackTerm = term;
    if (!inc.grantTerm) inc.grantTerm = term;
  }

  /** The service stopped its keepalives (as if killed): its key must vanish after about TTL. */
  stopped(key: string, incarnation: number, at: number): void {
    const inc = this.open.get(id(key, incarnation));
    if (inc && inc.stoppedAt === undefined) inc.stoppedAt = at;
  }

  /** The run ends this incarnation itself (a revoke): its end is not judged. */
  release(key: string, incarnation: number): void {
    const inc = this.open.get(id(key, incarnation));
    if (inc) inc.released = true;
  }

  /** Stopped incarnations past TTL + tolerance that are not seen gone: ask etcd whether their key is there. */
  overdue(now: number): { key: string; incarnation: number }[] {
    const out: { key: string; incarnation: number }[] = [];
    for (const inc of this.open.values())
      if (inc.stoppedAt !== undefined && !inc.released && !inc.lateReported && now > this.deadline(inc))
        out.push({ key: inc.key, incarnation: inc.incarnation });
    return out;
  }

  /** A linearizable read sent at sentAt (served at `revision`) found this incarnation's key still there. */
  present(key: string, incarnation: number, sentAt: number, revision: number): void {
    const inc = this.open.get(id(key, incarnation));
    if (!inc || inc.released || inc.stoppedAt === undefined || inc.lateReported) return;
    if (sentAt <= this.deadline(inc)) return;
    inc.lateReported = true;
    const changes = this.termChanges(inc);
    this.sink.finding({
      type: 'violation',
      check: 'expiryLate',
      key,
      revision,
      detail: `incarnation ${incarnation}: key still there in a read sent ${secs(sentAt - inc.lastAck)} after its last acknowledged keepalive (TTL ${secs(inc.ttl)} + tolerance ${secs(this.opts.toleranceMs)}; ${changes} term change(s) since)`,
      note: changes > 0 ? NOTE_9395 : undefined,
    });
  }

  /** The key (or its lease) of this incarnation was seen gone at `at`, deleted at `revision` (0: unknown). */
  vanished(key: string, incarnation: number, at: number, revision: number, via: VanishedVia): void {
    const k = id(key, incarnation);
    const inc = this.open.get(k);
    if (!inc || this.judged.has(k)) return;
    this.judged.add(k);
    this.open.delete(k);
    if (inc.released) return;
    const since = at - inc.lastAck;
    const changes = this.termChanges(inc);
    // a stuck old leader back from a freeze revokes leases in the new leader's term: the leader change
    // is before the last renewal, within the lease's life
    const inLife = inc.grantTerm ? Math.max(0, this.maxTerm - inc.grantTerm) : 0;
    const terms = `${changes} term change(s) since, ${inLife} since its grant`;
    if (since < inc.ttl - this.opts.marginMs) {
      this.sink.finding({
        type: 'violation',
        check: 'falseExpiry',
        key,
        revision,
        detail: `incarnation ${incarnation}${inc.stoppedAt === undefined ? '' : ' (stopped)'} seen gone (${via}) ${secs(since)} after a keepalive sent and acknowledged, TTL ${secs(inc.ttl)}; ${terms}`,
        note: inLife > 0 ? NOTE_15247 : undefined,
      });
      return;
    }
    if (inc.stoppedAt !== undefined) {
      this.sink.expiry(key, since, changes);
      return;
    }
    this.sink.finding({
      type: 'anomaly',
      check: 'lost',
      key,
      revision,
      detail: `incarnation ${incarnation} seen gone (${via}) ${secs(since)} after its last acknowledged keepalive, TTL ${secs(inc.ttl)}: its keepalives went unanswered; ${terms}`,
    });
  }

  /**
   * A Range of the prefix at `revision`, seen at `at`: every open incarnation whose put is at or below the
   * revision and whose key is absent was gone by then (returned).
   */
  rangeSeen(revision: number, present: ReadonlySet<string>, at: number): { key: string; incarnation: number }[] {
    const gone: { key: string; incarnation: number }[] = [];
    for (const inc of [...this.open.values()])
      if (inc.putRev > 0 && inc.putRev <= revision && !present.has(inc.key)) {
        gone.push({ key: inc.key, incarnation: inc.incarnation });
        this.vanished(inc.key, inc.incarnation, at, 0, 'range');
      }
    return gone;
  }

  /**
   * A discoverer's view (key → mod revision) at its last seen revision against a Range of the prefix at
   * that revision. A difference is reported once, until the view agrees again.
   */
  compareView(
    discoverer: number,
    revision: number,
    view: ReadonlyMap<string, number>,
    range: ReadonlyMap<string, number>,
  ): boolean {
    const diffs: string[] = [];
    for (const [k, rev] of view) {
      const r = range.get(k);
      if (r === undefined) diffs.push(`${k}@${rev} only in the view`);
      else if (r !== rev) diffs.push(`${k} mod ${rev} in the view, ${r} in etcd`);
    }
    for (const [k, rev] of range) if (!view.has(k)) diffs.push(`${k}@${rev} missing from the view`);
    if (!diffs.length) {
      this.diverged.delete(discoverer);
      return true;
    }
    if (this.diverged.has(discoverer)) return false;
    this.diverged.add(discoverer);
    this.sink.finding({
      type: 'violation',
      check: 'viewDiverged',
      key: diffs[0].split(/[@ ]/)[0],
      revision,
      detail: `discoverer ${discoverer} at revision ${revision}: ${diffs.length} difference(s) from a Range at that revision: ${diffs.slice(0, 3).join('; ')}`,
    });
    return false;
  }

  /** incarnations not yet seen gone (live or stopped) */
  get openCount(): number {
    return this.open.size;
  }

  private deadline(inc: Incarnation): number {
    return inc.lastAck + inc.ttl + this.opts.toleranceMs;
  }

  private termChanges(inc: Incarnation): number {
    return inc.ackTerm ? Math.max(0, this.maxTerm - inc.ackTerm) : 0;
  }
}
