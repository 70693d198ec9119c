// The election workload's checker, pure: etcd's record of the election prefix (a watch from the run's
// start), what candidates were told (Campaign, Proclaim) and what observers saw (Observe) go in, with
// revisions and monotonic times; findings come out, each once.
//
// The record is the truth: a leadership ("tenure") starts at the revision its key became the
// first-created live key of the prefix (its create revision, or the delete of the key before it) and
// ends at the revision its key was deleted (resign, lease expiry). Claims are judged once the record has
// read past their revision (an event at or after it), or at the end.
//
// - leaderOverlap: a Proclaim succeeded at revision p while the proclaiming key did not lead at p
//   (its key was already deleted, or an older key still led: its Campaign returned too early). Proclaim
//   is a Txn guarded by the leader key's create revision, so etcd must refuse both.
// - observerOrder: an observer went back to a leader created before the one it followed, or showed a
//   leader at a read revision where that key did not lead (already deleted, or its predecessor still led).
// - missedLeader: Observe watches the followed leader's key and, on its delete, Ranges the prefix for the
//   first-created key (or, on an empty prefix, waits for the first put). So an observer may rightly skip
//   a leader whose whole tenure fell between the delete and its next read. A skip is a violation only
//   when the response that first showed the next leader was read at a revision H where the skipped key
//   led (elected ≤ H < deleted): a Range at H must have returned it. On an empty prefix etcd reports
//   H = the new key's put revision, where that key leads, so this rule cannot fire falsely there.
// - proclaimOrder: an observer saw an older value of the same leader after a newer one (mod revision or
//   the value's sequence number went back).
// - unsafeLeader (anomaly, not etcd's): a candidate's Campaign returned while another still believed
//   it led (it had not resigned nor learnt its key was gone): a paused leader, expected under faults.
// - ghostLeader (anomaly): a Campaign answered for a key that never led in the record: its lease expired
//   while it waited, and etcd 3.4's Campaign does not re-check its own key after waiting (the shape of
//   #11456, seen on locks). Its proclaims are refused, so fencing by the key holds; judged at the end, on a
//   complete record only.

export const ELECTION_CHECKS = ['leaderOverlap', 'observerOrder', 'missedLeader', 'proclaimOrder'] as const;
export type ElectionCheck = (typeof ELECTION_CHECKS)[number];
export const ELECTION_ANOMALIES = ['unsafeLeader', 'ghostLeader'] as const;

export interface ElectionFinding {
  type: 'violation' | 'anomaly';
  check: ElectionCheck | (typeof ELECTION_ANOMALIES)[number];
  key: string;
  revision: number;
  detail: string;
  /** the observer's index (observer checks) */
  observer?: number;
}

/** One leadership in etcd's record. */
export interface Tenure {
  key: string;
  createRev: number;
  /** the revision its key became the first-created live key */
  elected: number;
  /** the revision its key was deleted (undefined: still alive as far as the record read) */
  deleted?: number;
}

/** What one Observe response showed: the leader key's kv and the response header's revision. */
export interface ObservedLeader {
  key: string;
  createRev: number;
  modRev: number;
  value: string;
  /** header revision: the Range's read revision for a new leader's first response */
  revision: number;
}

interface Believer {
  candidate: string;
  key: string;
  since: number;
}

interface ObserverState {
  /** create revision of the leader followed (0: none yet) */
  leaderRev: number;
  key: string;
  /** the newest value seen of that leader: its mod revision, `<candidate>:<campaign#>` and sequence */
  modRev: number;
  campaign: string;
  seq: number;
  /** create revisions of the leaders seen, in order */
  seen: number[];
}

type Pending =
  | { kind: 'proclaim'; rev: number; key: string; createRev: number; value: string }
  | { kind: 'change'; rev: number; observer: number; key: string; createRev: number; prev: number };

/** leaders kept per observer for reading */
const SEEN_KEPT = 10_000;

/**
 * A proclaimed value `<candidate>:<campaign#>:<seq>` split into its campaign and sequence (NaN when it
 * has none). Sequences compare within one campaign only: a candidate that campaigns again while its old
 * key survives (a resign that failed) restarts at 0 on the same key.
 */
export function valueSeq(value: string): { campaign: string; seq: number } {
  const i = value.lastIndexOf(':');
  return i < 0 ? { campaign: value, seq: NaN } : { campaign: value.slice(0, i), seq: Number(value.slice(i + 1)) };
}

