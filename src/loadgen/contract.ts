// The watch contract, judged event by event. What a watcher should have seen comes from the run's
// ledger of puts (./ledger.ts); per watcher only the last revision seen (per key) is kept, so checking
// an event costs a couple of map lookups even with a thousand watchers.
//
// etcd's violations, each reported exactly once:
// - ordered: an event at or below the watch's last revision that was skipped over before (a reorder)
// - unique: an event at or below the last revision that was already delivered (a duplicate)
// - reliable: a skip confirmed by etcd's record. Watches are ordered, so when an event at r arrives,
//   every known put on that key between the last one seen and r was skipped: a suspect. A suspect that
//   does not arrive within `settle` goes to etcd's own history (./checker.ts): a violation only when
//   etcd has that event on that key.
// - unexpected: an event nobody in this run wrote (or a run put at a second revision)
// Lateness is not a violation (etcd promises no delivery time): events that arrive more than `settle`
// after their put was known are counted as late.
// When the transport may have been garbled by an injected drop/corrupt fault (`transitSuspect`), an
// anomalous event is handed back as GARBLED instead of being reported; the caller resets the stream.
import { RunLedger, type PutRecord, type RevEntry } from './ledger.js';
import { firstAbove, markMurky } from './revisions.js';
import { decodeValue, valueSeq } from './value.js';
import {
  noViolations,
  violationTotal,
  type CheckerFindings,
  type ViolationCounts,
  type ViolationKind,
} from './verdict.js';
import {
  eventSeen,
  GAP,
  GARBLED,
  newSpan,
  owedFirst,
  retiredEvent,
  type CheckerOptions,
  type PendingSkip,
  type WatcherState,
} from './watcher-state.js';

export * from './watcher-state.js';

export abstract class WatchContract {
  readonly ledger: RunLedger;
  protected readonly keyWatchers: WatcherState[][];
  readonly watchers: WatcherState[] = [];
  private readonly unexpectedRevs = new Set<number>();
  protected readonly corruptedRevs = new Set<number>();
  /**
   * How far watchers have moved past revisions (to spot watchers that skipped a late-learned put): per
   * key for key watchers, one for all prefix watchers. A progress notification at R counts as R + 0.5:
   * past R itself.
   */
  protected readonly keyMaxSeen: Float64Array;
  protected prefixPassed = 0;
  protected readonly runIdBytes: Uint8Array;
  /** suspected skips past settle, waiting for etcd's record; key `${key}:${rev}` */
  readonly pending = new Map<string, PendingSkip>();
  readonly violations: ViolationCounts = noViolations();
  readonly findings: CheckerFindings = {
    late: 0,
    maxLateMs: 0,
    falseSkips: 0,
    unverifiedSkips: 0,
    corruptedWrites: 0,
    unchecked: 0,
  };

  constructor(protected readonly opts: CheckerOptions) {
    this.runIdBytes = Buffer.from(opts.runId, 'latin1');
    this.ledger = new RunLedger(opts.keys.length, (p, applied) => opts.onSettled?.(p, applied));
    this.keyWatchers = opts.keys.map(() => []);
    this.keyMaxSeen = new Float64Array(opts.keys.length);
  }

  /** a (revision, key) pair as one number: suspects and missing events are keyed by it */
  sid(rev: number, key: number): number {
    return rev * this.opts.keys.length + key;
  }

  get puts(): Map<number, PutRecord> {
    return this.ledger.puts;
  }

  /** highest revision known to this run (acked or seen) */
  get maxKnownRev(): number {
    return this.ledger.maxKnownRev;
  }

  set maxKnownRev(rev: number) {
    this.ledger.maxKnownRev = rev;
  }

  get totalViolations(): number {
    return violationTotal(this.violations);
  }

  protected report(
    kind: ViolationKind,
    w: WatcherState | undefined,
    key: number,
    revision: number,
    detail: string,
  ): void {
    this.violations[kind]++;
    this.opts.onViolation({
      kind,
      key: key < 0 ? '*' : (this.opts.keys[key] ?? `#${key}`),
      revision,
      watcher: w?.id ?? -1,
      connection: w?.connection ?? -1,
      detail,
    });
  }

  /** A put was sent (its due instant in monotonic ms). */
  registerPut(seq: number, key: number, due: number): PutRecord {
    return this.ledger.register(seq, key, due);
  }

