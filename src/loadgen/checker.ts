// The live watch checker. It keeps one ledger of the run's puts (by sequence and by revision, and per
// key sorted by revision) and, per watcher, only the last revision seen (per key), so checking an event
// costs a couple of map lookups even with a thousand watchers.
//
// etcd's violations, each reported exactly once:
// - ordered: an event at or below the watch's last revision that was skipped over before (a reorder)
// - unique: an event at or below the last revision that was already delivered (a duplicate)
// - reliable: a skip confirmed by etcd's record. Watches are ordered, so when an event at r arrives,
//   every known put on that key between the last one seen and r was skipped: a suspect. A suspect that
//   does not arrive within `settle` is checked against etcd's own history (`recordSays`, from a Range at
//   that revision or the end-of-run replay): a violation only when etcd has that event on that key.
// - unexpected: an event nobody in this run wrote (or a run put at a second revision)
// Lateness is not a violation (etcd promises no delivery time): events that arrive more than `settle`
// after their put was known are counted as late. Puts that failed or timed out are indeterminate until
// seen (applied) or settled by etcd's record at the end (`finish`).
// When the transport may have been garbled by an injected drop/corrupt fault (`transitSuspect`), an
// anomalous event is handed back as GARBLED instead of being reported; the caller resets the stream.
import { decodeValue } from './value.js';

export type ViolationKind = 'ordered' | 'unique' | 'reliable' | 'unexpected';
export const VIOLATION_KINDS: readonly ViolationKind[] = ['ordered', 'unique', 'reliable', 'unexpected'];

export interface Violation {
  kind: ViolationKind;
  key: string;
  revision: number;
  watcher: number;
  connection: number;
  detail: string;
}

/** Findings that are not etcd's: the generator's own trouble or the effect of an injected fault. */
export interface CheckerFindings {
  /** events delivered more than `settle` after their put was known (a latency finding) */
  late: number;
  /** the largest such delay in ms */
  maxLateMs: number;
  /** suspected skips whose revision holds no event on that key in etcd's history (a garbled ack) */
  falseSkips: number;
  /** suspected skips that could not be checked against etcd's history (compacted or unreachable) */
  unverifiedSkips: number;
  /** revisions whose value etcd stores garbled: writes corrupted by an injected fault on their way in */
  corruptedWrites: number;
  /** (watcher, revision) pairs forgotten before a far-behind watcher reached them: not checked */
  unchecked: number;
}

/** how long a revision is kept for a watcher that lags behind it, at least */
const RETAIN_MS = 60_000;

export type PutState = 'inflight' | 'acked' | 'indeterminate' | 'applied' | 'not_applied';

export interface PutRecord {
  seq: number;
  key: number;
  due: number;
  state: PutState;
  revision: number;
  /** when the put was known to be applied or became indeterminate (monotonic ms) */
  since: number;
}

interface RevEntry {
  rev: number;
  key: number;
  due: number;
  knownAt: number;
  checked: boolean;
}

export interface WatcherState {
  id: number;
  connection: number;
  /** watched key indexes; a prefix watcher watches them all */
  keys: number[];
  prefix: boolean;
  startRev: number;
  lastRev: number;
  /** last revision seen per watched key slot (slot = key index for prefix watchers, else 0) */
  lastOnKey: Float64Array;
  suspects: Map<number, { key: number; since: number }>;
  /**
   * revision spans [from, to] the watcher moved past while a drop/corrupt fault may have garbled its
   * stream: a skip found there later (a revision learned only afterwards) may be the transport's
   */
  murky: number[];
  /** revisions handed to etcd's record for a verdict (a late arrival is then a reorder): rev → key, since */
  missing: Map<number, { key: number; at: number }>;
  events: number;
}

/** A suspected skip waiting for etcd's record: one entry per (key, revision), every watcher that skipped it. */
export interface PendingSkip {
  key: number;
  rev: number;
  watchers: Set<WatcherState>;
  since: number;
  asked: boolean;
}

/** What etcd's history holds at a revision for a key. */
export type RecordAnswer = 'on-key' | 'not-on-key' | 'unavailable';

export interface CheckerOptions {
  runId: string;
  keys: string[];
  settleMs: number;
  onViolation: (v: Violation) => void;
  onSettled?: (put: PutRecord, applied: boolean) => void;
}

/** onEvent's answer when an anomalous event may be the transport's: nothing was recorded, reset the stream. */
export const GARBLED = -1;
/**
 * onEvent's answer when an event skips known revisions while the transport may have lost or misrouted
 * bytes: nothing was recorded; a fresh stream from the watcher's last revision + 1 may fill the gap
 * (then it was not etcd's). The same gap again on a fresh stream is checked as usual.
 */