export class ElectionChecker {
  readonly tenures: Tenure[] = [];
  /** the create revisions of the keys whose Campaign answered, in answer order */
  readonly elections: number[] = [];
  private readonly electionKeys = new Map<number, { candidate: string; key: string }>();
  readonly counts = { terms: 0, proclaims: 0, changes: 0, skips: 0, unjudged: 0 };
  /** the last revision of the record read (events up to it are applied) */
  recordRev = 0;
  private readonly alive = new Map<string, number>();
  private readonly byCreate = new Map<number, Tenure>();
  private leader: Tenure | undefined;
  private readonly believers = new Map<number, Believer>();
  private readonly observers: ObserverState[] = [];
  private pending: Pending[] = [];

  constructor(private readonly report: (f: ElectionFinding) => void) {}

  // --- etcd's record of the prefix, in revision order ---

  /** A put of a key of the election's prefix (a campaign's key when createRev === modRev, else a proclaim). */
  recordPut(key: string, createRev: number, modRev: number): void {
    this.progress(modRev);
    if (createRev !== modRev || this.alive.has(key)) return;
    this.alive.set(key, createRev);
    if (!this.leader) this.elect(key, createRev, modRev);
  }

  recordDelete(key: string, rev: number): void {
    this.progress(rev);
    const createRev = this.alive.get(key);
    if (createRev === undefined) return;
    this.alive.delete(key);
    if (this.leader?.createRev !== createRev) return;
    this.leader.deleted = rev;
    this.leader = undefined;
    let next: [string, number] | undefined;
    for (const [k, c] of this.alive) if (!next || c < next[1]) next = [k, c];
    if (next) this.elect(next[0], next[1], rev);
  }

  /** The record has read up to rev (an event elsewhere under the workload's folder, the end's sentinel). */
  progress(rev: number): void {
    if (rev > this.recordRev) this.recordRev = rev;
  }

  private elect(key: string, createRev: number, rev: number): void {
    const t: Tenure = { key, createRev, elected: rev };
    this.leader = t;
    this.tenures.push(t);
    this.byCreate.set(createRev, t);
  }

  /** The tenure leading at revision rev, as far as the record read. */
  leaderAt(rev: number): Tenure | undefined {
    for (let i = this.tenures.length - 1; i >= 0; i--) {
      const t = this.tenures[i];
      if (t.elected > rev) continue;
      return t.deleted === undefined || rev < t.deleted ? t : undefined;
    }
    return undefined;
  }

  /** the live keys of the election as far as the record read: key → create revision */
  get aliveKeys(): ReadonlyMap<string, number> {
    return this.alive;
  }

  get currentLeader(): Tenure | undefined {
    return this.leader;
  }

  // --- candidates ---

  /**
   * A Campaign returned: `candidate` leads with the key created at createRev (at: monotonic ms). It does
   * not believe it when it already learnt its lease is gone (etcd's answer is still judged: ghostLeader).
   */
  elected(candidate: string, key: string, createRev: number, at: number, believes = true): void {
    this.elections.push(createRev);
    this.electionKeys.set(createRev, { candidate, key });
    if (!believes) return;
    this.counts.terms++;
    for (const b of this.believers.values())
      this.report({
        type: 'anomaly',
        check: 'unsafeLeader',
        key,
        revision: createRev,
        detail: `${candidate} elected while ${b.candidate} (${b.key}) still believed it led, since ${Math.round(at - b.since)} ms`,
      });
    this.believers.set(createRev, { candidate, key, since: at });
  }

  /** The candidate stopped believing it leads: it is about to resign, or learnt its key or lease is gone. */
  steppedDown(createRev: number): void {
    this.believers.delete(createRev);
  }

  /** A Proclaim of the key created at createRev succeeded at revision rev. */
  proclaimed(key: string, createRev: number, value: string, rev: number): void {
    this.counts.proclaims++;
    this.pending.push({ kind: 'proclaim', rev, key, createRev, value });
  }

  // --- observers ---