  /** The put was acknowledged at `revision`. */
  ack(seq: number, revision: number, now: number): void {
    const rec = this.ledger.puts.get(seq);
    if (!rec) return;
    if (rec.revision && rec.revision !== revision) {
      this.report(
        'unexpected',
        undefined,
        rec.key,
        revision,
        `put ${seq} acknowledged at ${revision} but seen at ${rec.revision}`,
      );
    }
    // known from an event already (a late ack): its entry may be retired, relearning it makes false skips
    const known = rec.revision === revision;
    rec.state = 'acked';
    rec.revision = revision;
    rec.since = now;
    if (!known) this.learn(revision, rec, now);
  }

  /** The put failed or timed out: its fate is settled by observation or by etcd's record. */
  indeterminate(seq: number, now: number): void {
    this.ledger.indeterminate(seq, now);
  }

  /** The put was never sent (no connection): it cannot have been applied. */
  notSent(seq: number): void {
    this.ledger.notSent(seq);
  }

  /** `rev` holds `rec`'s put; `deliverer` is the watcher whose event says so (it did not skip it). */
  protected learn(rev: number, rec: PutRecord, now: number, deliverer?: WatcherState): RevEntry {
    const e = this.ledger.learn(rev, rec, now);
    if (!e) return this.ledger.entry(rev, rec.key)!;
    this.onLearn(rec.key, rev, rec.seq);
    // a watcher already past this revision never delivered it (it would have been learned then)
    if (this.keyMaxSeen[rec.key] > rev || this.prefixPassed >= rev) {
      const id = this.sid(rev, rec.key);
      for (const w of this.keyWatchers[rec.key]) {
        const past = w.prefix ? w.lastRev : w.lastOnKey[0];
        // a prefix watcher at this very revision without this key skipped it (responses are atomic),
        // unless it is the one delivering it now
        const passed =
          past > rev ||
          w.progressRev >= rev ||
          (w.prefix && past === rev && w.lastOnKey[rec.key] < rev && w !== deliverer);
        if (rev >= w.startRev && passed && !w.missing.has(id) && !w.suspects.has(id) && !w.strange?.has(rev))
          w.suspects.set(id, { rev, key: rec.key, since: now, resume: owedFirst(w, rev) });
      }
    }
    return e;
  }

  /** A revision on a key became known (acknowledged, seen or replayed): for the key-value checks. */
  protected onLearn(_key: number, _rev: number, _seq: number): void {}

  /** A revision believed on a key is not there after all (etcd's record says so): forget it everywhere. */
  protected forget(e: RevEntry): void {
    this.ledger.drop(e);
  }

  addWatcher(id: number, connection: number, keys: number[], prefix: boolean, startRev: number): WatcherState {
    const w: WatcherState = {
      id,
      connection,
      keys,
      prefix,
      startRev,
      lastRev: startRev - 1,
      lastOnKey: new Float64Array(prefix ? this.opts.keys.length : 1).fill(startRev - 1),
      suspects: new Map(),
      murky: [],
      missing: new Map(),
      progressRev: startRev - 1,
      strange: undefined,
      events: 0,
      watch: newSpan(startRev, false),
      pastWatches: [],
    };
    this.watchers.push(w);
    for (const k of keys) this.keyWatchers[k].push(w);
    return w;
  }

