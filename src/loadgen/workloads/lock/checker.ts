// The lock workload's checker, pure: grants, fenced writes and releases in (times on the run's monotonic
// clock, revisions from etcd), findings out. Calls may come in any order between contenders (a grant's
// key check or a fenced write's answer can arrive after a later grant), so each check is made when the
// second of two related records arrives, against bounded windows of recent ones.
//
// - tokenOrder (etcd's fault): ordered by the revision each grant was decided at, fencing tokens (the
//   holder key's create revision) strictly increase; two grants decided at one revision are a violation
//   too (the two keys existed together, so one of them had a lower key before it).
// - fencing (etcd's fault): a fenced write of a holder (a Txn guarded by create(key) == token) never
//   succeeds at a revision after a grant with a higher token: that grant needed the lower key gone.
// - unsafeHold (anomaly): two holds overlap in wall-clock time (grant received → release sent), as a
//   pause or a partition lets a lease expire under a holder that does not know it (the Jepsen finding).
// - unsafeGrant (anomaly, etcd #11456): a grant whose key no longer exists at its own grant revision —
//   a waiter's lease expired while it waited and the Lock RPC granted it anyway (3.4 has no re-check).
//   Such a grant has no token, so it takes no part in tokenOrder and fencing.

export type LockCheck = 'tokenOrder' | 'fencing';
export type LockAnomalyKind = 'unsafeHold' | 'unsafeGrant';
export const LOCK_CHECKS: readonly LockCheck[] = ['tokenOrder', 'fencing'];
export const LOCK_ANOMALIES: readonly LockAnomalyKind[] = ['unsafeHold', 'unsafeGrant'];

export const UNSAFE_GRANT_NOTE =
  "unsafeGrant: the Lock RPC granted a waiter whose lease had expired while it waited (its key was gone at the grant's revision) — etcd #11456, fixed in 3.5 only (the re-check of the key after waiting); fencing tokens keep such a holder's writes out";

export interface LockGrant {
  /** the contender, e.g. `c3` */
  holder: string;
  /** its key under the mutex prefix */
  key: string;
  /** the key's create revision at the grant; undefined: the key was gone at the grant's revision */
  token: number | undefined;
  /** the revision the grant was decided at (the Lock response's header, the recipe's last Range) */
  revision: number;
  /** monotonic ms the grant was received */
  at: number;
}

export interface LockWrite {
  holder: string;
  key: string;
  /** the token the Txn compared against (undefined: a holder without a token, unsafe grant) */
  token: number | undefined;
  /** the Txn's header revision (the write's revision when it succeeded) */
  revision: number;
  succeeded: boolean;
}

export interface LockFinding {
  type: 'violation' | 'anomaly';
  check: LockCheck | LockAnomalyKind;
  key: string;
  revision: number;
  detail: string;
}

interface Hold {
  id: number;
  holder: string;
  key: string;
  start: number;
  end: number | undefined;
}

interface TokenGrant {
  holder: string;
  key: string;
  token: number;
  revision: number;
}

interface OkWrite {
  holder: string;
  key: string;
  token: number;
  revision: number;
  reported: boolean;
}

/** records kept per window: far more than can be related (grants are decided one after another) */
const WINDOW = 4096;

export class LockChecker {
  /** safe grants, sorted by revision */
  private grants: TokenGrant[] = [];
  private writes: OkWrite[] = [];
  private holds: Hold[] = [];
  private nextHold = 1;

  constructor(
    private readonly report: (f: LockFinding) => void,
    private readonly window = WINDOW,
  ) {}

