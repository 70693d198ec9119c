// The live watch checker. It keeps one ledger of the run's puts (by sequence and by revision, and per
// key sorted by revision) and, per watcher, only the last revision seen (per key), so checking an event
// costs a couple of map lookups even with a thousand watchers.
//
// Verdicts, each reported exactly once:
// - ordered: an event at or below the watch's last revision that was skipped over before (a reorder)
// - unique: an event at or below the last revision that was already delivered (a duplicate)
// - reliable: an applied put on a watched key not delivered within `settle` (a gap: watches are
//   ordered, so an event at r proves every earlier put on that key not yet seen was skipped; it is a
//   suspect until `settle`, and a late arrival turns it into `ordered` instead)
// - unexpected: an event nobody in this run wrote (or a run put at a second revision)
// Puts that failed or timed out are indeterminate: applied when seen, not applied after `settle`.
import { decodeValue } from './value.js';

export type ViolationKind = 'ordered' | 'unique' | 'reliable' | 'unexpected';

export interface Violation {
  kind: ViolationKind;
  key: string;
  revision: number;
  watcher: number;
  connection: number;
  detail: string;
}

export type PutState = 'inflight' | 'acked' | 'indeterminate' | 'applied' | 'not_applied';

export interface PutRecord {
  seq: number;
  key: number;
  due: number;
  state: PutState;
  revision: number;
  /** when the put was known to be applied or became indeterminate (for settle deadlines) */
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
  /** revisions already reported missing (a late arrival is then not reported again) */
  missing: Map<number, number>;
  events: number;
}

export interface CheckerOptions {
  runId: string;
  keys: string[];
  settleMs: number;
  onViolation: (v: Violation) => void;
  onSettled?: (put: PutRecord, applied: boolean) => void;
}

export class Checker {
  readonly puts = new Map<number, PutRecord>();
  private readonly revs = new Map<number, RevEntry>();
  /** per key: revisions in increasing order (mostly appended) */
  private readonly byKey: number[][];
  private readonly keyWatchers: WatcherState[][];
  readonly watchers: WatcherState[] = [];
  private readonly unexpectedRevs = new Set<number>();
  /** per key: the highest revision any watcher has seen (to spot watchers that skipped a late-learned put) */
  private readonly keyMaxSeen: Float64Array;
  private readonly runIdBytes: Uint8Array;
  readonly violations: Record<ViolationKind, number> = { ordered: 0, unique: 0, reliable: 0, unexpected: 0 };

  constructor(private readonly opts: CheckerOptions) {
    this.runIdBytes = Buffer.from(opts.runId, 'latin1');
    this.byKey = opts.keys.map(() => []);
    this.keyWatchers = opts.keys.map(() => []);
    this.keyMaxSeen = new Float64Array(opts.keys.length);
  }

