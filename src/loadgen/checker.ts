// The live watch checker: the watch contract (./contract.ts) plus the bookkeeping that takes a suspected
// skip to etcd's record for a verdict: suspects past settle become pending questions, etcd's answers
// (a Range at that revision, or a replay of the run's prefix) confirm or clear them, and the end of the
// run settles what is still open.
import { firstAbove, inMurky } from './revisions.js';
import { decodeValue } from './value.js';
import type { PendingSkip, RecordAnswer, WatcherState } from './contract.js';
import { KvContract } from './kv-checks.js';

export {
  GAP,
  GARBLED,
  type CheckerOptions,
  type PendingSkip,
  type RecordAnswer,
  type WatcherState,
} from './contract.js';
export { VIOLATION_KINDS, type CheckerFindings, type Violation, type ViolationKind } from './verdict.js';
export type { PutRecord, PutState } from './ledger.js';

/** how long a revision is kept for a watcher that lags behind it, at least */
const RETAIN_MS = 60_000;

export class Checker extends KvContract {
  /** Moves suspects older than settle (all when `final`) to the skips awaiting etcd's record. */
  sweep(now: number, final = false): void {
    const settle = this.opts.settleMs;
    if (final) this.closeLastRevisions(now);
    for (const w of this.watchers) {
      for (const [sid, s] of w.suspects) {
        if (final || now - s.since >= settle) {
          const rev = s.rev;
          w.suspects.delete(sid);
          w.missing.set(sid, { rev, key: s.key, at: now, resume: s.resume });
          const id = `${s.key}:${rev}`;
          let p = this.pending.get(id);
          if (!p) this.pending.set(id, (p = { key: s.key, rev, watchers: new Set(), since: now, asked: false }));
          p.watchers.add(w);
        }
      }
    }
    this.ledger.forEachEntry((e) => {
      if (!e.checked && now - e.knownAt >= settle) e.checked = true;
    });
    this.prune(now);
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
    const e = this.ledger.entry(rev, key);
    if (e) this.forget(e);
  }

  /**
   * A skip etcd's record confirms: etcd's violation (resumable when it was the first event a resume
   * owed), unless the watcher passed it on a possibly garbled stream.
   */
  private judgeSkip(w: WatcherState, key: number, rev: number, detail: string, resume = false): void {
    if (inMurky(w.murky, rev)) this.findings.unverifiedSkips++;
    else if (resume || w.missing.get(this.sid(rev, key))?.resume)
      this.report('resumable', w, key, rev, `${detail} (the first event owed after a resume)`);
    else this.report('reliable', w, key, rev, detail);
  }

  /**
   * One event of etcd's own history of the run (the replays, in revision order). Settles the
   * indeterminate put it carries, and confirms skips at that revision. An event that is not one of this
   * run's puts on its key (a key or value this run never wrote) may have been garbled on its way here by
   * an injected fault: unless `trusted` (read the same twice), it changes nothing and answers false, and
   * the replay re-reads that revision before it goes past it. Trusted, it is what etcd stores.
   */
  replayEvent(key: number, rev: number, value: Uint8Array, now: number, trusted = false): boolean {
    const info = decodeValue(value, this.runIdBytes);
    const rec = info ? this.ledger.puts.get(info.seq) : undefined;
    if (!trusted && (!rec || rec.key !== key || (rec.revision !== 0 && rec.revision !== rev))) return false;
    const id = `${key}:${rev}`;
    if (this.pending.has(id)) this.recordSays(key, rev, 'on-key');
    if (!rec || rec.state !== 'indeterminate') return true;
    if (rec.key !== key) {
      // read the same twice: etcd stores this run's put under a key an injected fault garbled on its way
      // in. It was applied (not on its own key, so nothing is learnt there): a corrupted write.
      this.ledger.settle(rec, true, now);
      if (!this.corruptedRevs.has(rev)) {
        this.corruptedRevs.add(rev);
        this.findings.corruptedWrites++;
      }
      return true;
    }
    rec.revision = rev;
    this.ledger.settle(rec, true, now);
    this.learn(rev, rec, now);
    // etcd has it and watchers are past it: they skipped it (the record itself confirms it)
    const sid = this.sid(rev, key);
    for (const w of this.keyWatchers[key]) {
      const s = w.suspects.get(sid);
      if (s && w.suspects.delete(sid))
        this.judgeSkip(
          w,
          key,
          rev,
          `skipped: etcd's history has revision ${rev} (an indeterminate put) on this key, the watch moved past it`,
          s.resume,
        );
    }
    return true;
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
    for (const rec of this.ledger.puts.values()) if (rec.state === 'indeterminate') this.ledger.settle(rec, false, now);
  }