  /** A grant was received (and its key checked); returns the hold's id for release(). */
  grant(g: LockGrant): number {
    const hold: Hold = { id: this.nextHold++, holder: g.holder, key: g.key, start: g.at, end: undefined };
    this.checkHold(hold);
    this.holds.push(hold);
    if (this.holds.length > this.window) this.holds.shift();
    if (g.token === undefined) {
      this.report({
        type: 'anomaly',
        check: 'unsafeGrant',
        key: g.key,
        revision: g.revision,
        detail: `${g.holder} was granted the lock at revision ${g.revision} but its key did not exist then (its lease expired while it waited)`,
      });
      return hold.id;
    }
    const tg: TokenGrant = { holder: g.holder, key: g.key, token: g.token, revision: g.revision };
    this.checkOrder(tg);
    this.checkFencingOf(tg);
    return hold.id;
  }

  /** A fenced write was answered. */
  write(w: LockWrite): void {
    if (!w.succeeded || w.token === undefined) return;
    const ok: OkWrite = { holder: w.holder, key: w.key, token: w.token, revision: w.revision, reported: false };
    const newer = this.grants.find((g) => g.token > ok.token && g.revision < ok.revision);
    if (newer) this.fencingViolation(ok, newer);
    this.writes.push(ok);
    if (this.writes.length > this.window) this.writes.shift();
  }

  /** The holder sent its release (delete of its key, Unlock) at monotonic ms `at`. */
  release(holdId: number, at: number): void {
    const h = this.holds.find((x) => x.id === holdId);
    if (h && h.end === undefined) h.end = at;
  }

  /** holds granted and not released (for a contender that stops holding without a release) */
  get openHolds(): number {
    return this.holds.filter((h) => h.end === undefined).length;
  }

  /**
   * Overlap with a hold registered before: the later one registered is still open (its release comes
   * after), so the two intersect when the earlier one ends (or never ended) after the later start.
   */
  private checkHold(h: Hold): void {
    const other = this.holds.find((o) => Math.max(o.start, h.start) < (o.end ?? Infinity));
    if (!other) return;
    const ended = other.end === undefined ? 'still held' : `released ${Math.round(other.end - h.start)} ms after`;
    this.report({
      type: 'anomaly',
      check: 'unsafeHold',
      key: h.key,
      revision: 0,
      detail: `${h.holder} was granted the lock while ${other.holder} held it (${ended})`,
    });
  }

  /** Inserts by revision; the new grant's tokens must sit strictly between its neighbours'. */
  private checkOrder(g: TokenGrant): void {
    let i = this.grants.length;
    while (i > 0 && this.grants[i - 1].revision > g.revision) i--;
    const before = this.grants[i - 1];
    const after = this.grants[i];
    let bad: string | undefined;
    if (before && before.revision === g.revision)
      bad = `${g.holder} (token ${g.token}) and ${before.holder} (token ${before.token}) were both granted at revision ${g.revision}`;
    else if (before && before.token >= g.token)
      bad = `${g.holder} granted at revision ${g.revision} with token ${g.token}, after ${before.holder} granted at revision ${before.revision} with token ${before.token}`;
    else if (after && after.token <= g.token)
      bad = `${g.holder} granted at revision ${g.revision} with token ${g.token}, before ${after.holder} granted at revision ${after.revision} with token ${after.token}`;
    if (bad) this.report({ type: 'violation', check: 'tokenOrder', key: g.key, revision: g.revision, detail: bad });
    this.grants.splice(i, 0, g);
    if (this.grants.length > this.window) this.grants.shift();
  }

  /** Writes already answered of older holders that succeeded after this grant. */
  private checkFencingOf(g: TokenGrant): void {
    for (const w of this.writes)
      if (!w.reported && w.token < g.token && w.revision > g.revision) this.fencingViolation(w, g);
  }

  private fencingViolation(w: OkWrite, g: TokenGrant): void {
    w.reported = true;
    this.report({
      type: 'violation',
      check: 'fencing',
      key: w.key,
      revision: w.revision,
      detail: `${w.holder}'s fenced write with token ${w.token} succeeded at revision ${w.revision}, after ${g.holder} was granted the lock at revision ${g.revision} with token ${g.token}`,
    });
  }
}