export const GAP = -2;

export class Checker {
  readonly puts = new Map<number, PutRecord>();
  private readonly revs = new Map<number, RevEntry>();
  /** per key: revisions in increasing order (mostly appended) */
  private readonly byKey: number[][];
  /** every known revision, in increasing order (prefix watchers are ordered across all their keys) */
  private readonly all: number[] = [];
  private readonly keyWatchers: WatcherState[][];
  readonly watchers: WatcherState[] = [];
  private readonly unexpectedRevs = new Set<number>();
  private readonly corruptedRevs = new Set<number>();
  /** per key: the highest revision any watcher has seen (to spot watchers that skipped a late-learned put) */
  private readonly keyMaxSeen: Float64Array;
  private readonly runIdBytes: Uint8Array;
  /** suspected skips past settle, waiting for etcd's record; key `${key}:${rev}` */
  readonly pending = new Map<string, PendingSkip>();
  /** highest revision known to this run (acked or seen) */
  maxKnownRev = 0;
  /** puts in state 'indeterminate' (the periodic replay asks every tick: a count, not a scan) */
  private open = 0;
  readonly violations: Record<ViolationKind, number> = { ordered: 0, unique: 0, reliable: 0, unexpected: 0 };
  readonly findings: CheckerFindings = {
    late: 0,
    maxLateMs: 0,
    falseSkips: 0,
    unverifiedSkips: 0,
    corruptedWrites: 0,
    unchecked: 0,
  };

  constructor(private readonly opts: CheckerOptions) {
    this.runIdBytes = Buffer.from(opts.runId, 'latin1');
    this.byKey = opts.keys.map(() => []);
    this.keyWatchers = opts.keys.map(() => []);
    this.keyMaxSeen = new Float64Array(opts.keys.length);
  }

  get totalViolations(): number {
    const v = this.violations;
    return v.ordered + v.unique + v.reliable + v.unexpected;
  }

  private report(
    kind: ViolationKind,
    w: WatcherState | undefined,
    key: number,
    revision: number,
    detail: string,
  ): void {
    this.violations[kind]++;
    this.opts.onViolation({
      kind,
      key: this.opts.keys[key] ?? `#${key}`,
      revision,
      watcher: w?.id ?? -1,
      connection: w?.connection ?? -1,
      detail,
    });
  }

  registerPut(seq: number, key: number, due: number): PutRecord {
    const rec: PutRecord = { seq, key, due, state: 'inflight', revision: 0, since: 0 };
    this.puts.set(seq, rec);
    return rec;
  }

  /** The put was acknowledged at `revision`. */
  ack(seq: number, revision: number, now: number): void {
    const rec = this.puts.get(seq);
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
    rec.state = 'acked';
    rec.revision = revision;
    rec.since = now;
    this.learn(revision, rec, now);
  }

  /** The put failed or timed out: its fate is settled by observation or by etcd's record. */
  indeterminate(seq: number, now: number): void {
    const rec = this.puts.get(seq);
    if (!rec) return;
    if (rec.revision) {
      // already seen by a watcher before the error came back
      this.settle(rec, true, now);
      return;
    }
    rec.state = 'indeterminate';
    rec.since = now;
    this.open++;
  }

  /** An indeterminate (or just failed) put's final state, told once. */
  private settle(rec: PutRecord, applied: boolean, now: number): void {
    if (rec.state === 'indeterminate') this.open--;
    rec.state = applied ? 'applied' : 'not_applied';
    rec.since = now;
    this.opts.onSettled?.(rec, applied);
  }

  /** The put was never sent (no connection): it cannot have been applied. */
  notSent(seq: number): void {
    this.puts.delete(seq);
  }