  /**
   * Forgets what can no longer matter: revisions every watcher of their key has passed (or, for a
   * watcher that lags far behind, older than the retention limit: counted as unchecked), and settled
   * puts older than 3 × settle.
   */
  private prune(now: number): void {
    const ledger = this.ledger;
    const horizon = now - 3 * this.opts.settleMs;
    const limit = now - Math.max(RETAIN_MS, 12 * this.opts.settleMs);
    const minSeen = this.keyWatchers.map((ws, k) =>
      ws.reduce((m, w) => Math.min(m, w.lastOnKey[w.prefix ? k : 0]), Infinity),
    );
    ledger.forEachEntry((e) => {
      const rev = e.rev;
      if (!e.checked || e.knownAt > horizon) return;
      // keep the newest revision of each key: it is where a lagging watcher is compared at the end
      const list = ledger.byKey[e.key];
      if (list[list.length - 1] === rev) return;
      if (rev > minSeen[e.key]) {
        if (e.knownAt > limit) return;
        for (const w of this.keyWatchers[e.key])
          if (rev >= w.startRev && w.lastOnKey[w.prefix ? e.key : 0] < rev) this.findings.unchecked++;
      }
      ledger.retire(e);
    });
    ledger.prunePuts(horizon);
    for (const w of this.watchers)
      for (const [sid, m] of w.missing)
        if (m.at < horizon && !this.pending.has(`${m.key}:${m.rev}`)) w.missing.delete(sid);
  }

  /** Members' HashKV at one revision differ: etcd's stored key spaces disagree. */
  hashKvDiffers(revision: number, members: { endpoint: string; hash?: number; compactRevision?: number }[]): void {
    const hashes = members
      .filter((m) => m.hash !== undefined)
      .map((m) => `${m.endpoint} ${m.hash} (compacted at ${m.compactRevision})`)
      .join(', ');
    this.report('hashkv', undefined, -1, revision, `HashKV at revision ${revision} differs: ${hashes}`);
  }

  /** Whether the end of the run needs etcd's record: an indeterminate put or a skip is still open. */
  hasOpenQuestions(): boolean {
    return this.pending.size > 0 || this.indeterminateCount() > 0;
  }

  /** puts still indeterminate (not seen, not yet settled by a replay) */
  indeterminateCount(): number {
    return this.ledger.indeterminateCount;
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

  /**
   * The age (ms, from its put's scheduled instant) of the oldest revision known to the run that a watcher
   * has not processed yet (0: every watcher is through every known revision). The run's watch lag: etcd's
   * commit and delivery and the generator's own backlog together (the caller tells the generator's apart
   * by the bytes waiting unread). Not from when the run learned it: an ack waits in the same backlog.
   */
  oldestUnprocessedAge(now: number): number {
    const ledger = this.ledger;
    const minOnKey = new Float64Array(this.keyWatchers.length).fill(Infinity);
    let minPrefix = Infinity;
    for (const w of this.watchers) {
      if (w.prefix) {
        if (w.lastRev < minPrefix) minPrefix = w.lastRev;
      } else if (w.lastOnKey[0] < minOnKey[w.keys[0]]) minOnKey[w.keys[0]] = w.lastOnKey[0];
    }
    let oldest = Infinity;
    const firstAfter = (list: number[], seen: number, key: number | undefined) => {
      if (!list.length || list[list.length - 1] <= seen) return;
      const rev = list[firstAbove(list, seen)];
      const e = key === undefined ? ledger.revs.get(rev) : ledger.entry(rev, key);
      if (e && e.due < oldest) oldest = e.due;
    };
    for (let k = 0; k < minOnKey.length; k++) if (minOnKey[k] !== Infinity) firstAfter(ledger.byKey[k], minOnKey[k], k);
    if (minPrefix !== Infinity) firstAfter(ledger.all, minPrefix, undefined);
    return oldest === Infinity ? 0 : Math.max(0, now - oldest);
  }

  /** true while something could still change a verdict (for a clean stop). */
  outstanding(): boolean {
    if (this.ledger.anyInFlight()) return true;
    for (const w of this.watchers) if (w.suspects.size) return true;
    // a watcher behind the last known revision of one of its keys may still catch up
    for (let k = 0; k < this.keyWatchers.length; k++) {
      const last = this.lastKnownOnKey(k);
      for (const w of this.keyWatchers[k]) if (last >= w.startRev && w.lastOnKey[w.prefix ? k : 0] < last) return true;
    }
    return false;
  }
}