  /** An Observe response of observer `o`. */
  observed(o: number, r: ObservedLeader): void {
    const st = (this.observers[o] ??= { leaderRev: 0, key: '', modRev: 0, campaign: '', seq: NaN, seen: [] });
    const v = valueSeq(r.value);
    if (r.createRev === st.leaderRev) {
      if (r.modRev < st.modRev || (v.campaign === st.campaign && v.seq < st.seq))
        this.report({
          type: 'violation',
          check: 'proclaimOrder',
          key: r.key,
          revision: r.modRev,
          observer: o,
          detail: `observer ${o} saw ${JSON.stringify(r.value)} (mod ${r.modRev}) after a newer value (mod ${st.modRev})`,
        });
      if (r.modRev > st.modRev) Object.assign(st, { modRev: r.modRev, ...v });
      return;
    }
    if (r.createRev < st.leaderRev)
      this.report({
        type: 'violation',
        check: 'observerOrder',
        key: r.key,
        revision: r.revision,
        observer: o,
        detail: `observer ${o} went back from ${st.key} (created ${st.leaderRev}) to ${r.key} (created ${r.createRev}) at ${r.revision}`,
      });
    else {
      this.counts.changes++;
      this.pending.push({
        kind: 'change',
        rev: r.revision,
        observer: o,
        key: r.key,
        createRev: r.createRev,
        prev: st.leaderRev,
      });
    }
    st.seen.push(r.createRev);
    // the last leaders seen are enough to read (a long soak sees one per term per observer)
    if (st.seen.length > SEEN_KEPT) st.seen.splice(0, st.seen.length - SEEN_KEPT / 2);
    Object.assign(st, { leaderRev: r.createRev, key: r.key, modRev: r.modRev, ...v });
  }

  /** create revisions of the leaders observer o saw, in order */
  seen(o: number): readonly number[] {
    return this.observers[o]?.seen ?? [];
  }

  /** the create revision of the leader observer o follows (0: none yet) */
  following(o: number): number {
    return this.observers[o]?.leaderRev ?? 0;
  }

  // --- judging ---

  /** claims waiting for the record to read past them */
  get waiting(): number {
    return this.pending.length;
  }

  /** Judges the claims the record has read past. */
  judge(): void {
    if (!this.pending.length) return;
    const later: Pending[] = [];
    for (const p of this.pending) {
      if (p.rev > this.recordRev) later.push(p);
      else if (p.kind === 'proclaim') this.judgeProclaim(p);
      else this.judgeChange(p);
    }
    this.pending = later;
  }

  /**
   * The end: the record has read everything it will (complete: up to a revision after every claim).
   * Claims past it stay unjudged (counted).
   */
  finish(complete: boolean): void {
    this.judge();
    this.counts.unjudged += this.pending.length;
    this.pending = [];
    if (complete)
      for (const [createRev, e] of this.electionKeys)
        if (!this.byCreate.has(createRev))
          this.report({
            type: 'anomaly',
            check: 'ghostLeader',
            key: e.key,
            revision: createRev,
            detail: `${e.candidate}'s Campaign answered for ${e.key} (created ${createRev}), which never led: its key was gone before the keys ahead of it`,
          });
    this.electionKeys.clear();
  }

  private judgeProclaim(p: Extract<Pending, { kind: 'proclaim' }>): void {
    const at = this.leaderAt(p.rev);
    if (at?.createRev === p.createRev) return;
    const own = this.byCreate.get(p.createRev);
    const led = at ? `${at.key} (created ${at.createRev}) led from ${at.elected}` : 'no key led';
    const why =
      own?.deleted !== undefined && own.deleted <= p.rev
        ? `after its key was deleted at ${own.deleted}; ${led}`
        : `while ${led}${own ? `; it led only from ${own.elected}` : '; it never led'}`;
    this.report({
      type: 'violation',
      check: 'leaderOverlap',
      key: p.key,
      revision: p.rev,
      detail: `${p.key} (created ${p.createRev}) proclaimed ${JSON.stringify(p.value)} at ${p.rev} ${why}`,
    });
  }

  private judgeChange(p: Extract<Pending, { kind: 'change' }>): void {
    const at = this.leaderAt(p.rev);
    if (at?.createRev === p.createRev) {
      // leaders between the two it saw, all gone before its read: a skip Observe allows
      if (p.prev > 0)
        for (let i = this.tenures.length - 1; i >= 0 && this.tenures[i].createRev > p.prev; i--)
          if (this.tenures[i].createRev < p.createRev) this.counts.skips++;
      return;
    }
    const shown = `observer ${p.observer} showed ${p.key} (created ${p.createRev}) as leader at ${p.rev}`;
    if (at && at.createRev < p.createRev && at.createRev > p.prev) {
      this.report({
        type: 'violation',
        check: 'missedLeader',
        key: at.key,
        revision: p.rev,
        observer: p.observer,
        detail: `${shown}, skipping ${at.key} (created ${at.createRev}), which led from ${at.elected} to ${at.deleted ?? 'the end'}: Observe's read at ${p.rev} must have shown it`,
      });
      return;
    }
    this.report({
      type: 'violation',
      check: 'observerOrder',
      key: p.key,
      revision: p.rev,
      observer: p.observer,
      detail: `${shown}, but ${at ? `${at.key} (created ${at.createRev}) led then` : 'no key led then'}`,
    });
  }
}