  /**
   * Checks one event. Returns the put's due time (for watch latency) when the event is one of this
   * run's puts delivered in order, GARBLED when it is anomalous and `transitSuspect` (nothing recorded),
   * else undefined.
   */
  onEvent(
    w: WatcherState,
    key: number,
    rev: number,
    value: Uint8Array,
    now: number,
    transitSuspect = false,
  ): number | undefined {
    const ledger = this.ledger;
    let e = ledger.entry(rev, key);
    /** the revision was known before this event (its value is then compared with the put's) */
    let known = true;
    if (!e) {
      known = false;
      const info = decodeValue(value, this.runIdBytes);
      const rec = info ? ledger.puts.get(info.seq) : undefined;
      // a revision the run retired (this watcher lagged far behind; counted unchecked): unjudged
      if (info && !transitSuspect && ledger.retiredPut(key, rev, rec)) return this.retired(w, key, rev);
      if (!rec || rec.key !== key || (rec.revision && rec.revision !== rev)) {
        if (transitSuspect) return GARBLED;
        w.events++;
        eventSeen(w, rev);
        if (!this.unexpectedRevs.has(rev)) {
          this.unexpectedRevs.add(rev);
          this.report(
            'unexpected',
            w,
            key,
            rev,
            info
              ? `value of put ${info.seq} that was not written to this key at this revision`
              : 'value not written by this run',
          );
        }
        // it came at this revision all the same: the watcher is past everything below it
        this.passed(w, key, rev);
        return undefined;
      }
      rec.revision = rev;
      if (rec.state === 'indeterminate') ledger.settle(rec, true, now);
      e = this.learn(rev, rec, now, w);
    } else if (transitSuspect && !this.valueMatches(value, e)) {
      return GARBLED;
    }
    const slot = w.prefix ? key : 0;
    const span = w.watch;
    // a prefix watcher gets every key of a multi-key revision (a Txn): another key at its last revision is in order
    const sameRev = w.prefix && rev === w.lastRev && w.lastOnKey[slot] < rev && rev > span.progress;
    if (rev <= w.lastRev && !sameRev) {
      if (transitSuspect) return GARBLED;
      w.events++;
      const id = this.sid(rev, key);
      const wasSuspect = w.suspects.delete(id);
      const wasMissing = !wasSuspect && w.missing.delete(id);
      if (wasMissing) this.unpend(w, key, rev);
      const first = span.first;
      const after = span.lastEvent;
      eventSeen(w, rev);
      if (first && span.resumed && rev < span.from) {
        span.flagged = true;
        this.report('resumable', w, key, rev, `the first event after a resume from ${span.from} is at ${rev}`);
      } else if (rev <= span.progress && (rev > after || (rev === after && (wasSuspect || wasMissing)))) {
        // one premature progress notification, however many events it claimed
        if (span.progressFlagged !== span.progress)
          this.report(
            'bookmarkable',
            w,
            key,
            rev,
            `event at ${rev} after a progress notification at ${span.progress} (events up to it were all sent)`,
          );
        span.progressFlagged = span.progress;
      } else if (wasSuspect) this.report('ordered', w, key, rev, `revision ${rev} arrived after ${w.lastRev}`);
      else if (wasMissing)
        this.report('ordered', w, key, rev, `revision ${rev} arrived after ${w.lastRev}, more than settle late`);
      else if (rev < w.startRev)
        this.report('ordered', w, key, rev, `revision ${rev} is before the watch start ${w.startRev}`);
      else this.report('unique', w, key, rev, `revision ${rev} delivered again (last ${w.lastRev})`);
      return undefined;
    }
    // a key of its last revision that came in a later response (atomic is reported below): delivered
    // after all, not a skip
    if (sameRev) {
      const id = this.sid(rev, key);
      if (!w.suspects.delete(id) && w.missing.delete(id)) this.unpend(w, key, rev);
    }
    if (span.newResponse && sameRev && rev === span.lastEvent)
      this.report('atomic', w, key, rev, `revision ${rev} split: this event came in a later response than its others`);
    // in order: every known put on this key (any key of a prefix watch) between the last event seen
    // and this one was skipped
    const last = w.prefix ? w.lastRev : w.lastOnKey[slot];
    const list = w.prefix ? ledger.all : ledger.byKey[key];
    if (!sameRev && list.length && list[list.length - 1] >= last) {
      const from = firstAbove(list, last - 1);
      if (transitSuspect) {
        for (let i = from; i < list.length && list[i] < rev; i++)
          if (list[i] >= w.startRev && this.unseenAt(w, list[i], last, key)) return GAP;
      }
      // after a resume, the first skipped revision is where the resume went wrong
      let resume = span.first && span.resumed && !span.flagged;
      for (let i = from; i < list.length && list[i] < rev; i++) {
        const r = list[i];
        if (r < w.startRev || w.strange?.has(r)) continue;
        if (w.prefix) {
          for (let x = ledger.revs.get(r); x; x = x.next) {
            if (r === last && w.lastOnKey[x.key] >= r) continue;
            const id = this.sid(r, x.key);
            if (w.missing.has(id) || w.suspects.has(id)) continue;
            // a key missing at the resumed watch's first revision is what it owed first, too
            const owed = r === last ? span.resumed && !span.flagged && span.firstEvent === r : resume;
            w.suspects.set(id, { rev: r, key: x.key, since: now, resume: owed });
            if (owed) span.flagged = true;
            resume = false;
          }
        } else if (r > last) {
          const id = this.sid(r, key);
          if (w.missing.has(id) || w.suspects.has(id)) continue;
          w.suspects.set(id, { rev: r, key, since: now, resume });
          if (resume) span.flagged = true;
          resume = false;
        }
      }
    }
    w.events++;
    eventSeen(w, rev);
    if (transitSuspect && rev > w.lastRev + 1) markMurky(w.murky, w.lastRev + 1, rev - 1);
    w.lastRev = rev;
    w.lastOnKey[slot] = rev;
    if (rev > this.keyMaxSeen[key]) this.keyMaxSeen[key] = rev;
    if (w.prefix && rev > this.prefixPassed) this.prefixPassed = rev;
    if (rev > ledger.maxKnownRev) ledger.maxKnownRev = rev;
    if (known && !transitSuspect && valueSeq(value, this.runIdBytes) !== e.seq && !this.corruptedRevs.has(rev)) {
      // the right revision on the right key, but not the value its put wrote there
      if (!this.unexpectedRevs.has(rev)) {
        this.unexpectedRevs.add(rev);
        const seq = valueSeq(value, this.runIdBytes);
        this.report(
          'unexpected',
          w,
          key,
          rev,
          seq >= 0 ? `value of put ${seq} at the revision of put ${e.seq}` : `a value put ${e.seq} did not write`,
        );
      }
      return undefined;
    }
    const lag = now - e.knownAt;
    if (lag > this.opts.settleMs) {
      this.findings.late++;
      if (lag > this.findings.maxLateMs) this.findings.maxLateMs = Math.round(lag);
    }
    return e.due;
  }