  private learn(rev: number, rec: PutRecord, now: number): RevEntry {
    let e = this.revs.get(rev);
    if (e) return e;
    e = { rev, key: rec.key, due: rec.due, knownAt: now, checked: false };
    this.revs.set(rev, e);
    if (rev > this.maxKnownRev) this.maxKnownRev = rev;
    insertSorted(this.byKey[rec.key], rev);
    insertSorted(this.all, rev);
    // a watcher already past this revision never delivered it (it would have been learned then)
    if (this.keyMaxSeen[rec.key] > rev) {
      for (const w of this.keyWatchers[rec.key]) {
        if (rev >= w.startRev && w.lastOnKey[w.prefix ? rec.key : 0] > rev && !w.missing.has(rev))
          w.suspects.set(rev, { key: rec.key, since: now });
      }
    }
    return e;
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
      events: 0,
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
    let e = this.revs.get(rev);
    if (!e || e.key !== key) {
      const info = decodeValue(value, this.runIdBytes);
      const rec = info ? this.puts.get(info.seq) : undefined;
      if (!rec || rec.key !== key || (rec.revision && rec.revision !== rev)) {
        if (transitSuspect) return GARBLED;
        w.events++;
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
        if (rev > w.lastRev) w.lastRev = rev;
        return undefined;
      }
      rec.revision = rev;
      if (rec.state === 'indeterminate') this.settle(rec, true, now);
      e = this.learn(rev, rec, now);
    } else if (transitSuspect && !this.valueMatches(value, e)) {
      return GARBLED;
    }
    const slot = w.prefix ? key : 0;
    if (rev <= w.lastRev) {
      if (transitSuspect) return GARBLED;
      w.events++;
      if (w.suspects.delete(rev)) this.report('ordered', w, key, rev, `revision ${rev} arrived after ${w.lastRev}`);
      else if (w.missing.delete(rev)) {
        this.unpend(w, key, rev);
        this.report('ordered', w, key, rev, `revision ${rev} arrived after ${w.lastRev}, more than settle late`);
      } else if (rev < w.startRev)
        this.report('ordered', w, key, rev, `revision ${rev} is before the watch start ${w.startRev}`);
      else this.report('unique', w, key, rev, `revision ${rev} delivered again (last ${w.lastRev})`);
      return undefined;
    }
    // in order: every known put on this key (any key of a prefix watch) between the last event seen
    // and this one was skipped
    const last = w.prefix ? w.lastRev : w.lastOnKey[slot];
    const list = w.prefix ? this.all : this.byKey[key];
    if (list.length && list[list.length - 1] > last) {
      const from = firstAbove(list, last);
      if (transitSuspect) {
        for (let i = from; i < list.length && list[i] < rev; i++)
          if (list[i] >= w.startRev && !w.missing.has(list[i])) return GAP;
      }
      for (let i = from; i < list.length && list[i] < rev; i++) {
        const r = list[i];
        if (r >= w.startRev && !w.missing.has(r))
          w.suspects.set(r, { key: w.prefix ? this.revs.get(r)!.key : key, since: now });
      }
    }
    w.events++;
    if (transitSuspect && rev > w.lastRev + 1) markMurky(w, w.lastRev + 1, rev - 1);
    w.lastRev = rev;
    w.lastOnKey[slot] = rev;
    if (rev > this.keyMaxSeen[key]) this.keyMaxSeen[key] = rev;
    if (rev > this.maxKnownRev) this.maxKnownRev = rev;
    const lag = now - e.knownAt;
    if (lag > this.opts.settleMs) {
      this.findings.late++;
      if (lag > this.findings.maxLateMs) this.findings.maxLateMs = Math.round(lag);
    }
    return e.due;
  }

  /** A known revision's event carries this run's value for that put (a cheap check of the sequence digits). */
  private valueMatches(value: Uint8Array, e: RevEntry): boolean {
    const info = decodeValue(value, this.runIdBytes);
    if (!info) return false;
    const rec = this.puts.get(info.seq);
    return !rec || (rec.key === e.key && rec.revision === e.rev);
  }

  /**
   * etcd stores this event garbled (it came back the same after a fresh stream): a write that an
   * injected fault corrupted on its way in. The watcher moves past it; counted, not a violation.
   */
  acceptCorrupted(w: WatcherState, key: number, rev: number): void {
    if (rev > w.lastRev + 1) markMurky(w, w.lastRev + 1, rev - 1);
    if (!this.corruptedRevs.has(rev)) {
      this.corruptedRevs.add(rev);
      this.findings.corruptedWrites++;
    }
    w.events++;
    if (rev > w.lastRev) {
      w.lastRev = rev;
      const slot = w.prefix ? key : 0;
      if (rev > w.lastOnKey[slot]) w.lastOnKey[slot] = rev;
    }
  }

  /** Watch resumed or restarted: events at or below lastRev are not expected again. */
  compacted(w: WatcherState, compactRev: number): void {
    // history below compactRev is gone: nothing there can be delivered any more
    if (compactRev - 1 > w.lastRev) w.lastRev = compactRev - 1;
    for (let s = 0; s < w.lastOnKey.length; s++) if (w.lastOnKey[s] < compactRev - 1) w.lastOnKey[s] = compactRev - 1;
  }