  private report(kind: ViolationKind, w: WatcherState | undefined, key: number, revision: number, detail: string): void {
    this.violations[kind]++;
    this.opts.onViolation({ kind, key: this.opts.keys[key] ?? `#${key}`, revision, watcher: w?.id ?? -1, connection: w?.connection ?? -1, detail });
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
      this.report('unexpected', undefined, rec.key, revision, `put ${seq} acknowledged at ${revision} but seen at ${rec.revision}`);
    }
    rec.state = 'acked';
    rec.revision = revision;
    rec.since = now;
    this.learn(revision, rec, now);
  }

  /** The put failed or timed out: its fate is settled by observation. */
  indeterminate(seq: number, now: number): void {
    const rec = this.puts.get(seq);
    if (!rec) return;
    if (rec.revision) {
      // already seen by a watcher before the error came back
      rec.state = 'applied';
      rec.since = now;
      this.opts.onSettled?.(rec, true);
      return;
    }
    rec.state = 'indeterminate';
    rec.since = now;
  }

  private learn(rev: number, rec: PutRecord, now: number): RevEntry {
    let e = this.revs.get(rev);
    if (e) return e;
    e = { rev, key: rec.key, due: rec.due, knownAt: now, checked: false };
    this.revs.set(rev, e);
    const list = this.byKey[rec.key];
    let i = list.length;
    while (i > 0 && list[i - 1] > rev) i--;
    list.splice(i, 0, rev);
    // a watcher already past this revision never delivered it (it would have been learned then)
    if (this.keyMaxSeen[rec.key] > rev) {
      for (const w of this.keyWatchers[rec.key]) {
        if (rev >= w.startRev && w.lastOnKey[w.prefix ? rec.key : 0] > rev && !w.missing.has(rev)) w.suspects.set(rev, { key: rec.key, since: now });
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
      missing: new Map(),
      events: 0,
    };
    this.watchers.push(w);
    for (const k of keys) this.keyWatchers[k].push(w);
    return w;
  }

  /**
   * Checks one event. Returns the put's due time (for watch latency) when the event is one of this
   * run's puts delivered in order, else undefined.
   */
  onEvent(w: WatcherState, key: number, rev: number, value: Uint8Array, now: number): number | undefined {
    w.events++;
    let e = this.revs.get(rev);
    if (!e || e.key !== key) {
      const info = decodeValue(value, this.runIdBytes);
      const rec = info ? this.puts.get(info.seq) : undefined;
      if (!rec || rec.key !== key || (rec.revision && rec.revision !== rev)) {
        if (!this.unexpectedRevs.has(rev)) {
          this.unexpectedRevs.add(rev);
          this.report('unexpected', w, key, rev, info ? `value of put ${info.seq} that was not written to this key at this revision` : 'value not written by this run');
        }
        if (rev > w.lastRev) w.lastRev = rev;
        return undefined;
      }
      rec.revision = rev;
      if (rec.state === 'indeterminate') {
        rec.state = 'applied';
        rec.since = now;
        this.opts.onSettled?.(rec, true);
      }
      e = this.learn(rev, rec, now);
    }
    const slot = w.prefix ? key : 0;
    if (rev <= w.lastRev) {
      if (w.suspects.delete(rev)) this.report('ordered', w, key, rev, `revision ${rev} arrived after ${w.lastRev}`);
      else if (w.missing.delete(rev)) {
        // already reported as not delivered within settle
      } else if (rev < w.startRev) this.report('ordered', w, key, rev, `revision ${rev} is before the watch start ${w.startRev}`);
      else this.report('unique', w, key, rev, `revision ${rev} delivered again (last ${w.lastRev})`);
      return undefined;
    }
    // in order: every known put on this key between the last one seen and this one was skipped
    const last = w.lastOnKey[slot];
    const list = this.byKey[key];
    if (list.length && list[list.length - 1] > last) {
      for (let i = firstAbove(list, last); i < list.length && list[i] < rev; i++) {
        const r = list[i];
        if (r >= w.startRev && !w.missing.has(r)) w.suspects.set(r, { key, since: now });
      }
    }
    w.lastRev = rev;
    w.lastOnKey[slot] = rev;
    if (rev > this.keyMaxSeen[key]) this.keyMaxSeen[key] = rev;
    return e.due;
  }

  /** Watch resumed or restarted: events at or below lastRev are not expected again. */
  compacted(w: WatcherState, compactRev: number): void {
    // history below compactRev is gone: nothing there can be delivered any more
    if (compactRev - 1 > w.lastRev) w.lastRev = compactRev - 1;
    for (let s = 0; s < w.lastOnKey.length; s++) if (w.lastOnKey[s] < compactRev - 1) w.lastOnKey[s] = compactRev - 1;
  }

  /** Settles deadlines; call periodically. `final` treats every outstanding thing as past its deadline. */
  sweep(now: number, final = false): void {
    const settle = this.opts.settleMs;
    for (const w of this.watchers) {
      for (const [rev, s] of w.suspects) {
        if (final || now - s.since >= settle) {
          w.suspects.delete(rev);
          w.missing.set(rev, now);
          this.report('reliable', w, s.key, rev, `skipped: revision ${rev} never arrived (the watch moved past it)`);
        }
      }
    }
    // the slowest watcher per key: revisions at or below it were delivered to everybody
    const minSeen = this.keyWatchers.map((ws, k) => ws.reduce((m, w) => Math.min(m, w.lastOnKey[w.prefix ? k : 0]), Infinity));
    for (const e of this.revs.values()) {
      if (e.checked || (!final && now - e.knownAt < settle)) continue;
      e.checked = true;
      if (e.rev <= minSeen[e.key]) continue;
      for (const w of this.keyWatchers[e.key]) {
        if (e.rev < w.startRev) continue;
        const slot = w.prefix ? e.key : 0;
        if (w.lastOnKey[slot] < e.rev && !w.suspects.has(e.rev) && !w.missing.has(e.rev)) {
          w.missing.set(e.rev, now);
          this.report('reliable', w, e.key, e.rev, `not delivered within ${settle} ms`);
        }
      }
    }
    for (const rec of this.puts.values()) {
      if (rec.state === 'indeterminate' && (final || now - rec.since >= settle)) {
        rec.state = 'not_applied';
        this.opts.onSettled?.(rec, false);
      }
    }
    this.prune(now);
  }

  /** Forgets what can no longer matter: checked revisions and settled puts older than 3 × settle. */
  private prune(now: number): void {
    const horizon = now - 3 * this.opts.settleMs;
    for (const [rev, e] of this.revs) {
      if (!e.checked || e.knownAt > horizon) continue;
      this.revs.delete(rev);
      const list = this.byKey[e.key];
      const i = list.indexOf(rev);
      if (i >= 0) list.splice(i, 1);
    }
    for (const [seq, rec] of this.puts) {
      if ((rec.state === 'acked' || rec.state === 'applied' || rec.state === 'not_applied') && rec.since < horizon && !this.revs.has(rec.revision)) {
        this.puts.delete(seq);
      }
    }
    for (const w of this.watchers) for (const [rev, at] of w.missing) if (at < horizon) w.missing.delete(rev);
  }

  /** true while something could still change a verdict (for a clean stop). */
  outstanding(): boolean {
    for (const rec of this.puts.values()) if (rec.state === 'inflight' || rec.state === 'indeterminate') return true;
    for (const w of this.watchers) if (w.suspects.size) return true;
    for (const e of this.revs.values()) {
      if (e.checked) continue;
      for (const w of this.keyWatchers[e.key]) if (e.rev >= w.startRev && w.lastOnKey[w.prefix ? e.key : 0] < e.rev) return true;
    }
    return false;
  }
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