  /** Whether a known revision (at or after `last`) holds a key the watcher has not seen there. */
  private unseenAt(w: WatcherState, r: number, last: number, key: number): boolean {
    if (!w.prefix) return r > last && !w.missing.has(this.sid(r, key));
    for (let x = this.ledger.revs.get(r); x; x = x.next)
      if (!(r === last && w.lastOnKey[x.key] >= r) && !w.missing.has(this.sid(r, x.key))) return true;
    return false;
  }

  /** A known revision's event carries this run's value for that put (a cheap check of the sequence digits). */
  private valueMatches(value: Uint8Array, e: RevEntry): boolean {
    const info = decodeValue(value, this.runIdBytes);
    if (!info) return false;
    const rec = this.ledger.puts.get(info.seq);
    return !rec || (rec.key === e.key && rec.revision === e.rev);
  }

  /** An unexpected event at `rev`: the watcher moved past it all the same. */
  private passed(w: WatcherState, key: number, rev: number): void {
    // bounded: a stream of garbage must not grow it without end
    if (!w.strange || w.strange.size > 10_000) w.strange = new Set();
    w.strange.add(rev);
    if (rev > w.lastRev) w.lastRev = rev;
    if (w.prefix) {
      if (rev > this.prefixPassed) this.prefixPassed = rev;
    } else if (rev > w.lastOnKey[0]) {
      w.lastOnKey[0] = rev;
      if (rev > this.keyMaxSeen[key]) this.keyMaxSeen[key] = rev;
    }
  }

  /** An event at a retired revision: judged on nothing (counted unchecked), unless delivered again. */
  private retired(w: WatcherState, key: number, rev: number): undefined {
    const again = retiredEvent(w, key, rev);
    if (again !== undefined)
      this.report('unique', w, key, rev, `revision ${rev} delivered again (last ${again}; the run had retired it)`);
    if (rev > this.keyMaxSeen[key]) this.keyMaxSeen[key] = rev;
    if (w.prefix && rev > this.prefixPassed) this.prefixPassed = rev;
    return undefined;
  }

  protected unpend(w: WatcherState, key: number, rev: number): void {
    const id = `${key}:${rev}`;
    const p = this.pending.get(id);
    if (!p) return;
    p.watchers.delete(w);
    if (!p.watchers.size) this.pending.delete(id);
  }

  /** highest known revision of a key's puts (0 when none) */
  lastKnownOnKey(key: number): number {
    return this.ledger.lastOnKey(key);
  }
}