  /** Moves suspects older than settle (all when `final`) to the skips awaiting etcd's record. */
  sweep(now: number, final = false): void {
    const settle = this.opts.settleMs;
    for (const w of this.watchers) {
      for (const [rev, s] of w.suspects) {
        if (final || now - s.since >= settle) {
          w.suspects.delete(rev);
          w.missing.set(rev, { key: s.key, at: now });
          const id = `${s.key}:${rev}`;
          let p = this.pending.get(id);
          if (!p) this.pending.set(id, (p = { key: s.key, rev, watchers: new Set(), since: now, asked: false }));
          p.watchers.add(w);
        }
      }
    }
    for (const e of this.revs.values()) if (!e.checked && now - e.knownAt >= settle) e.checked = true;
    this.prune(now);
  }

  private unpend(w: WatcherState, key: number, rev: number): void {
    const id = `${key}:${rev}`;
    const p = this.pending.get(id);
    if (!p) return;
    p.watchers.delete(w);
    if (!p.watchers.size) this.pending.delete(id);
  }

  /** Skips that wait for etcd's record and were not asked about yet (marks them asked). */
  takeQuestions(max = 100): PendingSkip[] {
    const out: PendingSkip[] = [];
    for (const p of this.pending.values()) {
      if (p.asked) continue;
      p.asked = true;
      out.push(p);
      if (out.length >= max) break;
    }
    return out;
  }

  /** etcd's history answered for a suspected skip. 'unavailable' asks again later (or at `finish`). */
  recordSays(key: number, rev: number, answer: RecordAnswer): void {
    const id = `${key}:${rev}`;
    const p = this.pending.get(id);
    if (!p) return;
    if (answer === 'unavailable') {
      p.asked = false;
      return;
    }
    this.pending.delete(id);
    if (answer === 'on-key') {
      for (const w of p.watchers)
        this.judgeSkip(w, key, rev, `skipped: etcd's history has revision ${rev} on this key, the watch moved past it`);
      return;
    }
    // the revision we believed a put on this key is not one: the acknowledgement was wrong
    this.findings.falseSkips += p.watchers.size;
    this.forget(rev);
  }

  /** A skip etcd's record confirms: etcd's violation, unless the watcher passed it on a possibly garbled stream. */
  private judgeSkip(w: WatcherState, key: number, rev: number, detail: string): void {
    if (inMurky(w, rev)) this.findings.unverifiedSkips++;
    else this.report('reliable', w, key, rev, detail);
  }

  /** Drops a revision believed to be on a key that etcd's record does not have there. */
  private forget(rev: number): void {
    const e = this.revs.get(rev);
    if (!e) return;
    this.drop(e);
  }

  private drop(e: RevEntry): void {
    this.revs.delete(e.rev);
    removeSorted(this.byKey[e.key], e.rev);
    removeSorted(this.all, e.rev);
  }

  /**
   * One event of etcd's own history of the run (the end-of-run replay, in revision order). Settles the
   * indeterminate put it carries, and confirms skips at that revision.
   */
  replayEvent(key: number, rev: number, value: Uint8Array, now: number): void {
    const id = `${key}:${rev}`;
    if (this.pending.has(id)) this.recordSays(key, rev, 'on-key');
    if (key < 0) return;
    const info = decodeValue(value, this.runIdBytes);
    const rec = info ? this.puts.get(info.seq) : undefined;
    if (!rec || rec.key !== key || rec.state !== 'indeterminate') return;
    rec.revision = rev;
    this.settle(rec, true, now);
    this.learn(rev, rec, now);
    // etcd has it and watchers are past it: they skipped it (the record itself confirms it)
    for (const w of this.keyWatchers[key]) {
      if (w.suspects.delete(rev))
        this.judgeSkip(
          w,
          key,
          rev,
          `skipped: etcd's history has revision ${rev} (an indeterminate put) on this key, the watch moved past it`,
        );
    }
  }

  /**
   * The end of the run: after the last replay (of revisions `replayedFrom`..`replayedTo`; `replayedTo`
   * 0 when etcd's record could not be read), remaining indeterminate puts are not applied, and the skips
   * still open are settled: not on the key when that replay read their revision, else unverified.
   */
  finish(now: number, replayedTo: number, replayedFrom = 0): void {
    this.sweep(now, true);
    for (const p of [...this.pending.values()]) {
      if (replayedTo >= p.rev && p.rev >= replayedFrom) this.recordSays(p.key, p.rev, 'not-on-key');
      else {
        this.pending.delete(`${p.key}:${p.rev}`);
        this.findings.unverifiedSkips += p.watchers.size;
      }
    }
    // without etcd's record nothing says they were not applied: they stay indeterminate (unsettled)
    if (!replayedTo) return;
    for (const rec of this.puts.values()) if (rec.state === 'indeterminate') this.settle(rec, false, now);
  }

  /** Whether the end of the run needs etcd's record: an indeterminate put or a skip is still open. */
  hasOpenQuestions(): boolean {
    return this.pending.size > 0 || this.indeterminateCount() > 0;
  }

  /** puts still indeterminate (not seen, not yet settled by a replay) */
  indeterminateCount(): number {
    return this.open;
  }

  /** Watchers behind the last revision of their keys (as etcd's record or the acks know it). */
  behind(
    lastOnKey: (key: number) => number,
  ): { watcher: number; connection: number; key: string; seen: number; last: number }[] {
    const out = [];
    for (const w of this.watchers) {
      for (const k of w.keys) {
        const last = lastOnKey(k);
        const seen = w.lastOnKey[w.prefix ? k : 0];
        if (last >= w.startRev && seen < last) {
          out.push({ watcher: w.id, connection: w.connection, key: this.opts.keys[k], seen, last });
          break;
        }
      }
    }
    return out;
  }

  /** highest known revision of a key's puts (0 when none) */
  lastKnownOnKey(key: number): number {
    const list = this.byKey[key];
    return list.length ? list[list.length - 1] : 0;
  }

  /**
   * Forgets what can no longer matter: revisions every watcher of their key has passed (or, for a
   * watcher that lags far behind, older than the retention limit: counted as unchecked), and settled
   * puts older than 3 × settle.
   */
  private prune(now: number): void {
    const horizon = now - 3 * this.opts.settleMs;
    const limit = now - Math.max(RETAIN_MS, 12 * this.opts.settleMs);
    const minSeen = this.keyWatchers.map((ws, k) =>
      ws.reduce((m, w) => Math.min(m, w.lastOnKey[w.prefix ? k : 0]), Infinity),
    );
    for (const [rev, e] of this.revs) {
      if (!e.checked || e.knownAt > horizon) continue;
      // keep the newest revision of each key: it is where a lagging watcher is compared at the end
      const list = this.byKey[e.key];
      if (list[list.length - 1] === rev) continue;
      if (rev > minSeen[e.key]) {
        if (e.knownAt > limit) continue;
        for (const w of this.keyWatchers[e.key])
          if (rev >= w.startRev && w.lastOnKey[w.prefix ? e.key : 0] < rev) this.findings.unchecked++;
      }
      this.drop(e);
    }
    for (const [seq, rec] of this.puts) {
      if (
        (rec.state === 'acked' || rec.state === 'applied' || rec.state === 'not_applied') &&
        rec.since < horizon &&
        !this.revs.has(rec.revision)
      ) {
        this.puts.delete(seq);
      }
    }
    for (const w of this.watchers)
      for (const [rev, m] of w.missing)
        if (m.at < horizon && !this.pending.has(`${m.key}:${rev}`)) w.missing.delete(rev);
  }

  /** true while something could still change a verdict (for a clean stop). */
  outstanding(): boolean {
    for (const rec of this.puts.values()) if (rec.state === 'inflight') return true;
    for (const w of this.watchers) if (w.suspects.size) return true;
    // a watcher behind the last known revision of one of its keys may still catch up
    for (let k = 0; k < this.byKey.length; k++) {
      const last = this.lastKnownOnKey(k);
      for (const w of this.keyWatchers[k]) if (last >= w.startRev && w.lastOnKey[w.prefix ? k : 0] < last) return true;
    }
    return false;
  }
}

/** at most this many murky spans per watcher (the oldest go first: a bounded memory under long faults) */
const MAX_MURKY = 2000;

function markMurky(w: WatcherState, from: number, to: number): void {
  const m = w.murky;
  // spans arrive in increasing order: extend the last one when they touch
  if (m.length && m[m.length - 1] >= from - 1) m[m.length - 1] = Math.max(m[m.length - 1], to);
  else m.push(from, to);
  if (m.length > MAX_MURKY * 2) m.splice(0, 2);
}

function inMurky(w: WatcherState, rev: number): boolean {
  const m = w.murky;
  for (let i = m.length - 2; i >= 0; i -= 2) {
    if (rev > m[i + 1]) return false;
    if (rev >= m[i]) return true;
  }
  return false;
}

function insertSorted(list: number[], x: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1] > x) i--;
  list.splice(i, 0, x);
}

function removeSorted(list: number[], x: number): void {
  const i = firstAbove(list, x) - 1;
  if (i >= 0 && list[i] === x) list.splice(i, 1);
}

/** index of the first element of a sorted list greater than x */
function firstAbove(list: number[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
